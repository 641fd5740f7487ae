"""The parse path every spider shares: response -> capture -> record -> archive item."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import TYPE_CHECKING, Any, TypeVar

import scrapy
from scrapy import signals
from scrapy.http import Response
from twisted.python.failure import Failure

from archive.crawl.items import ArchiveItem, CaptureFailure, ExchangeItem, RevisitItem
from archive.crawl.pipeline import SITE_EVIDENCE_MODES
from archive.crawl.responses import capture_from_response
from archive.crawl.scheduler import FrontierWorker, frontier_worker
from archive.crawl.workers import ExtractionPool, available_cores, build_item
from archive.frontier.store import FrontierError
from archive.layout import settings_catalog_url
from scraper import SiteEvidence
from scraper.urls import redacted, without_password

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

__all__ = ["ArchiveSpider"]

_RUN_ITEMS = (ArchiveItem, CaptureFailure, ExchangeItem, RevisitItem)  # what the pipeline files under a run
PARSE_THREADS = 2  # threads parsing links, sitemaps and feeds off the reactor (ARCHIVE_PARSE_THREADS)
T = TypeVar("T")


class ArchiveSpider(scrapy.Spider):
    """Base for live and replay spiders: builds one record per response.

    `site_evidence` (set by the archive pipeline when ARCHIVE_SITE_EVIDENCE is on) tells
    extraction which lines the capture's site repeats on other archived pages. With
    ARCHIVE_JOBS above 1 (0: one per core) records are built in worker processes
    (archive.crawl.workers); the pipeline archives them in this one. With ARCHIVE_COMMENTS,
    extraction keeps reader comments.
    """

    site_evidence: SiteEvidence | None = None
    evidence_for_html: bool = False
    comments: bool = False
    pool: ExtractionPool | None = None
    jobs: int = 1
    frontier_worker: FrontierWorker | None = None  # set when this process is one worker of a shared frontier
    parse_threads: int = PARSE_THREADS
    _threads: ThreadPoolExecutor | None = None
    _builder: ThreadPoolExecutor | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> ArchiveSpider:
        spider: ArchiveSpider = super().from_crawler(crawler, *args, **kwargs)
        settings = crawler.settings
        spider.jobs = max(1, settings.getint("ARCHIVE_JOBS", 1) or available_cores())
        spider.parse_threads = max(1, settings.getint("ARCHIVE_PARSE_THREADS", PARSE_THREADS))
        spider.comments = settings.getbool("ARCHIVE_COMMENTS")
        if spider.jobs > 1:
            mode = settings.get("ARCHIVE_SITE_EVIDENCE") or "off"
            evidence_url = settings_catalog_url(settings) if mode in SITE_EVIDENCE_MODES and mode != "off" else None
            spider.pool = ExtractionPool(
                spider.jobs, evidence_url, evidence_for_html=mode == "all", comments=spider.comments
            )
            spider.pool.prepare()
        crawler.signals.connect(spider.close_pool, signal=signals.spider_closed)
        spider.frontier_worker = frontier_worker(crawler)
        return spider

    def tagged(self, item: Any, meta: Mapping[str, Any]) -> Any:
        """Return `item` marked with the run its request belongs to, when it came from a shared frontier."""
        run = meta.get("crawl")
        if run is None or not isinstance(item, _RUN_ITEMS):
            return item
        return replace(item, crawl_id=run)

    def request_done(self, meta: Mapping[str, Any]) -> None:
        """Tell the frontier a request's callback or errback has handed on everything it produced."""
        if self.frontier_worker is not None:
            self.frontier_worker.finished(meta)

    async def parse(
        self, response: Response, **kwargs: Any
    ) -> AsyncIterator[ArchiveItem | CaptureFailure | RevisitItem]:
        """Yield the response's archive item, built in a worker process when a pool runs, else here.

        A replayed revisit record becomes a revisit of the capture it names, with no record of its own.
        """
        try:
            source = response.meta.get("replay_source")
            if source is not None and source.revisit is not None:
                profile, uri, date = source.revisit
                capture = capture_from_response(response)
                yield self.tagged(RevisitItem(capture, profile=profile, refers_to=(uri, date)), response.meta)
            else:
                yield self.tagged(await self.build(response), response.meta)
        finally:
            self.request_done(response.meta)

    async def build(self, response: Response) -> ArchiveItem | CaptureFailure:
        """Return the response's archive item, built in a worker process when a pool runs, else here."""
        capture = capture_from_response(response)
        building = self.pool.submit(capture) if self.pool is not None else None
        if building is None and self.pool is None:  # --jobs 1: one thread, in order, so the reactor keeps its clock
            if self._builder is None:
                self._builder = ThreadPoolExecutor(max_workers=1, thread_name_prefix="record-build")
            work = self._builder.submit(build_item, capture, self.site_evidence, self.evidence_for_html, self.comments)
            item = await asyncio.wrap_future(work)
        elif building is None:  # the first START_AFTER captures, while the workers start: here
            item = build_item(capture, self.site_evidence, self.evidence_for_html, self.comments)
        else:
            item = await building
            self.crawler.stats.inc_value("extraction/in_workers")
        source = response.meta.get("replay_source")
        if isinstance(item, CaptureFailure) and source is not None:  # named as the user knows it, not as archived
            item = replace(item, source=source.shown)
        return item

    async def in_thread(self, work: Callable[..., T], *args: Any) -> T:
        """Return `work(*args)`, run in one of the spider's parse threads so the reactor stays free."""
        if self._threads is None:
            self._threads = ThreadPoolExecutor(max_workers=self.parse_threads, thread_name_prefix="parse")
        return await asyncio.wrap_future(self._threads.submit(work, *args))

    def closing(self) -> bool:
        """Return whether the crawl is stopping (a signal, a close request): queued parse work is dropped."""
        engine = getattr(getattr(self, "crawler", None), "engine", None)
        if engine is None:
            return False
        slot = getattr(engine, "_slot", None)  # Scrapy sets its `closing` once close_spider begins
        return not engine.running or (slot is not None and slot.closing is not None)

    def close_pool(self) -> None:
        """Stop the workers and threads; record how many processes extracted and how often one was replaced."""
        for threads in (self._threads, self._builder):
            if threads is not None:  # what is still queued is dropped, what runs finishes
                threads.shutdown(wait=False, cancel_futures=True)
        if self.pool is not None:
            self.pool.close()
        if self.crawler.stats is not None:
            # The processes that extracted: a run too small to start the pool extracted here alone.
            started = self.pool is not None and self.pool.started
            self.crawler.stats.set_value("extraction/jobs", self.jobs if started else 1)
            self.crawler.stats.set_value("extraction/worker_restarts", self.pool.replaced if self.pool else 0)

    def on_error(self, failure: Failure) -> Iterator[CaptureFailure]:
        """Report a capture that could not be fetched or loaded, naming it and the reason."""
        request = getattr(failure, "request", None)
        meta = request.meta if request is not None else {}
        if self.frontier_worker is not None and isinstance(failure.value, FrontierError):
            self.frontier_worker.fail(failure.value)  # a politeness or robots.txt step could not ask the frontier
        try:
            for item in self._failed(failure):
                yield self.tagged(item, meta)
        finally:
            self.request_done(meta)

    def _failed(self, failure: Failure) -> Iterator[CaptureFailure]:
        request = getattr(failure, "request", None)
        source = request.meta.get("replay_source") if request is not None else None
        url = getattr(request, "url", "?")
        where = source.shown if source is not None else redacted(url)  # a seed's password is not for the catalog
        yield CaptureFailure(where, without_password(str(failure.value) or type(failure.value).__name__, url))
