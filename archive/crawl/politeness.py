"""Politeness across a frontier's workers: one robots.txt fetch per host, one timetable per host.

Each worker of a shared frontier is a Scrapy process with its own download slots, so on its own
each would fetch every host's robots.txt and keep its own delay: N workers, N times the load.
In a frontier, the first worker to need a host's robots.txt fetches it and shares it (the others
wait for it), and every request to a host takes the next turn on that host's timetable in
Redis, after the one before by the crawl's --delay (else DOWNLOAD_DELAY), never less than the
worker's own --delay (ARCHIVE_FRONTIER_DELAY) or the host's Crawl-delay, whichever worker sends it. Without a frontier,
SharedRobotsTxtMiddleware is Scrapy's RobotsTxtMiddleware and the gate switches itself off.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from scrapy import Request
from scrapy.downloadermiddlewares.robotstxt import RobotsTxtMiddleware
from scrapy.exceptions import IgnoreRequest, NotConfigured
from scrapy.http import Response
from scrapy.http.request import NO_CALLBACK
from scrapy.utils.defer import maybe_deferred_to_future
from scrapy.utils.httpobj import urlparse_cached
from twisted.internet.defer import Deferred

from archive.crawl.middlewares import CrawlDelays
from archive.crawl.responses import capture_from_response
from archive.crawl.scheduler import frontier_worker
from archive.frontier.store import FrontierError
from scraper.urls import redacted, without_password

if TYPE_CHECKING:
    from typing import Self

    from scrapy.crawler import Crawler
    from scrapy.robotstxt import RobotParser

__all__ = ["ROBOTS_RECEIVED", "PolitenessGateMiddleware", "SharedRobotsTxtMiddleware"]

# Sent with `capture` (a robots.txt exchange, as transferred) and `crawl_id` (a frontier's run, or
# None) when this process fetched a host's robots.txt: what the crawl obeyed is archived with it.
ROBOTS_RECEIVED = object()

logger = logging.getLogger(__name__)
_ROBOTS_WAIT = 60.0  # seconds a worker waits for another to fetch a host's robots.txt before fetching it itself


class SharedRobotsTxtMiddleware(RobotsTxtMiddleware):
    """Scrapy's robots.txt middleware, every waiting request given the parser; in a frontier, one fetch for all.

    Scrapy 2.19's own awaits one Deferred from every request waiting for a host's robots.txt,
    and Twisted's `asFuture` hands its result to the first only: the rest get None and are let
    through, so the third request to a host, sent while its robots.txt is being fetched, ignores
    it (tests/test_crawl.py shows it). Here each waiter gets a Deferred of its own.

    In a frontier, the first worker to need a host's robots.txt fetches it and shares it; a
    worker keeps what it learned for ARCHIVE_FRONTIER_ROBOTS_TTL seconds (workers run for days,
    and sites change their robots.txt), then asks the frontier again.
    """

    def __init__(self, crawler: Crawler) -> None:
        super().__init__(crawler)
        self.worker = frontier_worker(crawler)
        self.ttl = crawler.settings.getfloat("ARCHIVE_FRONTIER_ROBOTS_TTL", 3600.0)
        self.learned: dict[str, float] = {}  # netloc -> when this worker learned its robots.txt

    async def robot_parser(self, request: Request) -> RobotParser | None:
        url = urlparse_cached(request)
        netloc = url.netloc
        if netloc in self._parsers and self._fresh(netloc):
            return await _result_of(self._parsers[netloc])
        self._parsers[netloc] = Deferred()
        self.learned[netloc] = time.monotonic()
        robots_url = f"{url.scheme}://{netloc}/robots.txt"
        try:
            response = await self._robots_response(netloc, robots_url, request.meta.get("crawl"))
            await self._parse_robots(response, netloc, request)
        except FrontierError as exc:  # not "no robots.txt": nothing may be fetched from the host on that
            waiting = self._parsers.pop(netloc)
            assert isinstance(waiting, Deferred) and self.worker is not None
            self.worker.fail(exc)
            waiting.errback(exc)  # requests waiting for this host's robots.txt fail with the reason too
            waiting.addErrback(lambda _: None)
            raise
        except Exception as exc:
            if self.worker is not None:
                with contextlib.suppress(FrontierError):  # the others fetch it themselves after a while
                    self.worker.frontier.unlock_robots(netloc)
            if not isinstance(exc, IgnoreRequest):  # a warning: the host's pages are still asked for, and a
                # failure to fetch them is named in the run's summary (not three times over in the log)
                logger.warning("Error downloading %s: %s", redacted(robots_url), without_password(str(exc), robots_url))
            self._robots_error(exc, netloc)
        parser = self._parsers[netloc]
        assert not isinstance(parser, Deferred)
        return parser

    def _fresh(self, netloc: str) -> bool:
        """Return whether what this process knows of a host's robots.txt still stands (always, for one crawl)."""
        return self.worker is None or time.monotonic() - self.learned.get(netloc, 0.0) < self.ttl

    async def _robots_response(self, netloc: str, robots_url: str, run: str | None) -> Response:
        """Return the host's robots.txt: fetched here, or as another worker of the frontier shared it."""
        if self.worker is None:
            return await self._fetch_robots(robots_url, run)
        frontier = self.worker.frontier
        deadline = time.monotonic() + _ROBOTS_WAIT
        while (shared := frontier.robots(netloc)) is None:
            if frontier.lock_robots(netloc, self.worker.name, _ROBOTS_WAIT) or time.monotonic() > deadline:
                response = await self._fetch_robots(robots_url, run)
                frontier.store_robots(netloc, response.status, response.body, self.ttl)
                return response
            await asyncio.sleep(0.1)
        self._stats.inc_value("robotstxt/shared")
        status, body = shared
        return Response(robots_url, status=status, body=body)

    async def _fetch_robots(self, robots_url: str, run: str | None) -> Response:
        meta = {"dont_obey_robotstxt": True, "crawl": run}  # the crawl's politeness applies to it too
        fetch = Request(robots_url, priority=self.DOWNLOAD_PRIORITY, meta=meta, callback=NO_CALLBACK)
        try:
            response = await self.crawler.engine.download_async(fetch)
        finally:
            self._stats.inc_value("robotstxt/request_count")
        if response.status < 300:  # a redirect or an error answer is archived as it arrives (WireMiddleware)
            capture = capture_from_response(response)
            self.crawler.signals.send_catch_log(signal=ROBOTS_RECEIVED, capture=capture, crawl_id=run)
        return response


async def _result_of(parser: RobotParser | Deferred[RobotParser | None] | None) -> RobotParser | None:
    """Return a host's parser, waiting on a Deferred of this request's own while it is being fetched."""
    if not isinstance(parser, Deferred):
        return parser
    mine: Deferred[RobotParser | None] = Deferred()

    def passed(result: Any) -> Any:
        mine.callback(result)
        return result  # the next waiter gets it too

    def failed(failure: Any) -> Any:
        mine.errback(failure)
        return failure

    parser.addCallbacks(passed, failed)
    return await maybe_deferred_to_future(mine)


class PolitenessGateMiddleware:
    """In a frontier, space the requests to one host on one timetable, whichever worker sends them."""

    def __init__(self, crawler: Crawler) -> None:
        worker = frontier_worker(crawler)
        if worker is None or worker.kind != "crawl":
            raise NotConfigured("no shared frontier: each download slot keeps its own delay")
        self.crawler = crawler
        self.worker = worker
        floor = crawler.settings.get("ARCHIVE_FRONTIER_DELAY")
        self.floor = float(floor) if floor not in (None, "") else 0.0
        self.default = crawler.settings.getfloat("ARCHIVE_FRONTIER_DEFAULT_DELAY", 1.0)
        self.crawl_delays = CrawlDelays(crawler)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        return cls(crawler)

    async def process_request(self, request: Request, spider: Any = None) -> None:
        if not request.url.startswith(("http://", "https://")):
            return
        host = urlsplit(request.url).hostname or ""
        run = request.meta.get("crawl")
        asked = self.worker.run_options(run).get("delay") if run else None
        own = float(asked) if asked is not None else self.default
        interval = max(self.floor, own, self.crawl_delays.of(request.url))
        if interval <= 0:
            return
        wait = self.worker.frontier.reserve(host, interval)
        if wait > 0:
            if self.crawler.stats is not None:
                self.crawler.stats.inc_value("frontier/politeness_waits")
            await asyncio.sleep(wait)
