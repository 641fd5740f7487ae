"""Live crawls stay out of internal networks: the address policy, the resolver and the middleware, in this process.

tests/test_limits.py crawls a real loopback site through the CLI to show the same refusals end to end.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Coroutine, Iterator
from typing import Any

import pytest
from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.http import Response
from scrapy.resolver import dnscache
from twisted.internet.error import DNSLookupError

from archive.crawl.netguard import AddressPolicy, BlockedAddress, GuardedResolver, PrivateAddressMiddleware

MakeCrawler = Callable[..., Crawler]
RunAsync = Callable[[Coroutine[Any, Any, Any]], Any]
PROXY_VARIABLES = ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy", "ALL_PROXY")
HINT = "crawls reach only public addresses unless --allow-network allows it"


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("10.1.2.3", "private"),
        ("172.16.0.1", "private"),
        ("192.168.1.1", "private"),
        ("127.0.0.1", "loopback"),
        ("169.254.169.254", "link-local"),
        ("0.0.0.0", "unspecified"),
        ("100.64.0.1", "reserved"),
        ("224.0.0.1", "multicast"),
        ("::1", "loopback"),
        ("fe80::1", "link-local"),
        ("fc00::1", "private"),
        ("::ffff:10.0.0.1", "private"),
        ("::ffff:127.0.0.1", "loopback"),
    ],
)
def test_the_address_policy_names_each_kind_of_internal_address(address: str, kind: str) -> None:
    assert AddressPolicy().refusal(address) == f"{address.removeprefix('::ffff:')} is a {kind} address"


# Each IPv6 spelling that carries an IPv4 address, and the verdict worked out by hand from its bits.
EMBEDDINGS = [
    # 6to4, 2002:AABB:CCDD::/48 carries AA.BB.CC.DD
    ("2002:7f00:1::1", "2002:7f00:1::1 is a 6to4 address of 127.0.0.1, a loopback address"),
    ("2002:a00:1::1", "2002:a00:1::1 is a 6to4 address of 10.0.0.1, a private address"),
    ("2002:a9fe:a9fe::", "2002:a9fe:a9fe:: is a 6to4 address of 169.254.169.254, a link-local address"),
    ("2002:5db8:d822::1", None),  # 93.184.216.34: a public relay address
    # Teredo 2001:0:SERVER:FLAGS:PORT:CLIENT, the client stored XOR 0xffffffff: 80ff:fffe -> 7f00:0001
    (
        "2001:0:4136:e378:8000:63bf:80ff:fffe",
        "2001:0:4136:e378:8000:63bf:80ff:fffe is a Teredo address of 127.0.0.1, a loopback address",
    ),
    (
        "2001:0:4136:e378:8000:63bf:f5ff:fffe",  # f5ff:fffe -> 0a00:0001
        "2001:0:4136:e378:8000:63bf:f5ff:fffe is a Teredo address of 10.0.0.1, a private address",
    ),
    (
        "2001:0:a00:1:8000:63bf:a247:27dd",  # the server field 0a00:0001 is 10.0.0.1 too (client 93.184.216.34)
        "2001:0:a00:1:8000:63bf:a247:27dd is a Teredo address of 10.0.0.1, a private address",
    ),
    ("2001:0:4136:e378:8000:63bf:a247:27dd", "2001:0:4136:e378:8000:63bf:a247:27dd is a private address"),
    # site-local, fec0::/10 (deprecated, still routed inside some networks)
    ("fec0::1", "fec0::1 is a site-local address"),
    ("feff:ffff::1", "feff:ffff::1 is a site-local address"),
    # NAT64: the well-known 64:ff9b::/96 and the local-use 64:ff9b:1::/48, IPv4 in the last 32 bits
    ("64:ff9b::7f00:1", "64:ff9b::7f00:1 is a NAT64 address of 127.0.0.1, a loopback address"),
    ("64:ff9b::a9fe:a9fe", "64:ff9b::a9fe:a9fe is a NAT64 address of 169.254.169.254, a link-local address"),
    ("64:ff9b:1::c0a8:101", "64:ff9b:1::c0a8:101 is a NAT64 address of 192.168.1.1, a private address"),
    ("64:ff9b:1:ffff::a00:1", "64:ff9b:1:ffff::a00:1 is a NAT64 address of 10.0.0.1, a private address"),
    # IPv4-mapped (the address itself), IPv4-translated ::ffff:0:0/96 and IPv4-compatible ::/96
    ("::ffff:127.0.0.1", "127.0.0.1 is a loopback address"),
    ("::ffff:7f00:1", "127.0.0.1 is a loopback address"),
    ("::ffff:0:7f00:1", "::ffff:0:7f00:1 is an IPv4-translated address of 127.0.0.1, a loopback address"),
    ("::7f00:1", "::7f00:1 is an IPv4-compatible address of 127.0.0.1, a loopback address"),
    ("::a00:1", "::a00:1 is an IPv4-compatible address of 10.0.0.1, a private address"),
    ("::1", "::1 is a loopback address"),  # IPv6's own, not 0.0.0.1
    ("::", ":: is a unspecified address"),
    ("[2002:7f00:1::1]", "2002:7f00:1::1 is a 6to4 address of 127.0.0.1, a loopback address"),  # as in a URL
]


@pytest.mark.parametrize(("address", "verdict"), EMBEDDINGS)
def test_an_ipv6_address_carrying_a_refused_ipv4_address_is_refused(address: str, verdict: str | None) -> None:
    assert AddressPolicy().refusal(address) == verdict


def test_allowing_the_ipv4_network_allows_its_6to4_spelling_and_not_others() -> None:
    policy = AddressPolicy(["127.0.0.0/8"])
    assert policy.refusal("2002:7f00:1::1") is None and policy.refusal("::ffff:127.0.0.1") is None
    assert policy.refusal("2002:a00:1::1") == "2002:a00:1::1 is a 6to4 address of 10.0.0.1, a private address"
    assert AddressPolicy(["2002:7f00::/32"]).refusal("2002:7f00:1::1") is None


def test_public_addresses_pass_and_allowed_networks_open_up() -> None:
    policy = AddressPolicy(["10.0.0.0/8", "::1/128"])
    assert AddressPolicy().refusal("93.184.216.34") is None
    assert AddressPolicy().refusal("2606:4700::1111") is None
    assert policy.refusal("10.20.30.40") is None and policy.refusal("::1") is None
    assert policy.refusal("192.168.0.1") == "192.168.0.1 is a private address"
    with pytest.raises(ValueError, match="ARCHIVE_ALLOW_NETWORKS"):
        AddressPolicy(["not-a-network"])


def test_an_ip_address_url_the_policy_forbids_is_refused_before_it_is_sent(
    make_crawler: MakeCrawler, run_async: RunAsync, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    crawler = make_crawler()
    guard = PrivateAddressMiddleware.from_crawler(crawler)
    with pytest.raises(BlockedAddress) as refused:
        run_async(guard.process_request(Request("http://169.254.169.254/latest/meta-data/")))
    assert str(refused.value) == f"refused 169.254.169.254: 169.254.169.254 is a link-local address; {HINT}"
    with pytest.raises(BlockedAddress, match=r"refused ::1: ::1 is a loopback address"):
        run_async(guard.process_request(Request("http://[::1]:8080/admin")))
    assert run_async(guard.process_request(Request("http://93.184.216.34/"))) is None
    assert run_async(guard.process_request(Request("http://intranet.example/"))) is None  # the resolver checks it
    assert crawler.stats.get_value("crawl/refused_address") == 2


def test_allowed_networks_open_up_to_the_middleware(make_crawler: MakeCrawler, run_async: RunAsync) -> None:
    guard = PrivateAddressMiddleware.from_crawler(make_crawler({"ARCHIVE_ALLOW_NETWORKS": ["10.0.0.0/8"]}))
    assert run_async(guard.process_request(Request("http://10.1.2.3/wiki"))) is None
    with pytest.raises(BlockedAddress, match=r"192\.168\.1\.1 is a private address"):
        run_async(guard.process_request(Request("http://192.168.1.1/")))


def test_a_response_from_a_forbidden_address_is_refused_unless_read_back_from_the_archive(
    make_crawler: MakeCrawler,
) -> None:
    guard = PrivateAddressMiddleware.from_crawler(make_crawler())
    request = Request("http://public-looking.example/page")
    answer = Response(request.url, status=200, ip_address=ipaddress.ip_address("10.0.0.7"), request=request)
    with pytest.raises(BlockedAddress, match=r"refused public-looking\.example: 10\.0\.0\.7 is a private address"):
        guard.process_response(request, answer)
    resumed = Request(request.url, meta={"archive_resumed": True})
    assert guard.process_response(resumed, answer) is answer  # not fetched now: no address was reached
    public = Response(request.url, status=200, ip_address=ipaddress.ip_address("93.184.216.34"), request=request)
    assert guard.process_response(request, public) is public


@pytest.fixture
def cached_answers() -> Iterator[dict[str, str]]:
    """DNS answers put in Scrapy's resolver cache (so no lookup leaves the machine); removed afterwards."""
    answers: dict[str, str] = {}
    yield answers
    for name in answers:
        dnscache.pop(name, None)


def test_a_name_resolving_to_a_forbidden_address_fails_its_lookup_and_the_middleware_names_why(
    make_crawler: MakeCrawler, asyncio_reactor: object, cached_answers: dict[str, str]
) -> None:
    from twisted.internet import reactor

    crawler = make_crawler({"ARCHIVE_ALLOW_NETWORKS": ["10.9.0.0/16"]})
    resolver = GuardedResolver.from_crawler(crawler, reactor)  # type: ignore[arg-type]
    cached_answers.update({"intranet.example": "10.0.0.5", "wiki.example": "10.9.1.1", "news.example": "93.184.216.34"})
    for name, address in cached_answers.items():
        dnscache[name] = address
    results: dict[str, object] = {}
    for name in cached_answers:
        resolver.getHostByName(name).addBoth(lambda found, name=name: results.__setitem__(name, found))
    assert results["news.example"] == "93.184.216.34" and results["wiki.example"] == "10.9.1.1"
    failure = results["intranet.example"]
    assert isinstance(getattr(failure, "value", None), DNSLookupError)  # Twisted reports it as a failed lookup
    failure.trap(DNSLookupError)  # type: ignore[attr-defined]

    guard = PrivateAddressMiddleware.from_crawler(crawler)
    with pytest.raises(BlockedAddress) as refused:
        guard.process_exception(Request("https://intranet.example/admin"), failure.value)  # type: ignore[attr-defined]
    assert str(refused.value) == f"refused intranet.example: it resolves to 10.0.0.5, a private address; {HINT}"
    # A name that simply does not resolve stays an ordinary DNS error.
    assert guard.process_exception(Request("https://no-such-name.example/"), DNSLookupError("no results")) is None
    assert crawler.stats.get_value("crawl/refused_address") == 1
