"""Keep live crawls out of internal networks: no private, loopback or link-local address unless allowed.

A hostile page can link to, or redirect to, `http://10.0.0.1/admin` or a cloud metadata
address. The check runs where the address is known for sure: in the DNS resolver, on the
address each connection is about to use (so a name that resolves to an internal address,
a redirect to one, or a name whose answer changes between lookups are all caught), and,
for URLs that name an IP address outright, before the request is sent. Users crawling their
own intranet allow networks with ARCHIVE_ALLOW_NETWORKS (the CLI's --allow-network CIDR).
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit
from urllib.request import _parse_proxy  # type: ignore[attr-defined]  # how Scrapy's proxy middleware reads one

from scrapy import Request
from scrapy.downloadermiddlewares.httpproxy import HttpProxyMiddleware
from scrapy.exceptions import CannotResolveHostError, IgnoreRequest, NotConfigured
from scrapy.resolver import CachingThreadedResolver
from scrapy.utils.datatypes import LocalCache
from scrapy.utils.defer import maybe_deferred_to_future
from twisted.internet import defer
from twisted.internet.error import DNSLookupError
from twisted.internet.threads import deferToThread

if TYPE_CHECKING:
    from typing import Self

    from scrapy.crawler import Crawler
    from scrapy.http import Response
    from twisted.internet.base import ReactorBase

__all__ = ["AddressPolicy", "BlockedAddress", "GuardedResolver", "PrivateAddressMiddleware", "allowed_network"]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
# Names the resolver refused, and why (read back by PrivateAddressMiddleware.process_exception).
refused: LocalCache[str, str] = LocalCache(10000)


class BlockedAddress(IgnoreRequest):
    """A request would have reached an address the crawl may not reach."""


class _RefusedLookup(DNSLookupError):
    """A name resolved to a forbidden address (a lookup error, so Twisted reports it quietly)."""


class AddressPolicy:
    """Which addresses a crawl may connect to: public ones, and any in the allowed networks."""

    def __init__(self, allowed: Iterable[str] = ()) -> None:
        try:
            self.allowed = [allowed_network(cidr) for cidr in allowed if cidr.strip()]
        except ValueError as exc:
            raise ValueError(f"ARCHIVE_ALLOW_NETWORKS: {exc}") from exc

    @classmethod
    def from_settings(cls, settings: Any) -> AddressPolicy:
        return cls(settings.getlist("ARCHIVE_ALLOW_NETWORKS"))

    def refusal(self, address: str) -> str | None:
        """Return why `address` may not be reached (None: it may); a name that is not an address is refused."""
        try:
            ip: IPAddress = ipaddress.ip_address(address.strip("[]").split("%")[0])
        except ValueError:
            return f"{address!r} is not an IP address"
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        if self._allows(ip):
            return None
        for form, embedded in _embedded_ipv4(ip):
            why = None if self._allows(embedded) else _kind(embedded)
            if why is not None:
                article = "an" if form[0] in "AEIOU" else "a"
                return f"{ip} is {article} {form} address of {embedded}, a {why} address"
        kind = _kind(ip)
        return None if kind is None else f"{ip} is a {kind} address"

    def _allows(self, ip: IPAddress) -> bool:
        return any(ip in network for network in self.allowed)


def allowed_network(cidr: str) -> IPNetwork:
    """Return the network a CIDR names (10.0.0.0/8; an address alone is its own network); ValueError says why not."""
    try:
        return ipaddress.ip_network(cidr.strip(), strict=False)
    except ValueError:
        raise ValueError(f"{cidr!r} is not a network: give a CIDR such as 10.0.0.0/8 or 127.0.0.1/32") from None


# IPv6 prefixes whose last 32 bits carry an IPv4 address a gateway or the host's stack may deliver to.
_LAST_32_BITS = (
    ("NAT64", ipaddress.IPv6Network("64:ff9b::/96")),  # RFC 6052 well-known prefix
    ("NAT64", ipaddress.IPv6Network("64:ff9b:1::/48")),  # RFC 8215 local-use prefix, /96 spelling
    ("IPv4-translated", ipaddress.IPv6Network("::ffff:0:0:0/96")),  # RFC 2765 (SIIT)
    ("IPv4-compatible", ipaddress.IPv6Network("::/96")),  # RFC 4291, deprecated
)


def _embedded_ipv4(ip: IPAddress) -> list[tuple[str, ipaddress.IPv4Address]]:
    """Return the IPv4 addresses an IPv6 address carries, each with the name of its form (6to4, Teredo...)."""
    if not isinstance(ip, ipaddress.IPv6Address):
        return []
    if int(ip) <= 1:
        return []  # :: and ::1 are IPv6's own unspecified and loopback addresses, not IPv4-compatible ones
    found = [(form, ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)) for form, net in _LAST_32_BITS if ip in net]
    if ip.sixtofour is not None:
        found.append(("6to4", ip.sixtofour))
    if ip.teredo is not None:  # (server, client): the client's address is stored XOR 0xffffffff
        found += [("Teredo", ip.teredo[1]), ("Teredo", ip.teredo[0])]
    return found


def _kind(ip: IPAddress) -> str | None:
    """Return what kind of non-public address `ip` is, or None for a public unicast one."""
    if ip.is_loopback:
        return "loopback"
    if ip.is_link_local:
        return "link-local"
    if isinstance(ip, ipaddress.IPv6Address) and ip.is_site_local:
        return "site-local"
    if ip.is_unspecified:
        return "unspecified"
    if ip.is_multicast:
        return "multicast"
    if ip.is_private:
        return "private"
    if ip.is_reserved or not ip.is_global:
        return "reserved"
    return None


def _hint(host: str, why: str) -> str:
    return f"refused {host}: {why}; crawls reach only public addresses unless --allow-network allows it"


class GuardedResolver(CachingThreadedResolver):
    """Scrapy's caching resolver, refusing names that resolve to addresses the policy forbids."""

    policy: AddressPolicy = AddressPolicy()

    @classmethod
    def from_crawler(cls, crawler: Crawler, reactor: ReactorBase) -> Self:
        resolver = super().from_crawler(crawler, reactor)
        resolver.policy = AddressPolicy.from_settings(crawler.settings)
        return resolver

    def getHostByName(self, name: str, timeout: Sequence[int] = ()) -> defer.Deferred[str]:
        resolving = super().getHostByName(name, timeout)
        return resolving.addCallback(self._checked, name)

    def _checked(self, address: str, name: str) -> str:
        why = self.policy.refusal(address)
        if why is not None:
            # Twisted reports any failed lookup as "no results"; the middleware puts the reason back.
            refused[name] = _hint(name, f"it resolves to {why.replace(' is a ', ', a ')}")
            raise _RefusedLookup(refused[name])
        return address


class PrivateAddressMiddleware:
    """Refuse requests to addresses the policy forbids, and responses that came from such an address.

    Names are checked by GuardedResolver as they resolve; this catches what bypasses it before
    anything is sent: an address in the URL itself, and every request through a proxy (from
    meta["proxy"] or http_proxy/https_proxy, as HttpProxyMiddleware picks it), where the proxy
    resolves the target's name and this process never would: the proxy's address and each
    address the target's name has here are checked.
    """

    def __init__(self, crawler: Crawler) -> None:
        self.policy = AddressPolicy.from_settings(crawler.settings)
        self.crawler = crawler
        self._env_proxies = _env_proxies(crawler)
        self._lookups: LocalCache[str, tuple[str, ...]] = LocalCache(10000)
        self._cache_lookups = crawler.settings.getbool("DNSCACHE_ENABLED", True)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        return cls(crawler)

    async def process_request(self, request: Request, spider: Any = None) -> None:
        host = urlsplit(request.url).hostname or ""
        proxy = self._proxy_for(request)
        if proxy is None:
            if _is_address(host):
                self._check(host, host)
            return  # a name: the resolver checks what it resolves to
        proxy_host = urlsplit("//" + _parse_proxy(proxy)[3]).hostname or ""
        for label, name in ((f"proxy {proxy_host}", proxy_host), (f"{host} (proxied)", host)):
            for address in await self._addresses(label, name):
                self._check(label, address)

    def _proxy_for(self, request: Request) -> str | None:
        """Return the proxy `request` will go through (as HttpProxyMiddleware chooses it), or None."""
        if "proxy" in request.meta:
            return request.meta["proxy"] or None
        if self._env_proxies is None or not self._env_proxies.proxies:
            return None
        probe = Request(request.url)
        self._env_proxies.process_request(probe)
        return probe.meta.get("proxy") or None

    async def _addresses(self, label: str, name: str) -> tuple[str, ...]:
        """Return every address `name` has here (a lookup in a thread), refusing a name that has none."""
        if _is_address(name):
            return (name,)
        found = self._lookups.get(name)
        if found is None:
            found = await maybe_deferred_to_future(deferToThread(_lookup, name))
            if self._cache_lookups and found:
                self._lookups[name] = found
        if not found:
            self._count()
            raise BlockedAddress(_hint(label, f"{name} does not resolve here, so its address cannot be checked"))
        return found

    def process_response(self, request: Request, response: Response, spider: Any = None) -> Response:
        if response.ip_address is not None and not request.meta.get("archive_resumed"):
            self._check(urlsplit(request.url).hostname or "", str(response.ip_address))
        return response

    def process_exception(self, request: Request, exception: BaseException, spider: Any = None) -> None:
        host = urlsplit(request.url).hostname or ""
        if isinstance(exception, (DNSLookupError, CannotResolveHostError)) and host in refused:
            if self.crawler.stats is not None:
                self.crawler.stats.inc_value("crawl/refused_address")
            raise BlockedAddress(refused[host]) from exception

    def _check(self, host: str, address: str) -> None:
        why = self.policy.refusal(address)
        if why is not None:
            self._count()
            raise BlockedAddress(_hint(host, why))

    def _count(self) -> None:
        if self.crawler.stats is not None:
            self.crawler.stats.inc_value("crawl/refused_address")


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host.split("%")[0])
    except ValueError:
        return False
    return True


def _lookup(name: str) -> tuple[str, ...]:
    """Return the addresses `name` resolves to here (none when it does not), as a proxy might reach them."""
    try:
        answers = socket.getaddrinfo(name, None, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        return ()
    return tuple(dict.fromkeys(str(sockaddr[0]) for *_, sockaddr in answers))


def _env_proxies(crawler: Crawler) -> HttpProxyMiddleware | None:
    """Return Scrapy's proxy middleware as configured from the environment, to ask which proxy a URL takes."""
    try:
        return HttpProxyMiddleware.from_crawler(crawler)
    except NotConfigured:
        return None
