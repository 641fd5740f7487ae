"""A small fictional news site served on 127.0.0.1 for crawl tests: real HTTP, real sockets.

Everything a crawler meets in the wild, in miniature: home and section pages, articles in a
template with navigation, ads and a cookie banner, a sitemap index with a gzipped child,
RSS and Atom feeds, robots.txt (a Disallow, a Crawl-delay), a redirect chain, a 404, a 500
that succeeds on retry, a 429 with Retry-After, gzip-encoded responses, ETag and
Last-Modified, a page whose text changes between crawls, a PDF, an oversized body, and an
endpoint slower than any sane timeout.
"""

from __future__ import annotations

import gzip
import hashlib
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler
from urllib.parse import urlsplit

from tests.loopback import LoopbackSite

ARTICLES = {
    "harbour/ferry-timetable": (
        "Ferry timetable cut while the landing stage is repaired",
        "Ines Calloway",
        "2026-03-03",
        [
            "The harbour ferry will run on a reduced timetable for six weeks while engineers repair the landing "
            "stage that was damaged during the February storms.",
            "Passengers travelling before seven in the morning are advised to use the coastal bus, which the "
            "council has agreed to run every twenty minutes until the repairs are finished.",
            "The operator said the cost of the work would be shared with the port authority.",
        ],
    ),
    "harbour/fish-market": (
        "Fish market reopens with a cold store",
        "Tomas Brandt",
        "2026-03-27",
        [
            "The fish market reopened on Monday after a three-month refit that added a cold store large enough "
            "for a full week of landings.",
            "Traders said the new store would let smaller boats sell directly to restaurants instead of "
            "accepting the lowest price at the morning auction.",
        ],
    ),
    "council/cycle-routes": (
        "Council approves safer cycle routes along the estuary",
        "Ines Calloway",
        "2026-03-20",
        [
            "Councillors voted unanimously to widen the cycle path along the estuary and to add lighting to "
            "the stretch between the marina and the railway bridge.",
            "Residents who took part in the consultation said the path was too narrow for families.",
        ],
    ),
    "council/library-grant": (
        "Library wins a grant for a new reading room",
        "Mara Ellison",
        "2026-03-09",
        [
            "The town library has been awarded a grant to turn its disused basement into a reading room with "
            "space for local history archives and a small exhibition area.",
            "Volunteers have spent two years cataloguing photographs and letters donated by fishing families.",
        ],
    ),
}
SECTIONS = {
    "harbour": ["harbour/ferry-timetable", "harbour/fish-market"],
    "council": ["council/cycle-routes", "council/library-grant"],
}
LAST_MODIFIED = formatdate(1_772_000_000, usegmt=True)

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title} | The Tidewater Ledger</title>
<link rel="canonical" href="{base}/{path}">
<link rel="alternate" type="application/rss+xml" href="/feeds/rss.xml">
<meta name="author" content="{author}"><meta property="article:published_time" content="{date}">
</head><body>
<div id="cookie-banner" class="cookie-consent">We use cookies to improve your experience. <button>Accept</button></div>
<header><nav><a href="/">Home</a> <a href="/section/harbour">Harbour</a> <a href="/section/council">Council</a>
<a href="/private/admin">Staff</a></nav></header>
<div class="ad">Advertisement</div>
<main><article><h1>{title}</h1><p class="byline">By {author}</p>
{body}
</article></main>
<aside class="related"><h3>Related stories</h3><ul>{related}</ul></aside>
<footer><p>© 2026 The Tidewater Ledger. All rights reserved.</p><a href="/about">About</a></footer>
</body></html>"""


@dataclass
class SiteState:
    """What the server has seen and how it behaves; tests change `edition` to make a page change."""

    hits: Counter[str] = field(default_factory=Counter)
    requests: list[tuple[str, dict[str, str], float]] = field(default_factory=list)  # (target, headers, when)
    edition: int = 1
    slow_seconds: float = 5.0
    lock: threading.Lock = field(default_factory=threading.Lock)


def article_html(base: str, path: str, edition: int = 1) -> str:
    title, author, date, paragraphs = ARTICLES[path]
    paragraphs = list(paragraphs)
    if path == "council/cycle-routes" and edition > 1:
        paragraphs.append(f"Update {edition}: the council has published the contractor's timetable for the work.")
    body = "\n".join(f"<p>{p}</p>" for p in paragraphs)
    related = "".join(f'<li><a href="/{p}">{ARTICLES[p][0]}</a></li>' for p in ARTICLES if p != path)
    return PAGE.format(title=title, author=author, date=date, body=body, related=related, base=base, path=path)


class Handler(BaseHTTPRequestHandler):
    server: NewsSite  # type: ignore[assignment]
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: object) -> None:  # quiet
        pass

    def do_GET(self) -> None:
        state = self.server.state
        path = urlsplit(self.path).path
        with state.lock:
            state.hits[path] += 1
            state.requests.append((self.path, dict(self.headers.items()), time.monotonic()))
            hits = state.hits[path]
        base = self.server.base
        route = getattr(self, "_route_" + path.strip("/").split("/")[0].replace(".", "_").replace("-", "_"), None)
        if path == "/":
            links = "".join(f'<li><a href="/{p}">{ARTICLES[p][0]}</a></li>' for p in ARTICLES)
            self._send(
                200,
                f"<html><body><h1>The Tidewater Ledger</h1><ul>{links}</ul>"
                '<a href="/section/harbour">Harbour</a> <a href="/old-home">Old</a>'
                '<a href="/section/harbour?page=2&amp;sort=new">More harbour</a> <a href="/private/admin">Staff</a>'
                '<a href="/report.pdf">Annual report</a></body></html>',
            )
        elif path.strip("/") in ARTICLES:
            self._article(path.strip("/"), base)
        elif route is not None:
            route(path, hits, base)
        else:
            self._send(404, "<html><body><h1>Not found</h1></body></html>")

    def _article(self, path: str, base: str) -> None:
        body = article_html(base, path, self.server.state.edition).encode()
        etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
        if self.headers.get("If-None-Match") == etag:
            self._send(304, b"", etag=etag)
            return
        gzipped = "gzip" in (self.headers.get("Accept-Encoding") or "")
        self._send(200, body, etag=etag, gzip_body=gzipped)

    def _route_section(self, path: str, hits: int, base: str) -> None:
        name = path.rsplit("/", 1)[-1]
        links = "".join(f'<li><a href="/{p}">{ARTICLES[p][0]}</a></li>' for p in SECTIONS.get(name, []))
        self._send(200, f"<html><body><h1>{name.title()}</h1><ul>{links}</ul></body></html>")

    def _route_robots_txt(self, path: str, hits: int, base: str) -> None:
        text = f"User-agent: *\nDisallow: /private/\nCrawl-delay: 0.2\nSitemap: {base}/sitemap.xml\n"
        self._send(200, text, content_type="text/plain")

    def _route_sitemap_xml(self, path: str, hits: int, base: str) -> None:
        xml = (
            '<?xml version="1.0" encoding="UTF-8"?>\n<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
            f"<sitemap><loc>{base}/sitemap-news.xml.gz</loc></sitemap></sitemapindex>"
        )
        self._send(200, xml, content_type="application/xml")

    def _route_sitemap_news_xml_gz(self, path: str, hits: int, base: str) -> None:
        urls = "".join(
            f"<url><loc>{base}/{p}</loc><news:news><news:publication_date>{ARTICLES[p][2]}</news:publication_date>"
            f"<news:title>{ARTICLES[p][0]}</news:title></news:news></url>"
            for p in ARTICLES
        )
        xml = (
            '<?xml version="1.0" encoding="UTF-8"?>\n<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"'
            f' xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">{urls}</urlset>'
        )
        self._send(200, gzip.compress(xml.encode()), content_type="application/x-gzip")

    def _route_feeds(self, path: str, hits: int, base: str) -> None:
        if path.endswith("rss.xml"):
            items = "".join(
                f"<item><title>{ARTICLES[p][0]}</title><link>{base}/{p}</link></item>" for p in SECTIONS["harbour"]
            )
            xml = f'<?xml version="1.0"?><rss version="2.0"><channel><title>Ledger</title>{items}</channel></rss>'
            self._send(200, xml, content_type="application/rss+xml")
        elif path.endswith("atom.xml"):
            entries = "".join(
                f'<entry><title>{ARTICLES[p][0]}</title><link href="{base}/{p}"/><id>{base}/{p}</id></entry>'
                for p in SECTIONS["council"]
            )
            xml = (
                f'<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>Ledger</title>{entries}</feed>'
            )
            self._send(200, xml, content_type="application/atom+xml")
        else:
            self._send(404, "no such feed")

    def _route_old_home(self, path: str, hits: int, base: str) -> None:
        self._send(301, b"", location="/moved-once")

    def _route_moved_once(self, path: str, hits: int, base: str) -> None:
        self._send(302, b"", location="/harbour/ferry-timetable")

    def _route_flaky(self, path: str, hits: int, base: str) -> None:
        if hits == 1:
            self._send(500, "<html><body>Internal error</body></html>")
        else:
            self._send(200, article_html(base, "harbour/fish-market"))

    def _route_busy(self, path: str, hits: int, base: str) -> None:
        if hits == 1:
            self._send(429, "slow down", retry_after="1")
        else:
            self._send(200, article_html(base, "council/library-grant"))

    def _route_report_pdf(self, path: str, hits: int, base: str) -> None:
        self._send(
            200, b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n", content_type="application/pdf"
        )

    def _route_huge(self, path: str, hits: int, base: str) -> None:
        self._send(200, "<html><body>" + "<p>filler text</p>" * 200_000 + "</body></html>")

    def _route_slow(self, path: str, hits: int, base: str) -> None:
        time.sleep(self.server.state.slow_seconds)
        self._send(200, "<html><body><p>too late</p></body></html>")

    def _route_private(self, path: str, hits: int, base: str) -> None:
        self._send(200, "<html><body><p>Staff only: robots.txt says keep out.</p></body></html>")

    def _send(
        self,
        status: int,
        body: str | bytes,
        *,
        content_type: str = "text/html; charset=utf-8",
        etag: str | None = None,
        location: str | None = None,
        retry_after: str | None = None,
        gzip_body: bool = False,
    ) -> None:
        data = body.encode() if isinstance(body, str) else body
        if gzip_body:
            data = gzip.compress(data, mtime=0)
        self.send_response(status)
        if status != 304:
            self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Last-Modified", LAST_MODIFIED)
        for name, value in (("ETag", etag), ("Location", location), ("Retry-After", retry_after)):
            if value:
                self.send_header(name, value)
        if gzip_body:
            self.send_header("Content-Encoding", "gzip")
        self.end_headers()
        self.wfile.write(data)


class NewsSite(LoopbackSite):
    """The site on an ephemeral port of 127.0.0.1; `base` is its URL."""

    def __init__(self) -> None:
        super().__init__(Handler)
        self.state = SiteState()


if __name__ == "__main__":  # serve it by hand: python -m tests.newsite
    with NewsSite() as site:
        print(site.base, flush=True)
        threading.Event().wait()
