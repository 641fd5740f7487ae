"""Crawls keep their clock: heavy link extraction and sitemap parsing never stall other downloads.

Two loopback sites, generated on the fly and answering at once: pages of 50,000 links each
(LinkFarm), and a sitemap index of 50,000 sitemaps of 50,000 URLs each (SitemapFarm, whose child
sitemaps are made from their number when asked for). Crawls run through the real CLI, as
subprocesses. `python -m tests.test_crawl_clock links|sitemaps` serves one of them by hand.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

from tests.conftest import Cli, warc_files, warcio_check
from tests.loopback import LoopbackSite

LINKS_PER_PAGE = 50_000
SITEMAPS = 50_000
URLS_PER_SITEMAP = 50_000
ARTICLE = (
    "<p>The harbour board met on Thursday to agree the spring dredging programme, which will keep the "
    "channel open for the ferry and the fishing fleet while the landing stage is rebuilt.</p>"
    "<p>Members asked the engineers to publish the timetable a month ahead so that boat owners can "
    "plan their moorings, and to report on the cost of the work at the next meeting.</p>"
)


class _Counted(BaseHTTPRequestHandler):
    """A handler that counts each request by the first segment of its path, and answers at once."""

    server: CountingSite  # type: ignore[assignment]
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: object) -> None:  # quiet
        pass

    def do_GET(self) -> None:
        kind = self.path.strip("/").split("/")[0]
        with self.server.lock:
            self.server.hits[kind] += 1
        body, media = self.server.answer(self.path)
        self.send_response(200 if body is not None else 404)
        payload = body if body is not None else b"not here"
        self.send_header("Content-Type", media)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


class CountingSite(LoopbackSite):
    """A generated site: `answer(path)` gives (body or None for a 404, media type); `hits` counts by kind."""

    def __init__(self) -> None:
        super().__init__(_Counted)
        self.hits: Counter[str] = Counter()
        self.lock = threading.Lock()

    def answer(self, path: str) -> tuple[bytes | None, str]:
        raise NotImplementedError


def _page(title: str, extra: str = "") -> bytes:
    return (
        f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{title}</title></head>"
        f"<body><main><article><h1>{title}</h1>{ARTICLE}</article></main>{extra}</body></html>"
    ).encode()


class LinkFarm(CountingSite):
    """`/p/I` (I < pages): an article and `links` links to `/x/I/J`; `/x/...` pages are small articles."""

    def __init__(self, pages: int, links: int = LINKS_PER_PAGE) -> None:
        super().__init__()
        self.pages = pages
        self.links = links
        self._cache: dict[int, bytes] = {}

    def urls(self) -> list[str]:
        return [f"{self.base}/p/{i}" for i in range(self.pages)]

    def answer(self, path: str) -> tuple[bytes | None, str]:
        found = re.fullmatch(r"/p/(\d+)", path)
        if found and int(found[1]) < self.pages:
            number = int(found[1])
            if number not in self._cache:
                links = "".join(f'<a href="/x/{number}/{j}">item {j}</a> ' for j in range(self.links))
                self._cache[number] = _page(f"Index page {number}", f"<nav>{links}</nav>")
            return self._cache[number], "text/html; charset=utf-8"
        if path.startswith("/x/"):
            return _page(f"Item {path}"), "text/html; charset=utf-8"
        return None, "text/plain"


class SitemapFarm(CountingSite):
    """`/sitemap.xml`: an index of `sitemaps` child sitemaps `/sitemaps/I.xml`, each of `per` URLs `/pages/I/J`.

    Hit kinds: `sitemap.xml`, `sitemaps` (children), `pages`, `robots.txt`. Children and pages are
    made from their numbers when asked for, so nothing is held but the index.
    """

    def __init__(self, sitemaps: int = SITEMAPS, per: int = URLS_PER_SITEMAP) -> None:
        super().__init__()
        self.sitemaps = sitemaps
        self.per = per
        self._index: bytes | None = None

    def answer(self, path: str) -> tuple[bytes | None, str]:
        xml = "application/xml"
        if path == "/sitemap.xml":
            if self._index is None:
                entries = "".join(
                    f"<sitemap><loc>{self.base}/sitemaps/{i}.xml</loc></sitemap>\n" for i in range(self.sitemaps)
                )
                self._index = _xml("sitemapindex", entries)
            return self._index, xml
        child = re.fullmatch(r"/sitemaps/(\d+)\.xml", path)
        if child and int(child[1]) < self.sitemaps:
            number = int(child[1])
            entries = "".join(f"<url><loc>{self.base}/pages/{number}/{j}</loc></url>\n" for j in range(self.per))
            return _xml("urlset", entries), xml
        if re.fullmatch(r"/pages/\d+/\d+", path):
            return _page(f"Page {path}"), "text/html; charset=utf-8"
        return None, "text/plain"


def _xml(root: str, entries: str) -> bytes:
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<{root} xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n'
        f"{entries}</{root}>\n"
    ).encode()


def _serve(which: str) -> None:
    site: CountingSite = LinkFarm(30) if which == "links" else SitemapFarm()
    with site:
        print(site.base + ("/p/0 ... /p/29" if which == "links" else "/sitemap.xml"), flush=True)
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
        signal.sigwait({signal.SIGINT, signal.SIGTERM})
        print(dict(site.hits), file=sys.stderr)


if __name__ == "__main__":
    _serve(sys.argv[1] if len(sys.argv) > 1 else "sitemaps")


# --- the tests ---------------------------------------------------------------------------------

# No fixed delay, a short timeout: a download the reactor left waiting would time out.
QUICK = ["--delay", "0", "--timeout", "10", "--allow-network", "127.0.0.1/32", "-s", "RETRY_BACKOFF_BASE=0.05"]


def _captures(db: str) -> list[str]:
    engine = create_engine(db)
    try:
        with engine.connect() as conn:
            return [row[0] for row in conn.execute(text("SELECT source_url FROM captures"))]
    except OperationalError:  # no catalog yet
        return []
    finally:
        engine.dispose()


@pytest.mark.slow
def test_pages_of_50000_links_each_time_nothing_out(cli: Cli) -> None:
    # Each page's links are read (50,000, capped at the first 10,000) while the others download; every
    # one is over --max-pages, so only the seeds are fetched. Extraction in this process (--jobs 1).
    with LinkFarm(pages=4) as site:
        done = cli("crawl", *site.urls(), "--max-pages", "4", *QUICK)
    assert done.code == 0, done.out + done.err
    assert "took longer" not in done.err, done.err
    assert sorted(_captures(cli.db)) == sorted(site.urls())
    assert site.hits == Counter({"p": 4, "robots.txt": 1})


@pytest.mark.slow
def test_a_sitemap_index_of_50000_sitemaps_is_read_only_as_far_as_pages_are_wanted(cli: Cli) -> None:
    with SitemapFarm() as site:
        done = cli("crawl", f"{site.base}/sitemap.xml", "--kind", "sitemap", "--max-pages", "20", *QUICK)
        hits = Counter(site.hits)
    assert done.code == 0, done.out + done.err
    pages = _captures(cli.db)
    assert len(pages) == len(set(pages)) == 20
    # The index once, its first two children (asked for together); the 20 pages from one or both of
    # them, each child's in its order: a child stops being read when the crawl has its 20.
    assert hits == Counter({"sitemap.xml": 1, "sitemaps": 2, "pages": 20, "robots.txt": 1})
    for url in pages:
        child, entry = (int(n) for n in url.removeprefix(f"{site.base}/pages/").split("/"))
        assert child in (0, 1) and entry < 20, url
    assert warcio_check(warc_files(cli.data)).returncode == 0


@pytest.mark.slow
@pytest.mark.parametrize("how", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_stops_a_crawl_amid_a_huge_sitemap_and_the_archive_is_whole(cli: Cli, how: signal.Signals) -> None:
    with SitemapFarm() as site:
        env = {**os.environ, **cli.env()}
        args = [f"{site.base}/sitemap.xml", "--kind", "sitemap", *QUICK, "-s", "ARCHIVE_COMMIT_EVERY=1"]
        proc = subprocess.Popen(
            [sys.executable, "-m", "archive.cli", "crawl", *args],
            cwd=cli.cwd,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        try:
            deadline = time.monotonic() + 300  # a hang guard, not a measure
            while len(_captures(cli.db)) < 3 and proc.poll() is None and time.monotonic() < deadline:
                time.sleep(0.05)
            assert proc.poll() is None, "the crawl ended before it could be stopped"
            proc.send_signal(how)
            out, err = proc.communicate(timeout=20)  # a hang guard: it used to take most of a minute
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
    assert b"Traceback" not in err, err.decode()
    assert proc.returncode == 130 and b"interrupted: resume with: scraper crawl --resume " in err, err.decode()
    assert len(_captures(cli.db)) >= 3, out.decode()
    verified = cli("verify")
    assert verified.code == 0 and "problems: 0" in verified.out, verified.out + verified.err
    check = warcio_check(warc_files(cli.data))
    assert check.returncode == 0, check.stdout + check.stderr
