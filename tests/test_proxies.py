"""The network guard holds through a proxy, and no credential the crawl sends lands in the archive.

A proxy resolves the target's name itself, so the resolver never sees it: the guard looks the name
up here and checks every address, and checks the proxy's own address, before anything is sent.
Real proxies on loopback (tests/rawsite.py), real sites behind them; `localhost` is a name that
resolves to 127.0.0.1 here, as `vm` did for the red team.
"""

from __future__ import annotations

import gzip
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any

import pytest
from scrapy import Request
from scrapy.crawler import Crawler
from warcio.archiveiterator import ArchiveIterator

from archive.crawl.netguard import BlockedAddress, PrivateAddressMiddleware
from archive.crawl.responses import redacted
from scraper import WireRequest
from scraper.urls import redacted as redacted_url
from tests.conftest import Cli, warc_files, warcio_check
from tests.rawsite import Answer, ForwardProxy, RawSite, TunnelProxy, self_signed_context
from tests.test_limits import _failures

MakeCrawler = Callable[..., Crawler]
RunAsync = Callable[[Coroutine[Any, Any, Any]], Any]
HINT = "crawls reach only public addresses unless --allow-network allows it"
PROXY_VARIABLES = ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy", "ALL_PROXY", "no_proxy")
CRAWL = [
    "--depth",
    "0",
    "--delay",
    "0",
    "--timeout",
    "5",
    "--retries",
    "0",
    "--jobs",
    "1",
    "-s",
    "ROBOTSTXT_OBEY=False",
]
PAGE = b"<html><head><title>Tide tables</title></head><body><p>" + b"High water at dawn. " * 20 + b"</p></body></html>"
OK = b"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: %d\r\n\r\n%s" % (len(PAGE), PAGE)


@pytest.fixture(autouse=True)
def no_proxy_from_outside(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only the proxies a test sets: none from the environment the tests run in."""
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def reactor_threads(asyncio_reactor: Any) -> Iterator[None]:
    """Give the reactor, which never runs here, a started thread pool of its own (the guard's lookups run there).

    A stopped pool cannot start again, so the reactor gets a fresh one, and after the test none:
    the next to ask for one (another module's fixture) makes its own.
    """
    from twisted.internet import reactor

    saved = reactor.threadpool
    reactor.threadpool = None
    pool = reactor.getThreadPool()
    pool.start()
    yield
    pool.stop()
    reactor.threadpool = saved if saved is not None and saved.started else None


def _request_records(data: Path) -> list[bytes]:
    """Return each request record's block (the HTTP request as stored), over every WARC file."""
    blocks = []
    for path in warc_files(data):
        with path.open("rb") as stream:
            for record in ArchiveIterator(stream):
                if record.rec_type == "request":
                    blocks.append(record.http_headers.to_bytes() + record.content_stream().read())
    return blocks


@pytest.fixture
def site() -> Iterator[RawSite]:
    with RawSite({"/x": Answer(OK)}) as served:
        yield served


@pytest.fixture
def proxy() -> Iterator[ForwardProxy]:
    with ForwardProxy("127.0.0.2") as forwarding:
        yield forwarding


@pytest.mark.usefixtures("reactor_threads")
def test_the_guard_checks_the_proxy_and_every_address_the_proxied_name_has(
    make_crawler: MakeCrawler, run_async: RunAsync
) -> None:
    crawler = make_crawler()
    guard = PrivateAddressMiddleware.from_crawler(crawler)
    through = {"proxy": "http://crawler:Secret@X6@127.0.0.2:3128"}  # an unencoded @ in the password
    with pytest.raises(BlockedAddress) as refused:
        run_async(guard.process_request(Request("http://example.com/", meta=through)))
    assert str(refused.value) == f"refused proxy 127.0.0.2: 127.0.0.2 is a loopback address; {HINT}"
    allowed = PrivateAddressMiddleware.from_crawler(make_crawler({"ARCHIVE_ALLOW_NETWORKS": ["127.0.0.2/32"]}))
    with pytest.raises(BlockedAddress) as refused:
        run_async(allowed.process_request(Request("http://localhost:8080/admin", meta=through)))
    assert str(refused.value) == f"refused localhost (proxied): 127.0.0.1 is a loopback address; {HINT}"
    with pytest.raises(BlockedAddress, match=r"^refused 10\.0\.0\.1 \(proxied\): 10\.0\.0\.1 is a private address"):
        run_async(allowed.process_request(Request("http://10.0.0.1/", meta=through)))
    # No proxy (meta["proxy"] None): a name is left to the resolver, as before.
    assert run_async(guard.process_request(Request("http://localhost/", meta={"proxy": None}))) is None
    assert crawler.stats.get_value("crawl/refused_address") == 1


def test_the_guard_finds_the_proxy_the_environment_gives_as_scrapy_does(
    make_crawler: MakeCrawler, run_async: RunAsync, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("http_proxy", "http://127.0.0.3:3128")
    monkeypatch.setenv("no_proxy", "intranet.example")
    guard = PrivateAddressMiddleware.from_crawler(make_crawler())
    with pytest.raises(BlockedAddress, match=r"^refused proxy 127\.0\.0\.3: 127\.0\.0\.3 is a loopback"):
        run_async(guard.process_request(Request("http://example.com/")))
    assert run_async(guard.process_request(Request("https://localhost/"))) is None  # no https_proxy: not proxied
    assert run_async(guard.process_request(Request("http://intranet.example/"))) is None  # bypassed: the resolver
    off = PrivateAddressMiddleware.from_crawler(make_crawler({"HTTPPROXY_ENABLED": False}))
    assert run_async(off.process_request(Request("http://localhost/"))) is None


def test_credential_headers_keep_their_names_and_lose_their_values() -> None:
    head = (
        b"GET http://example.com/a HTTP/1.1\r\nHost: example.com\r\nProxy-Authorization: Basic dTpw\r\n"
        b"authorization: Bearer abc\r\n  def\r\nCookie: sid=1\r\nX-Cookie-Note: kept\r\n\r\n"
    )
    headers = (("Host", "example.com"), ("Proxy-Authorization", "Basic dTpw"), ("X-Cookie-Note", "kept"))
    sent = redacted(WireRequest("GET", "http://example.com/a", headers, raw_head=head, body=b"q=1"))
    assert sent.raw_head == (
        b"GET http://example.com/a HTTP/1.1\r\nHost: example.com\r\nProxy-Authorization: [redacted]\r\n"
        b"authorization: [redacted]\r\nCookie: [redacted]\r\nX-Cookie-Note: kept\r\n\r\n"
    )
    assert sent.headers == (("Host", "example.com"), ("Proxy-Authorization", "[redacted]"), ("X-Cookie-Note", "kept"))
    assert sent.body == b"q=1" and sent.target == "http://example.com/a"
    rebuilt = redacted(WireRequest("GET", "/a", (("Cookie", "sid=1"), ("Accept", "*/*"))))  # no head recorded
    assert rebuilt.headers == (("Cookie", "[redacted]"), ("Accept", "*/*")) and rebuilt.raw_head is None


def test_request_records_keep_credential_values_only_when_asked(make_crawler: MakeCrawler) -> None:
    from scrapy.http import HtmlResponse

    from archive.crawl.middlewares import WireMiddleware

    def recorded(settings: dict[str, Any]) -> tuple[tuple[str, str], ...]:
        request = Request("https://example.com/a", headers={"Cookie": "sid=1", "Authorization": "Bearer abc"})
        response = HtmlResponse(request.url, body=b"<html></html>", request=request)
        WireMiddleware.from_crawler(make_crawler(settings)).process_response(request, response)
        sent = request.meta["wire"].request
        return tuple((k, v) for k, v in sent.headers if k in ("Cookie", "Authorization"))

    assert recorded({}) == (("Cookie", "[redacted]"), ("Authorization", "[redacted]"))
    assert recorded({"ARCHIVE_RECORD_CREDENTIALS": True}) == (("Cookie", "sid=1"), ("Authorization", "Bearer abc"))


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://u:Secret@X6@127.0.0.1/db", "postgresql://u:***@127.0.0.1/db"),
        ("redis://:Secret@X6@127.0.0.1:6379/0", "redis://:***@127.0.0.1:6379/0"),
        ("http://crawler:Secret%40X6@[::1]:3128", "http://crawler:***@[::1]:3128"),
        ("postgresql://u@127.0.0.1/db", "postgresql://u@127.0.0.1/db"),
    ],
)
def test_a_password_with_an_unencoded_at_sign_is_hidden_whole(url: str, shown: str) -> None:
    assert redacted_url(url) == shown


@pytest.mark.slow  # a crawl in a process of its own
def test_a_loopback_proxy_is_refused_like_any_loopback_target(
    cli: Cli, site: RawSite, proxy: ForwardProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    url = f"http://localhost:{site.port}/x"
    done = cli("crawl", url, *CRAWL)
    assert _failures(done.out + done.err)[url] == f"refused proxy 127.0.0.2: 127.0.0.2 is a loopback address; {HINT}"
    assert proxy.connections == 0 and site.connections == 0


@pytest.mark.slow  # a crawl in a process of its own
def test_a_proxied_name_resolving_to_loopback_is_refused_before_the_proxy_hears_of_it(
    cli: Cli, site: RawSite, proxy: ForwardProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    url = f"http://localhost:{site.port}/x"
    done = cli("crawl", url, *CRAWL, "--allow-network", "127.0.0.2/32")
    why = _failures(done.out + done.err)[url]
    assert why == f"refused localhost (proxied): 127.0.0.1 is a loopback address; {HINT}", done.out + done.err
    assert proxy.connections == 0 and site.connections == 0


@pytest.mark.slow  # a crawl in a process of its own
def test_an_allowed_proxied_fetch_is_archived_without_the_proxy_password(
    cli: Cli, site: RawSite, proxy: ForwardProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTP_PROXY", proxy.url.replace("http://", "http://crawler:Secret%40X6@"))
    url = f"http://localhost:{site.port}/x"
    site_password = ["-s", 'DEFAULT_REQUEST_HEADERS={"Authorization": "Bearer tide-token"}']
    allow = ["--allow-network", "127.0.0.2/32", "--allow-network", "127.0.0.1/32"]
    done = cli("crawl", url, *CRAWL, *allow, *site_password)
    assert done.code == 0, done.out + done.err
    [sent] = proxy.requests
    assert b"\r\nAuthorization: Bearer tide-token\r\n" in sent
    # Basic base64("crawler:Secret@X6"): the proxy was sent the password...
    assert b"\r\nProxy-Authorization: Basic Y3Jhd2xlcjpTZWNyZXRAWDY=\r\n" in sent
    assert sent.startswith(f"GET {url} HTTP/1.1\r\n".encode())
    assert [e.path for e in site.exchanges] == ["/x"]
    # ...and the archive holds the request as sent, with the credential's value taken out.
    [recorded] = _request_records(cli.data)
    assert recorded == sent.replace(b"Basic Y3Jhd2xlcjpTZWNyZXRAWDY=", b"[redacted]").replace(
        b"Bearer tide-token", b"[redacted]"
    )
    stored = b"".join(gzip.decompress(p.read_bytes()) for p in warc_files(cli.data))
    assert b"Y3Jhd2xlcjpTZWNyZXRAWDY" not in stored and b"tide-token" not in stored
    assert "Secret" not in done.out + done.err and "tide-token" not in done.out + done.err
    check = warcio_check(warc_files(cli.data))  # block digests over the redacted request
    assert check.returncode == 0, check.stdout + check.stderr


@pytest.mark.slow  # a crawl in a process of its own
def test_no_connect_is_sent_for_a_refused_https_target(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with RawSite({"/x": Answer(OK)}, tls=self_signed_context(tmp_path)) as site, TunnelProxy("127.0.0.2") as tunnel:
        monkeypatch.setenv("HTTPS_PROXY", tunnel.url)
        url = f"https://localhost:{site.port}/x"
        done = cli("crawl", url, *CRAWL, "--allow-network", "127.0.0.2/32")
        why = _failures(done.out + done.err)[url]
        assert why == f"refused localhost (proxied): 127.0.0.1 is a loopback address; {HINT}"
        assert tunnel.connections == 0 and tunnel.requests == [] and site.connections == 0
        allowed = cli("crawl", url, *CRAWL, "--allow-network", "127.0.0.2/32", "--allow-network", "127.0.0.1/32")
        assert allowed.code == 0, allowed.out + allowed.err
        assert tunnel.requests[0].startswith(f"CONNECT localhost:{site.port} HTTP/1.1\r\n".encode())
        assert [e.path for e in site.exchanges] == ["/x"]
