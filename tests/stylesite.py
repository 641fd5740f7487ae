"""A styled two-page site on 127.0.0.1 for page-requisite tests: real HTTP, real sockets.

The home page loads a stylesheet that @imports another and names a web font and a background
image, a script, an icon, an image with a srcset, an inline <style> and a style="" url(); it
also names an image on another site (`localhost`, the same server under another name) and one
on an internal address (127.0.0.2, where a listener counts connections it should never get).
A second page shares the stylesheet and script, and names an image the server does not have
(a 404). /big.js is larger than the tests' size cap (with a Content-Length), /stream.js too
(without one: its size shows only as it arrives).
"""

from __future__ import annotations

import socket
import threading
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from types import TracebackType
from typing import Self
from urllib.parse import urlsplit

from tests.loopback import LoopbackSite

__all__ = ["BIG_BYTES", "HOME_REQUISITES", "REQUISITES", "SECOND_REQUISITES", "InternalListener", "StyleSite"]

BIG_BYTES = 300_000
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 24
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 28 + b"\xff\xd9"
# Path -> (media type, body): everything the two pages need to render.
REQUISITES: dict[str, tuple[str, bytes]] = {
    "/css/site.css": (
        "text/css; charset=utf-8",
        b'@import url("base.css");\n'
        b'@font-face { font-family: "Ledger Serif"; src: url("/fonts/ledger.woff2") format("woff2"); }\n'
        b'body { background: #fdfaf3 url(../img/paper.png); font-family: "Ledger Serif", serif; }\n',
    ),
    "/css/base.css": ("text/css", b"h1 { border-bottom: 2px solid #234; background-image: url(/img/rule.png); }\n"),
    "/fonts/ledger.woff2": ("font/woff2", b"wOF2" + b"\x00" * 60),
    "/img/paper.png": ("image/png", PNG),
    "/img/rule.png": ("image/png", PNG),
    "/favicon.ico": ("image/x-icon", b"\x00\x00\x01\x00" + b"\x00" * 12),
    "/js/app.js": ("text/javascript", b"document.documentElement.className = 'js';\n"),
    "/img/masthead.png": ("image/png", PNG),
    "/img/harbour.jpg": ("image/jpeg", JPEG),
    "/img/harbour-2x.jpg": ("image/jpeg", JPEG),
    "/img/harbour-3x.jpg": ("image/jpeg", JPEG),
    "/img/badge.png": ("image/png", PNG),
    "/img/weekend.jpg": ("image/jpeg", JPEG),
    "/img/lighthouse.png": ("image/png", PNG),  # named by the home page as http://localhost:PORT/...
    "/big.js": ("text/javascript", b"//" + b"x" * BIG_BYTES + b"\n"),
    "/stream.js": ("text/javascript", b"//" + b"y" * BIG_BYTES + b"\n"),
}
# The home page's same-site requisites in document order, then what its stylesheets load.
HOME_REQUISITES = [
    "/css/site.css",
    "/favicon.ico",
    "/js/app.js",
    "/img/masthead.png",
    "/img/harbour.jpg",
    "/img/harbour-2x.jpg",
    "/img/harbour-3x.jpg",
    "/img/badge.png",
    "/big.js",
    "/stream.js",
    "/css/base.css",
    "/fonts/ledger.woff2",
    "/img/paper.png",
    "/img/rule.png",
]
SECOND_REQUISITES = ["/css/site.css", "/js/app.js", "/img/weekend.jpg"]  # and /img/missing.png, a 404

HOME = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Tide tables | The Tidewater Ledger</title>
<link rel="stylesheet" href="/css/site.css">
<link rel="icon" href="/favicon.ico">
<link rel="alternate" type="application/rss+xml" href="/feed.xml">
<script src="/js/app.js"></script>
<style>.masthead {{ background: url("/img/masthead.png") no-repeat; }}</style>
</head><body>
<header class="masthead"><h1>Tide tables for the harbour</h1></header>
<main><article>
<p>High water at the harbour mouth comes forty minutes later than at the outer buoy, and the pilots ask
skippers of deep boats to wait for the second hour of the flood before they cross the bar.</p>
<img src="/img/harbour.jpg" srcset="/img/harbour-2x.jpg 2x, /img/harbour-3x.jpg 3x" alt="The harbour at low water">
<div class="badge" style="background-image: url('/img/badge.png')">Local</div>
<p>Spring tides this month fall on the fourth and the nineteenth, when the fish market opens an hour early
so that the boats can land before the water drops below the lower steps.</p>
<img src="{offsite}/img/lighthouse.png" alt="The lighthouse">
<img src="{internal}/img/secret.png" alt="">
<script src="/big.js"></script><script src="/stream.js"></script>
</article></main>
<footer><a href="/tides/weekend">Weekend tides</a></footer>
</body></html>"""
SECOND = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Weekend tides | The Tidewater Ledger</title>
<link rel="stylesheet" href="/css/site.css"><script src="/js/app.js"></script></head><body>
<main><article><h1>Weekend tides</h1>
<p>Saturday's low water falls just after noon, which leaves the sands by the lighthouse open for most of the
afternoon; the lifeboat crew reminds walkers that the channel fills from the landward side first.</p>
<img src="/img/weekend.jpg" alt="The sands at low water"><img src="/img/missing.png" alt="">
</article></main></body></html>"""


@dataclass
class SiteState:
    hits: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)


class Handler(BaseHTTPRequestHandler):
    server: StyleSite
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: object) -> None:  # quiet
        pass

    def handle(self) -> None:
        try:
            super().handle()
        except ConnectionError:  # the crawler gave up on a body over its size cap
            self.close_connection = True

    def do_GET(self) -> None:
        path = urlsplit(self.path).path
        with self.server.state.lock:
            self.server.state.hits[path] += 1
        if path == "/":
            self._send("text/html; charset=utf-8", self.server.home().encode())
        elif path == "/tides/weekend":
            self._send("text/html; charset=utf-8", SECOND.encode())
        elif path == "/stream.js":
            self._stream(*REQUISITES[path])
        elif path in REQUISITES:
            self._send(*REQUISITES[path])
        else:
            self._send("text/plain", b"not found", status=404)

    def _send(self, media_type: str, body: bytes, status: int = 200) -> None:
        self.send_response(status)
        self.send_header("Content-Type", media_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _stream(self, media_type: str, body: bytes) -> None:
        """Send the body chunked, so its size is known only as it arrives."""
        self.send_response(200)
        self.send_header("Content-Type", media_type)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for start in range(0, len(body), 16_384):
            chunk = body[start : start + 16_384]
            self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        self.wfile.write(b"0\r\n\r\n")


class InternalListener:
    """A TCP port on an internal loopback address (127.0.0.2) that counts the connections it gets."""

    def __init__(self, host: str = "127.0.0.2") -> None:
        self.sock = socket.create_server((host, 0))
        self.base = f"http://{host}:{self.sock.getsockname()[1]}"
        self.connections = 0
        self._thread = threading.Thread(target=self._accept, daemon=True)

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            conn.close()

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.sock.close()


class StyleSite(LoopbackSite):
    """The styled site on an ephemeral port of 127.0.0.1; `base` is its URL, `offsite` the same server as localhost."""

    def __init__(self, internal: str) -> None:
        super().__init__(Handler)
        self.state = SiteState()
        self.internal = internal
        self.offsite = f"http://localhost:{self.server_address[1]}"

    def home(self) -> str:
        return HOME.format(offsite=self.offsite, internal=self.internal)


if __name__ == "__main__":  # serve it by hand: python -m tests.stylesite
    with InternalListener() as listener, StyleSite(listener.base) as site:
        print(site.base, flush=True)
        threading.Event().wait()
