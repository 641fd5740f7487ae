"""Page requisites: what a page needs to render is found in its HTML and CSS, fetched once per crawl, archived raw.

The URL extraction, the per-page cap and the scope rules are tested here in this process (no
reactor); the crawls run the real CLI against a styled site on 127.0.0.1 (tests/stylesite.py)
and read the WARC files back with warcio.
"""

from __future__ import annotations

import http.client
import json
import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from parsel import Selector
from scrapy.http import HtmlResponse, Request, TextResponse
from warcio.archiveiterator import ArchiveIterator

from archive.catalog.facade import Catalog
from archive.catalog.runs import CrawlRun
from archive.cli import build_parser
from archive.cli.crawl import _plan
from archive.crawl.items import ExchangeItem
from archive.crawl.requisites import Requisite, allot, css_references, css_requisites, html_requisites, srcset_urls
from archive.crawl.scope import DEFAULT_REQUISITES_PER_PAGE, CrawlScope, LocalLedger, ScopeOptions
from archive.crawl.seeds import Seed
from archive.frontier.store import Frontier
from archive.schedule import ScheduleError, load_schedule
from spiders.site import SiteSpider
from tests.conftest import Cli, warc_files, warcio_check
from tests.frontier_faults import reaped, start_workers
from tests.pywb import Pywb
from tests.stylesite import HOME_REQUISITES, REQUISITES, SECOND_REQUISITES, InternalListener, StyleSite

# --- finding requisites in HTML -----------------------------------------------------------------

PAGE = """<html><head><base href="/news/">
<link rel="stylesheet" href="css/site.css"><link rel="alternate stylesheet" href="css/contrast.css" title="High">
<link rel="preload" href="fonts/serif.woff2" as="font"><link rel="preload" href="css/late.css" as="style">
<link rel="icon" href="/favicon.ico"><link rel="apple-touch-icon" href="/touch.png">
<link rel="alternate" type="application/rss+xml" href="/feed.xml"><link rel="canonical" href="/news/page">
<link rel="prefetch" href="/next-page"><link rel="modulepreload" href="js/module.mjs">
<style>@import "css/print.css" print; .hero { background: url(img/hero.png) }</style>
<script src="js/app.js"></script><script>var s = "<img src=not-a-tag.png>";</script>
</head><body background="img/paper.gif">
<img src="img/a.jpg" srcset="img/a-2x.jpg 2x, img/a,wide.jpg 1200w" alt="">
<picture><source srcset="img/b.webp 1x, img/b-2x.webp 2x" type="image/webp"><img src="img/b.jpg"></picture>
<video poster="img/poster.jpg" src="media/clip.mp4"><source src="media/clip.webm"><track src="media/en.vtt"></video>
<audio src="media/tide.mp3"></audio>
<input type="image" src="img/go.png"><input type="text" src="img/not-an-image.png">
<div style="background-image: url('img/inline.png'); mask: url(#clip)">x</div>
<img src="data:image/png;base64,iVBORw0KGgo="><img src="javascript:void(0)"><img src="">
<img src="img/a.jpg#again"><a href="/news/other-page">another page</a><iframe src="/embedded"></iframe>
<img src="https://cdn.example/img/c.png">
</body></html>"""


def test_a_pages_requisites_are_found_in_document_order_each_once() -> None:
    found = html_requisites(Selector(text=PAGE), "https://ledger.example/news/page")
    base = "https://ledger.example/news/"
    assert found == [
        Requisite(base + "css/site.css", stylesheet=True),
        Requisite(base + "css/contrast.css", stylesheet=True),
        Requisite(base + "fonts/serif.woff2"),
        Requisite(base + "css/late.css", stylesheet=True),  # preloaded as a style: its url()s count too
        Requisite("https://ledger.example/favicon.ico"),
        Requisite("https://ledger.example/touch.png"),
        Requisite(base + "js/module.mjs"),
        Requisite(base + "css/print.css", stylesheet=True),
        Requisite(base + "img/hero.png"),
        Requisite(base + "js/app.js"),
        Requisite(base + "img/paper.gif"),
        Requisite(base + "img/a.jpg"),
        Requisite(base + "img/a-2x.jpg"),
        Requisite(base + "img/a,wide.jpg"),
        Requisite(base + "img/b.webp"),
        Requisite(base + "img/b-2x.webp"),
        Requisite(base + "img/b.jpg"),
        Requisite(base + "img/poster.jpg"),
        Requisite(base + "media/clip.mp4"),
        Requisite(base + "media/clip.webm"),
        Requisite(base + "media/en.vtt"),
        Requisite(base + "media/tide.mp3"),
        Requisite(base + "img/go.png"),
        Requisite(base + "img/inline.png"),
        Requisite("https://cdn.example/img/c.png"),
    ]
    # Not requisites: feeds, canonical and prefetched pages, links, frames, data: and javascript:
    # URLs, a script's text, an <input> that is not an image, an SVG fragment (#clip).


def test_a_page_without_base_resolves_against_its_own_url() -> None:
    page = Selector(text='<img src="a.png"><img src="../b.png"><img src="//cdn.example/c.png">')
    assert [r.url for r in html_requisites(page, "http://site.example/x/y.html")] == [
        "http://site.example/x/a.png",
        "http://site.example/b.png",
        "http://cdn.example/c.png",
    ]


@pytest.mark.parametrize(
    ("srcset", "urls"),
    [
        ("a.jpg", ["a.jpg"]),
        ("a.jpg 1x, b.jpg 2x", ["a.jpg", "b.jpg"]),
        ("  a.jpg  480w ,b.jpg   800w  ", ["a.jpg", "b.jpg"]),
        ("a.jpg,b.jpg 2x", ["a.jpg,b.jpg"]),  # no space after the comma: one URL, as the HTML standard reads it
        ("a.jpg, b.jpg", ["a.jpg", "b.jpg"]),
        ("img?w=100,h=50 1x, img?w=200,h=100 2x", ["img?w=100,h=50", "img?w=200,h=100"]),
        ("a.jpg 100w (ignored, here), b.jpg 2x", ["a.jpg", "b.jpg"]),
        ("a.jpg,, ,b.jpg", ["a.jpg", "b.jpg"]),
        ("", []),
    ],
)
def test_srcset_candidates_are_read_as_the_html_standard_says(srcset: str, urls: list[str]) -> None:
    assert srcset_urls(srcset) == urls


# --- finding requisites in CSS ----------------------------------------------------------------------

STYLESHEET = r"""@charset "utf-8";
@namespace svg url(http://www.w3.org/2000/svg);
@import "base.css";
@IMPORT url('print.css') print;
@import url(grid.css) supports(display: grid) screen;
/* url(commented-out.png) and @import "nope.css"; */
@font-face { font-family: "Ledger"; src: local("Ledger"), url(/fonts/ledger.woff2) format("woff2"),
  URL( "fonts/ledger.woff" ) format("woff"); }
.quote::before { content: "url(not-a-url.png)"; }
.a { background: url( spaced.png ) , url(paren\).png); }
.b { background-image: image-set("b1.png" 1x, url(b2.png) 2x); }
.c { background-image: -webkit-image-set(url(c1.png) 1x); mask: url(#mask); }
.d { background: u\72l(escaped.png); list-style: url("\66 ont.png"); }
.e { cursor: url(data:image/png;base64,AAAA), auto; }
.f { filter: drop-shadow(0 0 2px red); }
"""


def test_css_references_are_found_outside_comments_and_strings() -> None:
    assert css_references(STYLESHEET) == [
        ("base.css", True),
        ("print.css", True),
        ("grid.css", True),
        ("/fonts/ledger.woff2", False),
        ("fonts/ledger.woff", False),
        ("spaced.png", False),
        ("paren).png", False),
        ("b1.png", False),
        ("b2.png", False),
        ("c1.png", False),
        ("#mask", False),
        ("escaped.png", False),
        ("font.png", False),
        ("data:image/png;base64,AAAA", False),
    ]


def test_a_stylesheets_requisites_resolve_against_the_stylesheet() -> None:
    found = css_requisites(STYLESHEET, "https://ledger.example/css/site.css")
    assert found[:5] == [
        Requisite("https://ledger.example/css/base.css", stylesheet=True),
        Requisite("https://ledger.example/css/print.css", stylesheet=True),
        Requisite("https://ledger.example/css/grid.css", stylesheet=True),
        Requisite("https://ledger.example/fonts/ledger.woff2"),
        Requisite("https://ledger.example/css/fonts/ledger.woff"),
    ]
    urls = [r.url for r in found]
    assert not [u for u in urls if "#" in u or u.startswith("data:") or "not-a-url" in u or "w3.org" in u]


@pytest.mark.parametrize(
    ("css", "refs"),
    [
        ("", []),
        ("a { background: url(", []),  # cut off: nothing to fetch
        ("a { background: url(x.png", [("x.png", False)]),
        ('a { background: url("x.png', [("x.png", False)]),
        ('@import "unterminated\n.b { background: url(y.png) }', [("unterminated", True), ("y.png", False)]),
        ("/* never closed url(x.png)", []),
        ('a { content: "\\"url(x.png)\\"" }', []),
        ("a{background:url('a.png')}b{background:url(\"b.png\")}", [("a.png", False), ("b.png", False)]),
        ("a { background: url() }", []),
        ("@import 'x.css'", [("x.css", True)]),
        ("@media print { @import 'late.css'; a { background: url(p.png) } }", [("late.css", True), ("p.png", False)]),
    ],
)
def test_the_css_scanner_survives_broken_and_tricky_input(css: str, refs: list[tuple[str, bool]]) -> None:
    assert css_references(css) == refs


# --- the per-page cap ----------------------------------------------------------------------------


def _r(name: str, sheet: bool = False) -> Requisite:
    return Requisite(f"https://a.example/{name}", sheet)


def test_the_per_page_cap_is_shared_with_what_stylesheets_load() -> None:
    found = [_r("a.css", True), _r("1.png"), _r("b.css", True), _r("2.png")]
    allotted, over = allot(found, 11)  # 4 taken, 7 left for the two stylesheets: 4 and 3
    assert allotted == [(found[0], 4), (found[1], 0), (found[2], 3), (found[3], 0)] and over == 0
    allotted, over = allot(found, 3)
    assert allotted == [(found[0], 0), (found[1], 0), (found[2], 0)] and over == 1
    assert allot(found, 0) == ([], 4)
    assert allot([], 5) == ([], 0)


def _spider(**options: object) -> SiteSpider:
    return SiteSpider([Seed("https://ledger.example/", "page")], requisites=True, **options)  # type: ignore[arg-type]


def _page(spider: SiteSpider, url: str, html: str) -> HtmlResponse:
    request = Request(url, meta={"kind": "page", "hops_left": 0, "seed": 0, "sitemap_depth": 0, "from_seed": True})
    return HtmlResponse(url, body=html.encode(), headers={"Content-Type": "text/html"}, request=request)


def _requests(items: Iterator[object]) -> list[Request]:
    return [item for item in items if isinstance(item, Request)]


def test_a_page_asks_for_its_requisites_within_its_cap_and_its_stylesheets_for_theirs() -> None:
    spider = _spider(requisites_per_page=4, requisite_max_bytes=5000)
    html = (
        '<link rel=stylesheet href="/s.css"><img src="/1.png"><img src="https://cdn.example/x.png">'
        '<img src="/2.png"><img src="/3.png"><img src="/4.png">'
    )
    requests = _requests(spider._page(_page(spider, "https://ledger.example/", html)))
    assert [r.url for r in requests] == [f"https://ledger.example/{n}" for n in ("s.css", "1.png", "2.png", "3.png")]
    sheet = requests[0]
    assert sheet.meta["kind"] == "requisite" and sheet.meta["stylesheet"] and sheet.meta["requisite_budget"] == 0
    assert sheet.meta["download_maxsize"] == 5000 and not sheet.dont_filter  # once per crawl: the dupefilter's
    assert sheet.meta["requisite_of"] == "https://ledger.example/" and "archive_page" not in sheet.meta

    spider = _spider(requisites_per_page=6)
    requests = _requests(spider._page(_page(spider, "https://ledger.example/", html)))
    sheet = requests[0]
    assert sheet.meta["requisite_budget"] == 1  # 6 - 5 same-site references
    css = b'@import "more.css"; a { background: url(/bg.png) }'
    answer = TextResponse(sheet.url, body=css, headers={"Content-Type": "text/css"}, request=sheet)
    items = list(spider._requisite(answer))
    assert isinstance(items[0], ExchangeItem) and items[0].why == "requisite"
    assert items[0].capture.url == sheet.url and items[0].capture.payload == css
    [imported] = _requests(iter(items))
    assert imported.url == "https://ledger.example/more.css" and imported.meta["requisite_budget"] == 0


def test_a_stylesheet_served_as_text_plain_is_read_only_when_the_page_said_it_is_one() -> None:
    spider = _spider()
    meta = {"kind": "requisite", "seed": 0, "requisite_of": "https://ledger.example/", "requisite_budget": 5}
    css = b"a { background: url(/bg.png) }"
    for stylesheet, expected in ((True, ["https://ledger.example/bg.png"]), (False, [])):
        request = Request("https://ledger.example/s", meta={**meta, "stylesheet": stylesheet})
        answer = TextResponse(request.url, body=css, headers={"Content-Type": "text/plain"}, request=request)
        assert [r.url for r in _requests(spider._requisite(answer))] == expected


def test_without_the_option_a_page_asks_for_no_requisites() -> None:
    spider = SiteSpider([Seed("https://ledger.example/", "page")])
    requests = _requests(spider._page(_page(spider, "https://ledger.example/", '<img src="/1.png">')))
    assert requests == []


# --- scope -------------------------------------------------------------------------------------


def test_requisites_come_from_the_pages_site_unless_allowed_and_never_from_denied_places() -> None:
    def scope(**options: object) -> CrawlScope:
        return CrawlScope(ScopeOptions(requisites=True, **options), LocalLedger([]))  # type: ignore[arg-type]

    page = "https://www.ledger.example/news/page"
    default = scope()
    assert default.requisite_in_scope("https://ledger.example/a.css", page)  # www. is the same site
    assert not default.requisite_in_scope("https://cdn.ledger.example/a.css", page)
    assert not default.requisite_in_scope("ftp://ledger.example/a.css", page)
    assert scope(allow_domains=("ledger.example",)).requisite_in_scope("https://cdn.ledger.example/a.css", page)
    anywhere = scope(requisites_any_site=True, deny_domains=("ads.example",), deny=(r"/tracker\.js$",))
    assert anywhere.requisite_in_scope("https://cdn.other.example/a.css", page)
    assert not anywhere.requisite_in_scope("https://x.ads.example/a.png", page)
    assert not anywhere.requisite_in_scope("https://ledger.example/tracker.js", page)
    # Page rules are not requisite rules: --allow REGEX narrows pages, not what they render with.
    assert scope(allow=(r"/news/",)).requisite_in_scope("https://ledger.example/css/a.css", page)


def test_the_options_travel_with_a_crawl_in_the_frontier_as_json() -> None:
    options = ScopeOptions(requisites=True, requisites_per_page=7, requisite_max_bytes=1000, requisites_any_site=True)
    assert ScopeOptions.from_dict(json.loads(json.dumps(options.to_dict()))) == options
    assert (
        ScopeOptions.from_dict({"requisites": True, "requisites_per_page": None}).requisites_per_page
        == DEFAULT_REQUISITES_PER_PAGE
    )


def test_the_command_line_records_the_options_and_a_resumed_crawl_keeps_them() -> None:
    parser = build_parser()
    args = parser.parse_args(
        ["crawl", "https://ledger.example/", "--requisites", "--requisites-per-page", "7", "--requisites-any-site"]
    )
    plan = _plan(args)
    assert plan.spider_args["requisites"] and plan.spider_args["requisites_per_page"] == 7
    assert plan.crawl_args["requisites"] and plan.crawl_args["requisites_any_site"]
    assert "requisite_max_bytes" not in plan.crawl_args  # not given: the default, not recorded
    previous = CrawlRun("c1", "crawl", "2026-01-01T00:00:00Z", None, "interrupted", args=plan.crawl_args)
    resumed = _plan(parser.parse_args(["crawl", "--resume"]), previous)
    assert resumed.spider_args["requisites"] and resumed.spider_args["requisites_per_page"] == 7
    assert resumed.seeds == plan.seeds
    with pytest.raises(SystemExit):
        parser.parse_args(["crawl", "https://ledger.example/", "--requisites-per-page", "0"])


def test_a_schedule_job_asks_for_requisites(tmp_path: Path) -> None:
    path = tmp_path / "schedule.toml"
    path.write_text(
        "[defaults]\nrequisites = true\nrequisites_per_page = 30\n"
        '[jobs.home]\nseeds = ["https://ledger.example/"]\nevery = "1h"\nrequisite_max_bytes = 5000\n'
        '[jobs.plain]\nseeds = ["https://ledger.example/feed.xml"]\nevery = "1h"\nrequisites = false\n',
        encoding="utf-8",
    )
    home, plain = load_schedule(path)
    assert home.crawl_args == [
        "https://ledger.example/",
        "--requisites-per-page",
        "30",
        "--requisite-max-bytes",
        "5000",
        "--requisites",
        "--job",
        "home",
    ]
    assert "--requisites" not in plain.crawl_args
    path.write_text('[jobs.bad]\nseeds = ["https://a.example/"]\nevery = "1h"\nrequisites = "yes"\n', encoding="utf-8")
    with pytest.raises(ScheduleError, match="requisites must be true or false"):
        load_schedule(path)


# --- crawls ------------------------------------------------------------------------------------

LOOPBACK = ["--allow-network", "127.0.0.1/32"]
FAST = ["--delay", "0", "--timeout", "5", "--retries", "0", "--jobs", "1", *LOOPBACK]


@pytest.fixture
def styled() -> Iterator[tuple[StyleSite, InternalListener]]:
    with InternalListener() as internal, StyleSite(internal.base) as site:
        yield site, internal


def _responses(data: Path) -> Counter[str]:
    """How many response records each URL has, over every WARC file."""
    found: Counter[str] = Counter()
    for path in warc_files(data):
        with path.open("rb") as handle:
            for record in ArchiveIterator(handle):
                if record.rec_type == "response":
                    found[record.rec_headers.get_header("WARC-Target-URI")] += 1
    return found


def _payloads(data: Path) -> dict[str, tuple[str, str | None, bytes]]:
    """URL -> (status line, Content-Type, payload) of each response record, with the request it answers."""
    found: dict[str, tuple[str, str | None, bytes]] = {}
    requests: dict[str, str] = {}
    for path in warc_files(data):
        with path.open("rb") as handle:
            for record in ArchiveIterator(handle):
                uri = record.rec_headers.get_header("WARC-Target-URI")
                if record.rec_type == "request":
                    requests[record.rec_headers.get_header("WARC-Record-ID")] = uri
                elif record.rec_type == "response":
                    assert requests.get(record.rec_headers.get_header("WARC-Concurrent-To")) == uri
                    headers = record.http_headers
                    found[uri] = (
                        headers.statusline,
                        headers.get_header("Content-Type"),
                        record.content_stream().read(),
                    )
    return found


def _truncated(data: Path) -> dict[str, tuple[str, bytes]]:
    """URL -> (WARC-Truncated reason, payload as stored) of each response record marked truncated."""
    found: dict[str, tuple[str, bytes]] = {}
    for path in warc_files(data):
        with path.open("rb") as handle:
            for record in ArchiveIterator(handle):
                reason = record.rec_headers.get_header("WARC-Truncated")
                if record.rec_type == "response" and reason:
                    found[record.rec_headers.get_header("WARC-Target-URI")] = (reason, record.content_stream().read())
    return found


def _export(cli: Cli) -> list[dict[str, object]]:
    return [json.loads(line) for line in cli("export", "--format", "jsonl", check=True).out.splitlines()]


def test_a_styled_site_is_archived_with_every_requisite_once(
    cli: Cli, styled: tuple[StyleSite, InternalListener]
) -> None:
    site, internal = styled
    done = cli("crawl", f"{site.base}/", "--requisites", "--requisite-max-bytes", "100000", *FAST)
    assert done.code == 0, done.out + done.err
    wanted = [p for p in dict.fromkeys(HOME_REQUISITES + SECOND_REQUISITES) if p not in ("/big.js", "/stream.js")]
    # Fetched once each, though both pages name the stylesheet and the script.
    assert {p: site.state.hits[p] for p in wanted} == dict.fromkeys(wanted, 1)
    archived = _payloads(cli.data)
    for path in wanted:
        status, media_type, payload = archived[site.base + path]
        assert (status, media_type, payload) == ("200 OK", REQUISITES[path][0], REQUISITES[path][1]), path
    # Each once; the image the server does not have too, its 404 as answered (as every 4xx is).
    pages = {f"{site.base}/", f"{site.base}/tides/weekend"}
    responses = {u: n for u, n in _responses(cli.data).items() if u not in pages and not u.endswith("/robots.txt")}
    too_large = ["/big.js", "/stream.js"]
    assert responses == dict.fromkeys((site.base + p for p in [*wanted, "/img/missing.png", *too_large]), 1)
    assert archived[f"{site.base}/img/missing.png"][0] == "404 Not Found"
    # Larger than the cap, with and without a Content-Length: counted as too large, and archived
    # up to the cap as a record marked WARC-Truncated: length (as every over-limit body is).
    truncated = _truncated(cli.data)
    for path in too_large:
        assert site.state.hits[path] == 1
        reason, payload = truncated[site.base + path]
        assert reason == "length", path
        assert 0 < len(payload) <= 100_000 < len(REQUISITES[path][1])
        assert REQUISITES[path][1].startswith(payload), path
    # Another site (localhost) and an internal address are out of scope: never asked.
    assert site.state.hits["/img/lighthouse.png"] == 0 and internal.connections == 0
    assert f"{len(wanted)} requisites" in done.out
    assert f"requisites: {len(wanted)} archived, 0 over the per-page cap, 2 too large, 1 failed, 2 out of scope" in (
        done.out
    )
    # The catalog holds the pages, and only the pages.
    assert sorted(r["source_url"] for r in _export(cli)) == [f"{site.base}/", f"{site.base}/tides/weekend"]
    assert "(2 documents, 2 captures" in done.out
    check = warcio_check(warc_files(cli.data))
    assert check.returncode == 0, check.stdout + check.stderr


def test_the_per_page_cap_bounds_what_a_page_and_its_stylesheets_fetch(
    cli: Cli, styled: tuple[StyleSite, InternalListener]
) -> None:
    site, _ = styled
    # The home page names 10 same-site requisites; a cap of 12 leaves 2 for its stylesheet, which
    # takes the stylesheet it imports (with nothing left for that one's image) and the web font.
    done = cli("crawl", f"{site.base}/", "--depth", "0", "--requisites", "--requisites-per-page", "12", *FAST)
    assert done.code == 0, done.out + done.err
    fetched = {p for p in REQUISITES if site.state.hits[p]}
    assert fetched == set(HOME_REQUISITES[:10]) | {"/css/base.css", "/fonts/ledger.woff2"}
    assert "requisites: 12 archived, 2 over the per-page cap" in done.out  # paper.png and base.css's rule.png


def test_requisites_from_other_sites_when_allowed_and_the_network_guard_still_holds(
    cli: Cli, styled: tuple[StyleSite, InternalListener], monkeypatch: pytest.MonkeyPatch
) -> None:
    site, internal = styled
    monkeypatch.setenv("SCRAPER_LOG_LEVEL", "INFO")  # the spider names each requisite it could not archive
    args = ["crawl", f"{site.base}/", "--depth", "0", "--requisites", "--requisites-any-site", *FAST]
    done = cli(*args)
    assert done.code == 0, done.out + done.err  # a requisite refused is counted, not a failed page
    assert _responses(cli.data)[f"{site.offsite}/img/lighthouse.png"] == 1
    assert internal.connections == 0  # refused before connecting
    assert f"{internal.base}/img/secret.png: refused 127.0.0.2: 127.0.0.2 is a loopback address" in done.err
    assert ", 0 too large, 1 failed, 0 out of scope" in done.out
    assert not [u for u in _responses(cli.data) if u.startswith(internal.base)]
    # Allowed by --allow-network, the same requisite is asked for (the listener answers nothing).
    again = cli(*args, "--allow-network", "127.0.0.2/32")
    assert internal.connections >= 1, again.out + again.err


@pytest.mark.slow
def test_a_shared_crawl_fetches_each_requisite_once_across_workers(
    tmp_path: Path, frontier: Frontier, styled: tuple[StyleSite, InternalListener]
) -> None:
    site, _ = styled
    data, db = tmp_path / "data", f"sqlite:///{tmp_path / 'catalog.sqlite'}"
    where = ["--frontier", frontier.url, "--frontier-name", frontier.name]
    queued = Cli(cwd=tmp_path, data=data, db=db)("enqueue", f"{site.base}/", "--requisites", "--delay", "0", *where)
    assert queued.code == 0, queued.err
    [run] = [r["id"] for r in frontier.runs()]
    assert frontier.options(run)["requisites"] is True  # the crawl's option, read by every worker
    with reaped(start_workers(data, db, frontier, ["w1", "w2"], "--delay", "0")) as procs:
        results = [(proc.wait(timeout=600), *proc.communicate()) for proc in procs]
    assert [code for code, _, _ in results] == [0, 0], [err[-2000:] for _, _, err in results]
    wanted = dict.fromkeys(HOME_REQUISITES + SECOND_REQUISITES)
    assert {p: site.state.hits[p] for p in wanted} == dict.fromkeys(wanted, 1)
    responses = {u: n for u, n in _responses(data).items() if not u.endswith("/robots.txt")}
    assert {site.base + p for p in wanted} <= set(responses) and set(responses.values()) == {1}
    catalog = Catalog(db)
    try:
        assert catalog.count()["captures"] == 2
    finally:
        catalog.close()


# --- replay --------------------------------------------------------------------------------------

# A replayed URL: /warcs/[TIMESTAMP][MODIFIER_]/ORIGINAL (urljoin squeezes its "//" as a browser would not).
_REPLAYED = re.compile(r"^/warcs/((?:\d{14})?(?:[a-z]{2}_)?)/(https?:)/+(.+)$")


def _pywb_get(port: int, path: str) -> tuple[int, str, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, (response.getheader("Content-Type") or "").split(";")[0], response.read()
    finally:
        connection.close()


def _replay_as_a_browser(port: int, page: str) -> dict[str, int]:
    """Load a page from pywb as a browser would; return original URL -> status of everything it loads.

    Every requisite a browser would ask for, the page's and its stylesheets', must point at pywb.
    """
    answers: dict[str, int] = {}
    status, _, body = _pywb_get(port, f"/warcs/mp_/{page}")
    assert status == 200
    replayed_page = f"http://127.0.0.1:{port}/warcs/mp_/{page}"
    waiting = html_requisites(Selector(text=body.decode()), replayed_page)
    while waiting:
        requisite = waiting.pop(0)
        parts = urlsplit(requisite.url)
        assert parts.netloc == f"127.0.0.1:{port}", f"{requisite.url} would be fetched from the live web"
        if parts.path.startswith("/static/"):  # pywb's own replay scripts
            continue
        original = _REPLAYED.match(parts.path + (f"?{parts.query}" if parts.query else ""))
        assert original is not None, requisite.url
        when, scheme, rest = original.groups()
        url = f"{scheme}//{rest}"
        if url in answers:
            continue
        status, media, body = _pywb_get(port, f"/warcs/{when}/{url}")
        answers[url] = status
        if status == 200 and media == "text/css":
            waiting += css_requisites(body.decode(), requisite.url)
    return answers


@pytest.mark.slow
def test_pywb_replays_the_styled_pages_with_every_requisite_from_the_archive(cli: Cli, tmp_path: Path) -> None:
    with InternalListener() as internal, StyleSite(internal.base) as site:
        cli("crawl", f"{site.base}/", "--requisites", *FAST, check=True)
        base, offsite = site.base, site.offsite
    # The live site is gone: whatever pywb serves now comes from the archive.
    wanted = {base + p for p in dict.fromkeys(HOME_REQUISITES + SECOND_REQUISITES)}
    with Pywb(tmp_path / "pywb") as pywb:
        pywb.add_warcs("warcs", warc_files(cli.data))
        pywb.start()
        loaded = _replay_as_a_browser(pywb.port, f"{base}/") | _replay_as_a_browser(pywb.port, f"{base}/tides/weekend")
        assert {url for url, status in loaded.items() if status == 200} == wanted
        # Never archived (another site, an internal address): not found, and not fetched live either;
        # the image the site did not have is its archived 404.
        assert {url: status for url, status in loaded.items() if url not in wanted} == {
            f"{offsite}/img/lighthouse.png": 404,
            f"{internal.base}/img/secret.png": 404,
            f"{base}/img/missing.png": 404,
        }
        assert pywb.get("warcs", f"{base}/img/missing.png").body == b"not found"  # the site's words, not pywb's
        for url in wanted:  # unrewritten, each is the archived payload with its media type
            answer = pywb.get("warcs", url)
            media_type, body = REQUISITES[urlsplit(url).path]
            assert (answer.status, answer.media_type, answer.body) == (200, media_type.split(";")[0], body), url
