"""Replay saved captures (text, HTML, WARC) through the same parse path as live crawls."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any, ClassVar

import scrapy
from scrapy import signals
from scrapy.http import Response

from archive.items import ArchiveItem, CaptureFailure
from archive.pipeline import SITE_EVIDENCE_MODES, catalog_url
from archive.replay import REPLAY_SCHEME, replay_url
from archive.responses import capture_from_response
from archive.sources import SourceRef, find_sources
from archive.workers import ExtractionPool, available_cores, build_item
from spiders.base import ArchiveSpider

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

__all__ = ["ReplaySpider"]


class ReplaySpider(ArchiveSpider):
    """Replays every capture under the given paths; never touches the network."""

    name = "replay"
    custom_settings: ClassVar[dict[str, Any]] = {
        "ROBOTSTXT_OBEY": False,
        "DOWNLOAD_DELAY": 0,
        "AUTOTHROTTLE_ENABLED": False,
        "CONCURRENT_REQUESTS": 8,
        "DOWNLOAD_HANDLERS": {REPLAY_SCHEME: "archive.replay.ReplayDownloadHandler"},
        "ARCHIVE_CRAWL_KIND": "replay",
    }

    def __init__(self, paths: list[str] | tuple[str, ...] = (), **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.paths = list(paths)
        self.pool: ExtractionPool | None = None
        self.jobs = 1

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> ReplaySpider:
        spider: ReplaySpider = super().from_crawler(crawler, *args, **kwargs)
        settings = crawler.settings
        jobs = settings.getint("ARCHIVE_JOBS", 1) or available_cores()  # 0: one per core
        if jobs > 1:
            mode = settings.get("ARCHIVE_SITE_EVIDENCE") or "off"
            evidence_url = catalog_url(settings) if mode in SITE_EVIDENCE_MODES and mode != "off" else None
            spider.pool = ExtractionPool(jobs, evidence_url, evidence_for_html=mode == "all")
            spider.pool.prepare()
        spider.jobs = max(1, jobs)
        crawler.signals.connect(spider.close_pool, signal=signals.spider_closed)
        return spider

    async def parse_capture(self, response: Response) -> AsyncIterator[ArchiveItem | CaptureFailure]:
        """Build the record in a worker process when a pool runs, else here."""
        capture = capture_from_response(response)
        building = self.pool.submit(capture) if self.pool is not None else None
        if building is None:
            yield build_item(capture, self.site_evidence, self.evidence_for_html)
        else:
            yield await building
            self.crawler.stats.inc_value("replay/extracted_in_workers")  # type: ignore[union-attr]

    def close_pool(self) -> None:
        """Stop the workers; record how many processes extracted and how often one was replaced."""
        if self.pool is not None:
            self.pool.close()
        if self.crawler.stats is not None:
            self.crawler.stats.set_value("replay/jobs", self.jobs)
            self.crawler.stats.set_value("replay/worker_restarts", self.pool.replaced if self.pool else 0)

    async def start(self) -> AsyncIterator[Any]:
        for serial, found in enumerate(find_sources(self.paths)):
            if isinstance(found, SourceRef):
                yield scrapy.Request(
                    replay_url(serial),
                    callback=self.parse_capture,
                    errback=self.on_error,
                    meta={"replay_source": found},
                    dont_filter=True,
                )
            else:  # a failure or a skipped WARC record: the pipeline counts it
                yield found
