"""The Meridian Courier: a fictional news site of 50 pages on 127.0.0.1 for shared-frontier crawls.

Home, four sections of ten articles each, and five "mirror" URLs serving byte-identical copies
of articles (so two URLs carry one text). robots.txt keeps crawlers out of /private/ and names
the sitemap. Every article carries the same reader-funding note inside its text, a line the
site repeats on every page (cross-capture evidence drops it). Each response can wait a little,
as a real server does, so several workers have something to share. The server counts every hit.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler
from urllib.parse import urlsplit

from tests.loopback import LoopbackSite

SECTIONS = ("harbour", "council", "schools", "weather")
PER_SECTION = 10
MIRRORED = ("harbour/story-3", "council/story-5", "schools/story-1", "weather/story-8", "weather/story-9")
FUNDING_NOTE = (
    "The Meridian Courier is an independent newsroom paid for by its readers; a monthly contribution keeps "
    "our reporters in the council chamber and on the quayside."
)
_PEOPLE = ("Ada Morrow", "Bram Oyelaran", "Cleo Vasquez", "Dorian Pike", "Esme Halvorsen", "Farid Quenby")
_PLACES = ("the north pier", "Saltmarsh Road", "the old customs house", "Kestrel Green", "the ferry slip")
_THINGS = ("a new footbridge", "the winter timetable", "a flood barrier", "the library roof", "a bus lane")
_VERBS = ("approved", "postponed", "questioned", "celebrated", "inspected", "rejected")


def articles() -> list[str]:
    """Return every article path, section by section."""
    return [f"{section}/story-{n}" for section in SECTIONS for n in range(PER_SECTION)]


def pages() -> list[str]:
    """Return the path of every page a crawl from the home page may archive (robots.txt allows them all)."""
    return ["/", *(f"/section/{s}" for s in SECTIONS), *(f"/news/{a}" for a in articles())] + [
        f"/mirror/{a}" for a in MIRRORED
    ]


def article_html(path: str) -> str:
    """Return an article page: navigation, the story (with the funding note), related links, footer."""
    section, story = path.split("/")
    n = int(story.split("-")[1]) + 7 * SECTIONS.index(section)
    who, where, what = _PEOPLE[n % 6], _PLACES[n % 5], _THINGS[(n // 2) % 5]
    verb = _VERBS[(n // 3) % 6]
    title = f"{who} and {what} at {where}"
    body = [
        f"Councillors {verb} plans for {what} at {where} on Tuesday, after {who} presented a survey of "
        f"{120 + 17 * n} households in the {section} district.",
        f"Residents near {where} said the work would change how they reach the harbour, and {who} promised "
        f"a second meeting before any contract is signed; story number {n} of the week.",
        f"The {section} desk will follow the decision, which is expected to cost {3 + n % 7} hundred thousand "
        f"crowns and take {2 + n % 5} months.",
        FUNDING_NOTE,
    ]
    related = "".join(f'<li><a href="/news/{other}">More {section} news</a></li>' for other in _neighbours(path))
    mirror = f'<p><a href="/mirror/{path}">Read this on our mirror</a></p>' if path in MIRRORED else ""
    paragraphs = "".join(f"<p>{p}</p>" for p in body)
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{title} | The Meridian Courier</title>'
        f'<meta name="author" content="{who}"><meta property="article:published_time" content="2026-04-{1 + n % 28:02d}">'
        f'</head><body><header><nav><a href="/">Home</a> {_nav()} <a href="/private/desk">Staff</a></nav></header>'
        f'<div class="ad">Advertisement</div><main><article><h1>{title}</h1><p class="byline">By {who}</p>'
        f"{paragraphs}{mirror}</article></main>"
        f'<aside class="related"><h3>Related</h3><ul>{related}</ul></aside>'
        "<footer><p>© 2026 The Meridian Courier</p></footer></body></html>"
    )


def _neighbours(path: str) -> list[str]:
    section, story = path.split("/")
    n = int(story.split("-")[1])
    return [f"{section}/story-{(n + k) % PER_SECTION}" for k in (1, 2)]


def _nav() -> str:
    return " ".join(f'<a href="/section/{s}">{s.title()}</a>' for s in SECTIONS)


def _section_html(section: str) -> str:
    links = "".join(
        f'<li><a href="/news/{a}">{section} story</a> {a}</li>' for a in articles() if a.startswith(section)
    )
    return f"<html><body><h1>{section.title()} news</h1><nav>{_nav()}</nav><ul>{links}</ul></body></html>"


class _Handler(BaseHTTPRequestHandler):
    server: Courier  # type: ignore[assignment]
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        path = urlsplit(self.path).path
        with self.server.lock:
            self.server.hits[path] += 1
            self.server.times.append((path, time.monotonic()))
        if self.server.latency:
            time.sleep(self.server.latency)
        base = self.server.base
        if path == "/":
            links = "".join(f'<li><a href="/section/{s}">{s}</a></li>' for s in SECTIONS)
            self._send(200, f"<html><body><h1>The Meridian Courier</h1><ul>{links}</ul></body></html>")
        elif path == "/robots.txt":
            self._send(200, f"User-agent: *\nDisallow: /private/\nSitemap: {base}/sitemap.xml\n", "text/plain")
        elif path == "/sitemap.xml":
            urls = "".join(f"<url><loc>{base}/news/{a}</loc></url>" for a in articles())
            xml = f'<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{urls}</urlset>'
            self._send(200, xml, "application/xml")
        elif path.startswith("/section/") and path[9:] in SECTIONS:
            self._send(200, _section_html(path[9:]))
        elif path.startswith(("/news/", "/mirror/")) and path.split("/", 2)[2] in articles():
            story = path.split("/", 2)[2]
            if path.startswith("/mirror/") and story not in MIRRORED:
                self._send(404, "<html><body>not mirrored</body></html>")
            else:
                self._send(200, article_html(story))
        else:
            self._send(404, "<html><body><h1>Not found</h1></body></html>")

    def _send(self, status: int, body: str, content_type: str = "text/html; charset=utf-8") -> None:
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class Courier(LoopbackSite):
    """The site on an ephemeral port of 127.0.0.1; `hits` counts requests per path, `times` when each came."""

    def __init__(self, latency: float = 0.0) -> None:
        super().__init__(_Handler)
        self.latency = latency
        self.hits: Counter[str] = Counter()
        self.times: list[tuple[str, float]] = []
        self.lock = threading.Lock()

    def handle_error(self, request: object, client_address: object) -> None:
        """Say nothing of a worker killed mid-request (the tests kill them); anything else as usual."""
        import sys

        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)  # type: ignore[arg-type]


if __name__ == "__main__":  # serve it by hand: python -m tests.courier
    with Courier(latency=0.05) as site:
        print(site.base, flush=True)
        threading.Event().wait()
