"""Downloader middlewares for live crawls: the wire as it was, polite retries, conditional requests, resume.

Order matters (lower numbers run first on the way out, last on the way back):
ResumeMiddleware 60 serves pages a resumed crawl already archived from the WARC files;
ConditionalRequestMiddleware 120 adds If-None-Match / If-Modified-Since from the catalog;
PoliteRetryMiddleware 550 replaces Scrapy's retries (Retry-After, exponential backoff);
WireMiddleware 950 sits next to the downloader, so it sees each exchange first: as the
download handler (archive.crawl.wire) recorded it on the connection, before decompression.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from scrapy import signals
from scrapy.downloadermiddlewares.retry import RetryMiddleware
from scrapy.exceptions import NotConfigured
from scrapy.http import Request, Response
from scrapy.utils.response import response_status_message

from archive.crawl.responses import archived_response, capture_from_wire, wire_of
from archive.crawl.wire import BodyLost, BodyTruncated

if TYPE_CHECKING:
    from typing import Self

    from scrapy.core.engine import ExecutionEngine
    from scrapy.crawler import Crawler

# Sent with `capture` (the 3xx exchange) and `crawl_id` (a frontier's run, or None) when a redirect arrives.
REDIRECT_RECEIVED = object()
# Sent the same way for every 4xx or 5xx answer, each attempt of a retried request included.
ERROR_RECEIVED = object()
# Sent the same way for an exchange whose body was cut short: past the size limit (its first
# DOWNLOAD_MAXSIZE bytes, WARC-Truncated: length) or by a lost connection (WARC-Truncated: disconnect).
TRUNCATED_RECEIVED = object()

__all__ = [
    "ERROR_RECEIVED",
    "REDIRECT_RECEIVED",
    "TRUNCATED_RECEIVED",
    "ConditionalRequestMiddleware",
    "CrawlDelayExtension",
    "CrawlDelays",
    "PoliteRetryMiddleware",
    "ResumeMiddleware",
    "WireMiddleware",
    "retry_delay",
    "running_engine",
]

logger = logging.getLogger(__name__)


def running_engine(crawler: Crawler) -> ExecutionEngine | None:
    """Return the crawler's engine, or None before the crawl has one (Scrapy 2.19 raises when it is read then)."""
    try:
        return crawler.engine
    except RuntimeError:
        return None


class WireMiddleware:
    """Record each exchange in `request.meta["wire"]`, and send off to be archived what no spider callback gets.

    The exchange is as the download handler recorded it on the connection (archive.crawl.wire:
    request and response heads byte for byte, the body before transfer decoding), else rebuilt
    from Scrapy's request and response. A redirect is archived when it arrives (signal
    REDIRECT_RECEIVED, caught by the pipeline): where the chain ends, or whether it is followed
    at all, does not change what was sent. A download that failed holding part of a body (past
    the size limit, or the connection lost) is archived as such (TRUNCATED_RECEIVED), never as a
    page; a retry, if one follows, is another exchange.
    """

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        # Proxy-Authorization, Authorization and Cookie values go into request records only when asked.
        self.keep_credentials = crawler.settings.getbool("ARCHIVE_RECORD_CREDENTIALS", False)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        return cls(crawler)

    def process_response(self, request: Request, response: Response, spider: Any = None) -> Response:
        if request.meta.get("archive_resumed") or not request.url.startswith(("http://", "https://")):
            return response
        wire = wire_of(request, response, keep_credentials=self.keep_credentials)
        request.meta["wire"] = wire
        if wire.truncated is not None:  # handed on all the same (DOWNLOAD_FAIL_ON_DATALOSS off)
            self.crawler.stats.inc_value("archive/truncated")
        if 300 <= response.status < 400 and response.status != 304 and b"Location" in response.headers:
            self.crawler.signals.send_catch_log(
                signal=REDIRECT_RECEIVED, capture=capture_from_wire(wire), crawl_id=request.meta.get("crawl")
            )
        elif response.status >= 400:  # archived as received, whether a retry follows or the page fails
            self.crawler.signals.send_catch_log(
                signal=ERROR_RECEIVED, capture=capture_from_wire(wire), crawl_id=request.meta.get("crawl")
            )
        return response

    def process_exception(self, request: Request, exception: Exception, spider: Any = None) -> None:
        """Send off a truncated exchange to be archived; the failure goes on (to a retry, or the errback)."""
        if not isinstance(exception, (BodyTruncated, BodyLost)) or request.meta.get("archive_resumed"):
            return
        wire = wire_of(request, exception.response, keep_credentials=self.keep_credentials)
        self.crawler.stats.inc_value("archive/truncated")
        self.crawler.signals.send_catch_log(
            signal=TRUNCATED_RECEIVED, capture=capture_from_wire(wire), crawl_id=request.meta.get("crawl")
        )


def retry_delay(response: Response, retries: int, *, base: float, cap: float) -> float:
    """Return how long to wait before retrying: Retry-After when the server says, else exponential backoff."""
    value = response.headers.get(b"Retry-After")
    if value:
        text = value.decode("latin-1").strip()
        if text.isdigit():
            return float(text)
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError):
            when = None
        if when is not None:
            return max(0.0, (when - datetime.now(UTC)).total_seconds())
    backoff: float = base * (2**retries)  # int ** int is typed Any: a negative power would be a float
    return min(cap, backoff) * random.uniform(0.75, 1.25)


class PoliteRetryMiddleware(RetryMiddleware):
    """Scrapy's retries (5xx, 429, timeouts), waiting as the server asks (Retry-After) or backing off.

    A Retry-After longer than RETRY_AFTER_MAX gives up at once: the response stands as the answer.
    """

    def __init__(self, settings: Any) -> None:
        super().__init__(settings)
        self.base = settings.getfloat("RETRY_BACKOFF_BASE", 1.0)
        self.cap = settings.getfloat("RETRY_BACKOFF_MAX", 30.0)
        self.max_wait = settings.getfloat("RETRY_AFTER_MAX", 120.0)

    async def process_response(  # type: ignore[override]
        self, request: Request, response: Response, spider: Any = None
    ) -> Request | Response:
        if request.meta.get("dont_retry", False) or response.status not in self.retry_http_codes:
            return response
        delay = retry_delay(response, request.meta.get("retry_times", 0), base=self.base, cap=self.cap)
        if delay > self.max_wait:
            self.crawler.stats.inc_value("retry/retry_after_too_long")
            return response
        retry = self._retry(request, response_status_message(response.status))
        if retry is None:
            return response
        await asyncio.sleep(delay)
        return retry


def _crawl_delay_of(robotparser: Any, user_agent: str) -> float | None:
    """Return the Crawl-delay a parsed robots.txt asks of `user_agent`, if any."""
    inner = getattr(robotparser, "rp", None)  # protego.Protego inside Scrapy's ProtegoRobotParser
    delay = inner.crawl_delay(user_agent) if inner is not None and hasattr(inner, "crawl_delay") else None
    return float(delay) if delay else None


class CrawlDelays:
    """The Crawl-delay each host's robots.txt asks of this crawler, learned as robots.txt files are parsed.

    `learned(request, delay)` is called for each one found.
    """

    def __init__(self, crawler: Crawler, learned: Callable[[Request, float], None] | None = None) -> None:
        self.user_agent = crawler.settings.get("USER_AGENT") or "*"
        self.delays: dict[str, float] = {}
        self.learned = learned
        crawler.signals.connect(self.robots_parsed, signal=signals.robots_parsed)

    def robots_parsed(self, robotparser: Any, request: Request) -> None:
        delay = _crawl_delay_of(robotparser, self.user_agent)
        if delay:
            self.delays[urlsplit(request.url).hostname or ""] = delay
            if self.learned is not None:
                self.learned(request, delay)

    def of(self, url: str) -> float:
        """Return the Crawl-delay of a URL's host (0 when it asks none)."""
        return self.delays.get(urlsplit(url).hostname or "", 0.0)


class CrawlDelayExtension:
    """Honour robots.txt Crawl-delay: a site's download slot never runs faster than it asks.

    AutoThrottle adjusts slot delays after every response, so the floor is put back then too.
    """

    def __init__(self, crawler: Crawler) -> None:
        if not crawler.settings.getbool("ROBOTSTXT_OBEY"):
            raise NotConfigured
        self.crawler = crawler
        self.crawl_delays = CrawlDelays(crawler, self.learned)
        crawler.signals.connect(self.response_downloaded, signal=signals.response_downloaded)
        crawler.signals.connect(self.request_reached, signal=signals.request_reached_downloader)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        return cls(crawler)

    def learned(self, request: Request, delay: float) -> None:
        self.crawler.stats.set_value("robotstxt/crawl_delay", delay)
        self._clamp(request)

    def response_downloaded(self, response: Response, request: Request, spider: Any = None) -> None:
        self._clamp(request)

    def request_reached(self, request: Request, spider: Any = None) -> None:
        self._clamp(request)

    def _clamp(self, request: Request) -> None:
        delay = self.crawl_delays.of(request.url)
        engine = running_engine(self.crawler)
        if not delay or engine is None:
            return
        downloader = engine.downloader
        key = downloader.get_slot_key(request)
        slot = downloader.slots.get(key)
        if slot is not None and slot.delay < delay:
            slot.delay = delay
            slot.jitter = 0.0


class ConditionalRequestMiddleware:
    """Ask only for what changed: validators of the URL's latest capture become conditional headers.

    The spider marks page requests with meta["archive_page"]; a 304 then reaches it (not the errback).
    """

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        return cls(crawler)

    def process_request(self, request: Request, spider: Any = None) -> None:
        catalog = getattr(self.crawler.spider, "catalog", None)
        if catalog is None or not request.meta.get("archive_page") or request.meta.get("archive_resumed"):
            return
        validators = catalog.validators(request.url)
        if not validators:
            return
        etag, modified = validators
        if etag and b"If-None-Match" not in request.headers:
            request.headers[b"If-None-Match"] = etag
        if modified and b"If-Modified-Since" not in request.headers:
            request.headers[b"If-Modified-Since"] = modified
        request.meta["handle_httpstatus_list"] = [*request.meta.get("handle_httpstatus_list", ()), 304]


class ResumeMiddleware:
    """On --resume, a page this crawl already archived is read back from its WARC record, not fetched.

    The spider still parses it for links, so discovery carries on where it stopped; the
    pipeline archives nothing for it (meta["archive_resumed"]).
    """

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        return cls(crawler)

    def process_request(self, request: Request, spider: Any = None) -> Response | None:
        archive = getattr(self.crawler.spider, "resume_from", None)
        if archive is None or not request.meta.get("archive_page"):
            return None
        found = archive(request.url)
        if found is None:
            return None
        status, headers, body = found
        request.meta["archive_resumed"] = True
        self.crawler.stats.inc_value("archive/resumed_from_warc")
        return archived_response(request.url, status, headers, body, request)
