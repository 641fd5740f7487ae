"""The crawl's downloader middlewares and the Crawl-delay extension, called in this process as Scrapy calls them.

Each component is made with `from_crawler` on a crawler from `scrapy.utils.test.get_crawler`
(conftest's make_crawler), and its process_request/process_response called directly, as
Scrapy's own tests/test_downloadermiddleware_*.py do. Catalogs are real SQLite files.
"""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest
from protego import Protego
from scrapy import Request, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.http import HtmlResponse, Response
from scrapy.robotstxt import ProtegoRobotParser

from archive.catalog.facade import Catalog
from archive.crawl.middlewares import (
    REDIRECT_RECEIVED,
    ConditionalRequestMiddleware,
    CrawlDelayExtension,
    PoliteRetryMiddleware,
    ResumeMiddleware,
    WireMiddleware,
    retry_delay,
    running_engine,
)
from scraper import Capture, build_record

MakeCrawler = Callable[..., Crawler]

# --- WireMiddleware -------------------------------------------------------------------------


def test_the_wire_records_the_request_as_sent_and_the_response_as_received(make_crawler: MakeCrawler) -> None:
    wire_mw = WireMiddleware.from_crawler(make_crawler())
    request = Request("https://news.example/a/b?page=2&sort=new", headers={"Accept": "text/html"})
    body = b"\x1f\x8b gzip bytes as transferred"
    response = HtmlResponse(
        request.url,
        status=200,
        headers={"Content-Type": "text/html", "Content-Encoding": "gzip"},
        body=body,
        request=request,
        ip_address=ipaddress.ip_address("93.184.216.34"),
        protocol="HTTP/1.1",
    )
    assert wire_mw.process_response(request, response) is response
    wire = request.meta["wire"]
    assert wire.request.method == "GET" and wire.request.target == "/a/b?page=2&sort=new"  # the query string kept
    assert wire.request.headers[0] == ("Host", "news.example")  # the HTTP client adds it on the wire
    assert ("Accept", "text/html") in wire.request.headers
    assert (wire.status, wire.protocol, wire.body, wire.url) == (200, "HTTP/1.1", body, request.url)
    assert ("Content-Encoding", "gzip") in wire.headers
    assert wire.ip_address == "93.184.216.34"


def test_a_redirect_is_sent_off_to_be_archived_when_it_arrives_and_a_304_is_not(make_crawler: MakeCrawler) -> None:
    crawler = make_crawler()
    wire_mw = WireMiddleware.from_crawler(crawler)
    heard: list[dict[str, Any]] = []
    crawler.signals.connect(lambda **kw: heard.append(kw), signal=REDIRECT_RECEIVED, weak=False)

    def answer(url: str, status: int, **headers: str) -> None:
        request = Request(url, meta={"crawl": "run-1"})
        wire_mw.process_response(request, Response(url, status=status, headers=headers, request=request))

    answer("https://news.example/old-home", 301, Location="/moved-once")
    answer("https://news.example/unchanged", 304)
    answer("https://news.example/no-location", 302)
    [sent] = heard
    assert sent["crawl_id"] == "run-1"
    capture = sent["capture"]
    assert capture.http_status == 301 and capture.source_location == "https://news.example/old-home"
    assert capture.source_kind == "live" and ("Location", "/moved-once") in capture.http_headers


def test_resumed_pages_and_non_http_urls_have_no_wire(make_crawler: MakeCrawler) -> None:
    wire_mw = WireMiddleware.from_crawler(make_crawler())
    for request in (
        Request("https://news.example/a", meta={"archive_resumed": True}),
        Request("file:///saved/page.html"),
    ):
        wire_mw.process_response(request, Response(request.url, status=200, body=b"x", request=request))
        assert "wire" not in request.meta, request.url


# --- PoliteRetryMiddleware ------------------------------------------------------------------


def test_retry_delay_takes_retry_after_in_seconds_or_as_a_date_else_backs_off() -> None:
    def answer(**headers: str) -> Response:
        return Response("https://news.example/busy", status=503, headers=headers)

    assert retry_delay(answer(**{"Retry-After": "7"}), 0, base=1.0, cap=30.0) == 7.0
    in_a_minute = format_datetime(datetime.now(UTC) + timedelta(seconds=60), usegmt=True)
    assert 55.0 <= retry_delay(answer(**{"Retry-After": in_a_minute}), 0, base=1.0, cap=30.0) <= 60.0
    past = format_datetime(datetime.now(UTC) - timedelta(hours=1), usegmt=True)
    assert retry_delay(answer(**{"Retry-After": past}), 0, base=1.0, cap=30.0) == 0.0
    # No Retry-After (or one that is neither): base * 2**retries, jittered by +-25 %, capped.
    for retries, middle in ((0, 1.0), (2, 4.0), (9, 30.0)):
        for given in ({}, {"Retry-After": "soon"}):
            delay = retry_delay(answer(**given), retries, base=1.0, cap=30.0)
            assert 0.75 * middle <= delay <= 1.25 * middle, (retries, given, delay)


def _retry_mw(make_crawler: MakeCrawler, **settings: Any) -> tuple[PoliteRetryMiddleware, Crawler]:
    crawler = make_crawler({"RETRY_TIMES": 2, "RETRY_BACKOFF_BASE": 0.1, **settings})
    return PoliteRetryMiddleware.from_crawler(crawler), crawler


def test_a_5xx_or_429_is_retried_after_the_wait_and_other_answers_stand(
    make_crawler: MakeCrawler, run_async: Callable[..., Any]
) -> None:
    retry_mw, crawler = _retry_mw(make_crawler)
    request = Request("https://news.example/flaky")
    ok = Response(request.url, status=200, request=request)
    assert run_async(retry_mw.process_response(request, ok)) is ok
    missing = Response(request.url, status=404, request=request)
    assert run_async(retry_mw.process_response(request, missing)) is missing

    started = time.monotonic()
    retry = run_async(retry_mw.process_response(request, Response(request.url, status=500, request=request)))
    waited = time.monotonic() - started
    assert isinstance(retry, Request) and retry.url == request.url and retry.meta["retry_times"] == 1
    assert retry.dont_filter  # the dupe filter would drop it otherwise
    assert waited >= 0.075  # RETRY_BACKOFF_BASE 0.1, less at most 25 % jitter
    busy = Response(request.url, status=429, headers={"Retry-After": "0"}, request=request)
    assert isinstance(run_async(retry_mw.process_response(request, busy)), Request)
    assert crawler.stats.get_value("retry/count") == 2


def test_retries_end_at_retry_times_and_the_last_answer_stands(
    make_crawler: MakeCrawler, run_async: Callable[..., Any]
) -> None:
    retry_mw, crawler = _retry_mw(make_crawler, RETRY_BACKOFF_BASE=0.001)
    request = Request("https://news.example/down")
    for attempt in range(1, 4):
        response = Response(request.url, status=503, request=request)
        found = run_async(retry_mw.process_response(request, response))
        if attempt <= 2:
            assert isinstance(found, Request) and found.meta["retry_times"] == attempt
            request = found
        else:
            assert found is response  # RETRY_TIMES 2: the third 503 is the answer
    assert crawler.stats.get_value("retry/max_reached") == 1


def test_a_retry_after_longer_than_retry_after_max_is_taken_as_the_answer(
    make_crawler: MakeCrawler, run_async: Callable[..., Any]
) -> None:
    retry_mw, crawler = _retry_mw(make_crawler, RETRY_AFTER_MAX=5)
    request = Request("https://news.example/busy")
    busy = Response(request.url, status=429, headers={"Retry-After": "3600"}, request=request)
    started = time.monotonic()
    assert run_async(retry_mw.process_response(request, busy)) is busy
    assert time.monotonic() - started < 1.0  # it gave up at once, it did not wait an hour
    assert crawler.stats.get_value("retry/retry_after_too_long") == 1
    dont = Request("https://news.example/busy", meta={"dont_retry": True})
    refused = Response(dont.url, status=503, request=dont)
    assert run_async(retry_mw.process_response(dont, refused)) is refused


# --- ConditionalRequestMiddleware and ResumeMiddleware --------------------------------------

ARTICLE = (
    b"<html><head><title>Ferry timetable</title></head><body><article><h1>Ferry timetable</h1>"
    b"<p>The harbour ferry will run on a reduced timetable for six weeks while engineers repair the landing stage "
    b"that was damaged during the February storms, the operator said on Tuesday.</p>"
    b"<p>Passengers travelling before seven in the morning are advised to use the coastal bus, which the council "
    b"has agreed to run every twenty minutes until the repairs are finished.</p></article></body></html>"
)
LAST_MODIFIED = "Wed, 25 Feb 2026 06:13:20 GMT"


def _live_capture(url: str, headers: tuple[tuple[str, str], ...]) -> Capture:
    return Capture(
        ARTICLE,
        "live",
        url,
        "text/html",
        url=url,
        captured_at=datetime(2026, 3, 1, tzinfo=UTC),
        http_status=200,
        http_headers=(("Content-Type", "text/html"), *headers),
    )


@pytest.fixture
def catalog(tmp_path: Path) -> Catalog:
    found = Catalog(f"sqlite:///{tmp_path / 'catalog.sqlite'}")
    found.migrate()
    yield found  # type: ignore[misc]
    found.close()


def test_a_page_request_asks_only_for_what_changed_since_its_latest_capture(
    make_crawler: MakeCrawler, catalog: Catalog
) -> None:
    url = "https://news.example/harbour/ferry-timetable"
    validators = (("ETag", '"v1"'), ("Last-Modified", LAST_MODIFIED))
    catalog.add_records([build_record(_live_capture(url, validators))])
    crawler = make_crawler()
    crawler.spider.catalog = catalog  # type: ignore[union-attr]  # as the archive pipeline sets it
    conditional_mw = ConditionalRequestMiddleware.from_crawler(crawler)

    page = Request(url, meta={"archive_page": True, "handle_httpstatus_list": [404]})
    assert conditional_mw.process_request(page) is None
    assert page.headers[b"If-None-Match"] == b'"v1"' and page.headers[b"If-Modified-Since"] == LAST_MODIFIED.encode()
    assert page.meta["handle_httpstatus_list"] == [404, 304]  # a 304 reaches the spider, not the errback

    own = Request(url, meta={"archive_page": True}, headers={"If-None-Match": '"mine"'})
    conditional_mw.process_request(own)
    assert own.headers[b"If-None-Match"] == b'"mine"'  # a header the request has already is kept
    for untouched in (
        Request(url),  # not a page request (a sitemap, a feed, robots.txt)
        Request(url, meta={"archive_page": True, "archive_resumed": True}),
        Request("https://news.example/never-captured", meta={"archive_page": True}),
    ):
        conditional_mw.process_request(untouched)
        assert b"If-None-Match" not in untouched.headers and b"If-Modified-Since" not in untouched.headers


def test_without_a_catalog_requests_go_unconditional(make_crawler: MakeCrawler) -> None:
    conditional_mw = ConditionalRequestMiddleware.from_crawler(make_crawler())
    page = Request("https://news.example/a", meta={"archive_page": True})
    conditional_mw.process_request(page)
    assert not page.headers and "handle_httpstatus_list" not in page.meta


def test_a_resumed_crawl_reads_a_page_it_archived_back_instead_of_fetching_it(make_crawler: MakeCrawler) -> None:
    crawler = make_crawler()
    archived = {
        "https://news.example/a": (200, [("Content-Type", "text/html"), ("Content-Encoding", "gzip")], b"\x1f\x8b")
    }
    crawler.spider.resume_from = archived.get  # type: ignore[union-attr]  # set by the pipeline on --resume
    resume_mw = ResumeMiddleware.from_crawler(crawler)

    page = Request("https://news.example/a", meta={"archive_page": True})
    response = resume_mw.process_request(page)
    assert isinstance(response, Response) and response.request is page  # HttpCompressionMiddleware decodes it next
    assert (response.url, response.status, response.body) == ("https://news.example/a", 200, b"\x1f\x8b")
    assert response.headers[b"Content-Encoding"] == b"gzip"  # still encoded: as transferred
    assert page.meta["archive_resumed"] is True
    assert resume_mw.process_request(Request("https://news.example/b", meta={"archive_page": True})) is None
    assert resume_mw.process_request(Request("https://news.example/a")) is None  # not a page: fetched
    assert crawler.stats.get_value("archive/resumed_from_warc") == 1


def test_a_crawl_that_is_not_resumed_fetches_everything(make_crawler: MakeCrawler) -> None:
    resume_mw = ResumeMiddleware.from_crawler(make_crawler())
    assert resume_mw.process_request(Request("https://news.example/a", meta={"archive_page": True})) is None


# --- CrawlDelayExtension --------------------------------------------------------------------


def test_a_crawl_delay_before_the_engine_exists_is_left_for_later(make_crawler: MakeCrawler) -> None:
    """Scrapy 2.19 raises when crawler.engine is read before the crawl starts: components ask running_engine."""
    crawler = make_crawler({"ROBOTSTXT_OBEY": True, "USER_AGENT": "scraper-archive/test"})
    extension = CrawlDelayExtension.from_crawler(crawler)
    assert running_engine(crawler) is None
    robots = b"User-agent: *\nCrawl-delay: 2\n"
    request = Request("https://a.example/page")
    crawler.signals.send_catch_log(
        signal=signals.robots_parsed, robotparser=ProtegoRobotParser.from_crawler(crawler, robots), request=request
    )
    extension.request_reached(request)  # no engine, no slot: nothing to clamp yet, and no error
    assert crawler.stats.get_value("robotstxt/crawl_delay") == 2.0
    crawler.engine = crawler._create_engine()
    assert running_engine(crawler) is crawler.engine


def test_crawl_delay_needs_robots_txt_obeyed(make_crawler: MakeCrawler) -> None:
    with pytest.raises(NotConfigured):
        CrawlDelayExtension.from_crawler(make_crawler({"ROBOTSTXT_OBEY": False}))


def test_a_hosts_crawl_delay_is_the_floor_of_its_download_slot(
    make_crawler: MakeCrawler, run_async: Callable[..., Any]
) -> None:
    from scrapy.core.downloader import Slot

    crawler = make_crawler({"ROBOTSTXT_OBEY": True, "USER_AGENT": "scraper-archive/test"})
    extension = CrawlDelayExtension.from_crawler(crawler)
    crawler.engine = crawler._create_engine()  # made, never started: its downloader's slots are real
    slots = crawler.engine.downloader.slots
    slots["a.example"] = Slot(concurrency=2, delay=0.0, jitter=0.5)
    slots["b.example"] = Slot(concurrency=2, delay=0.0, jitter=0.5)
    slots["c.example"] = Slot(concurrency=2, delay=5.0, jitter=0.5)
    robots = b"User-agent: *\nCrawl-delay: 2\nDisallow: /private/\n"
    for host in ("a.example", "c.example"):
        request = Request(f"https://{host}/page")
        crawler.signals.send_catch_log(
            signal=signals.robots_parsed, robotparser=ProtegoRobotParser.from_crawler(crawler, robots), request=request
        )
    assert crawler.stats.get_value("robotstxt/crawl_delay") == 2.0
    assert (slots["a.example"].delay, slots["a.example"].jitter) == (2.0, 0.0)  # exactly as asked, no jitter below it
    assert slots["b.example"].delay == 0.0  # asked nothing
    assert slots["c.example"].delay == 5.0  # already slower: left alone
    # AutoThrottle lowers a slot's delay after a response: the floor is put back then, and before each request.
    slots["a.example"].delay = 0.3
    crawler.signals.send_catch_log(
        signal=signals.response_downloaded,
        response=Response("https://a.example/page", status=200),
        request=Request("https://a.example/page"),
    )
    assert slots["a.example"].delay == 2.0
    slots["a.example"].delay = 0.1
    crawler.signals.send_catch_log(signal=signals.request_reached_downloader, request=Request("https://a.example/x"))
    assert slots["a.example"].delay == 2.0
    assert (
        extension.crawl_delays.of("https://a.example/other") == 2.0
        and extension.crawl_delays.of("https://b.example/") == 0.0
    )
    # Protego itself reads the same delay for this crawler's own user agent.
    assert Protego.parse(robots.decode()).crawl_delay("scraper-archive/test") == 2.0
