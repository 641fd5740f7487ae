"""A hostile site on 127.0.0.1: decompression bombs, loops, entity bombs and deep nesting, each behind its own path."""

from __future__ import annotations

import gzip
import zlib
from collections import Counter
from functools import cache
from http.server import BaseHTTPRequestHandler
from typing import Any

import brotli

from tests.loopback import LoopbackSite

__all__ = [
    "BOMB_BYTES",
    "INJECTION_TITLE",
    "HostileSite",
    "billion_laughs",
    "gzip_bomb",
    "hostile_site",
    "nested_html",
    "warc_bomb",
]

BOMB_BYTES = 1 << 30  # what each bomb inflates to: 1 GiB


@cache
def _gzip_bomb() -> bytes:
    """1 GiB of zeros as gzip: 16 copies of one 64 MiB member (gzip readers read members on)."""
    packer = zlib.compressobj(1, zlib.DEFLATED, 31)
    block = b"\0" * (1 << 20)
    member = b"".join(packer.compress(block) for _ in range(64)) + packer.flush()
    return member * (BOMB_BYTES // (64 << 20))


def gzip_bomb(head: bytes, size: int, tail: bytes = b"") -> bytes:
    """One gzip member: `head`, `size` zero bytes, `tail` (a few hundred bytes per MiB of zeros as sent)."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    block = b"\0" * (1 << 20)
    pieces = [packer.compress(head)]
    pieces += [packer.compress(block[: min(len(block), size - done)]) for done in range(0, size, len(block))]
    return b"".join([*pieces, packer.compress(tail), packer.flush()])


def warc_bomb(size: int, then: bytes) -> bytes:
    """A .warc.gz whose first record (a `resource` of text/html) inflates to `size` zeros; `then` (an HTML page) after it."""

    def head(uri: str, length: int, serial: int) -> bytes:
        return (
            f"WARC/1.1\r\nWARC-Type: resource\r\nWARC-Target-URI: {uri}\r\nWARC-Date: 2025-03-14T08:00:00Z\r\n"
            f"WARC-Record-ID: <urn:uuid:00000000-0000-4000-8000-00000000000{serial}>\r\n"
            f"Content-Type: text/html; charset=utf-8\r\nContent-Length: {length}\r\n\r\n"
        ).encode()

    bomb = gzip_bomb(head("https://bomb.example/", size, 1), size, b"\r\n\r\n")
    return bomb + gzip.compress(head("https://fine.example/page", len(then), 2) + then + b"\r\n\r\n")


@cache
def _brotli_bomb() -> bytes:
    packer = brotli.Compressor(quality=5)
    block = b"\0" * (1 << 20)
    return b"".join(packer.process(block) for _ in range(BOMB_BYTES >> 20)) + packer.finish()


def billion_laughs(root: str) -> bytes:
    """An XML document whose entities expand to 10^9 "lol"s (a few hundred bytes as sent)."""
    entities, previous = ['<!ENTITY lol "lol">'], "lol"
    for level in range(1, 10):
        entities.append(f'<!ENTITY lol{level} "{("&" + previous + ";") * 10}">')
        previous = f"lol{level}"
    doctype = f"<!DOCTYPE {root} [\n" + "\n".join(entities) + "\n]>"
    if root == "rss":
        body = "<rss version='2.0'><channel><title>&lol9;</title><item><title>&lol9;</title>"
        body += "<link>/page/bomb</link></item></channel></rss>"
    else:
        body = "<urlset xmlns='http://www.sitemaps.org/schemas/sitemap/0.9'><url><loc>&lol9;</loc></url></urlset>"
    return f'<?xml version="1.0"?>\n{doctype}\n{body}'.encode()


def nested_html(depth: int) -> bytes:
    """A page whose article sits inside `depth` nested <div>s."""
    story = "<p>The harbour ferry returns to its full timetable on Monday after six weeks of repairs.</p>" * 5
    return (
        f"<html><head><title>Deep</title></head><body>{'<div>' * depth}{story}{'</div>' * depth}</body></html>".encode()
    )


# A page whose every part a hostile author controls, aimed at SQL text, shells and file paths.
INJECTION_TITLE = 'Robert\'); DROP TABLE captures; -- "$(touch /tmp/pwned)" `rm -rf ~` ../../evil'
INJECTION_PAGE = (
    f"<html><head><title>{INJECTION_TITLE}</title></head><body><article><h1>{INJECTION_TITLE}</h1>"
    + '<p>The council met on Monday; \' OR 1=1 -- and "NEAR(a b)" * were all it said about the budget.</p>' * 4
    + "</article></body></html>"
).encode()


class _Handler(BaseHTTPRequestHandler):
    server: HostileSite

    def do_GET(self) -> None:
        self.server.hits[self.path] += 1
        base = self.server.base
        routes: dict[str, tuple[int, dict[str, str], bytes]] = {
            "/robots.txt": (200, {"Content-Type": "text/plain"}, b"User-agent: *\nAllow: /\n"),
            "/bomb.gz": (200, {"Content-Type": "text/html", "Content-Encoding": "gzip"}, _gzip_bomb()),
            "/bomb.br": (200, {"Content-Type": "text/html", "Content-Encoding": "br"}, _brotli_bomb()),
            "/loop/a": (302, {"Location": f"{base}/loop/b"}, b""),
            "/loop/b": (302, {"Location": f"{base}/loop/a"}, b""),
            "/to-internal": (302, {"Location": self.server.internal}, b""),
            "/sitemap-index.xml": (200, {"Content-Type": "application/xml"}, self._self_index()),
            "/feed-bomb.xml": (200, {"Content-Type": "application/rss+xml"}, billion_laughs("rss")),
            "/sitemap-bomb.xml": (200, {"Content-Type": "application/xml"}, billion_laughs("urlset")),
            "/deep": (200, {"Content-Type": "text/html; charset=utf-8"}, nested_html(100_000)),
            "/fine": (200, {"Content-Type": "text/html; charset=utf-8"}, nested_html(3)),
            "/..%2F..%2Fevil.html": (
                200,
                {
                    "Content-Type": "text/html; charset=utf-8",
                    "Content-Disposition": 'attachment; filename="../../evil.sh"',
                },
                INJECTION_PAGE,
            ),
        }
        status, headers, body = routes.get(self.path, (404, {"Content-Type": "text/plain"}, b"not here"))
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _self_index(self) -> bytes:
        entry = f"<sitemap><loc>{self.server.base}/sitemap-index.xml</loc></sitemap>"
        return f"<sitemapindex xmlns='http://www.sitemaps.org/schemas/sitemap/0.9'>{entry}</sitemapindex>".encode()

    def log_message(self, *_args: Any) -> None:
        pass


class HostileSite(LoopbackSite):
    """The hostile site on an ephemeral port; `hits` counts requests per path."""

    def __init__(self, internal: str) -> None:
        super().__init__(_Handler)
        self.internal = internal
        self.hits: Counter[str] = Counter()


def hostile_site(internal: str = "http://127.0.0.2/") -> HostileSite:
    """The hostile site, served inside `with`; `internal` is where /to-internal redirects (the crawl must refuse it)."""
    return HostileSite(internal)
