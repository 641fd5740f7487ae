"""A live progress line on the terminal while a replay or crawl runs."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from scrapy import signals
from scrapy.exceptions import NotConfigured

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

__all__ = ["ProgressExtension"]


class ProgressExtension:
    """Shows what a run did so far and its rate; off unless ARCHIVE_PROGRESS is set.

    Replays: captures read, committed, unchanged, failed. Crawls add responses fetched,
    revisits and pages skipped, and the rate is responses per second.
    """

    def __init__(self, crawler: Crawler) -> None:
        self.stats = crawler.stats
        self.started = time.monotonic()
        self.progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            TimeElapsedColumn(),
            console=Console(stderr=True),
            transient=True,
        )
        self.task = self.progress.add_task("starting", total=None)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ProgressExtension:
        if not crawler.settings.getbool("ARCHIVE_PROGRESS"):
            raise NotConfigured("ARCHIVE_PROGRESS is off")
        ext = cls(crawler)
        crawler.signals.connect(ext.opened, signal=signals.spider_opened)
        crawler.signals.connect(ext.update, signal=signals.item_scraped)
        crawler.signals.connect(ext.update, signal=signals.response_received)
        crawler.signals.connect(ext.closed, signal=signals.spider_closed)
        return ext

    def opened(self, **_: Any) -> None:
        self.progress.start()

    def update(self, **_: Any) -> None:
        get = self.stats.get_value
        text = (
            f"{get('archive/captures_read', 0)} read · {get('archive/records_written', 0)} committed · "
            f"{get('archive/unchanged', 0)} unchanged · {get('archive/failed', 0)} failed"
        )
        fetched = get("downloader/response_count", 0)
        if fetched:
            rate = fetched / max(1e-6, time.monotonic() - self.started)
            skipped = get("crawl/skipped_not_html", 0) + get("crawl/robots_forbidden", 0)
            text = (
                f"{fetched} fetched ({rate:.1f}/s) · {text} · {get('archive/revisits', 0)} revisits · {skipped} skipped"
            )
        self.progress.update(self.task, description=text)

    def closed(self, **_: Any) -> None:
        self.progress.stop()
