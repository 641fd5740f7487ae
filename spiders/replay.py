"""Replay saved captures (text, HTML, WARC) through the same parse path as live crawls."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import scrapy
from scrapy import signals

from archive.crawl.replay import REPLAY_SCHEME, replay_url
from archive.warc.sources import SourceRef, find_sources
from spiders.base import ArchiveSpider

__all__ = ["ReplaySpider"]


class ReplaySpider(ArchiveSpider):
    """Replays every capture under the given paths; never touches the network.

    Its requests are made as the engine has room for them: Scrapy reads a spider's start()
    to the end into its scheduler regardless, and a request held there (its meta, its source,
    its parsed URL) costs about 2 kB, so a replay of N captures would peak with N of them held.
    """

    name = "replay"
    # Not a ClassVar: Scrapy's Spider declares custom_settings an instance attribute (read once per crawl).
    custom_settings: dict[str, Any] = {  # noqa: RUF012
        "ROBOTSTXT_OBEY": False,
        "DOWNLOAD_DELAY": 0,
        "AUTOTHROTTLE_ENABLED": False,
        "CONCURRENT_REQUESTS": 8,
        "DOWNLOAD_HANDLERS": {REPLAY_SCHEME: "archive.crawl.replay.ReplayDownloadHandler"},
        "ARCHIVE_CRAWL_KIND": "replay",
    }

    def __init__(self, paths: list[str] | tuple[str, ...] | str = (), **kwargs: Any) -> None:
        super().__init__(**kwargs)
        # `scrapy crawl replay -a paths=PATH` gives one path as text: one path, not its characters.
        self.paths = [paths] if isinstance(paths, str) else list(paths)

    async def start(self) -> AsyncIterator[Any]:
        absolute = self.settings.getbool("ARCHIVE_ABSOLUTE_PATHS")
        for serial, found in enumerate(find_sources(self.paths, absolute=absolute)):
            if isinstance(found, SourceRef):
                await self.room()
                yield scrapy.Request(
                    replay_url(serial),
                    callback=self.parse,
                    errback=self.on_error,
                    meta={"replay_source": found},
                    dont_filter=True,
                )
            else:  # a failure or a skipped WARC record: the pipeline counts it
                yield found

    async def room(self) -> None:
        """Return when the engine can send one more request on (at once while it can, or while it is closing).

        Scrapy sends scheduler_empty when it asked its scheduler for a request and got none: what
        is queued has gone on and the downloader and the scraper have room again. A frontier
        worker's scheduler hands out the frontier's requests too: it is not waited for.
        """
        engine = self.crawler.engine
        if self.frontier_worker is not None:
            return
        while engine is not None and engine.needs_backout() and not self.closing():
            await self.crawler.signals.wait_for(signals.scheduler_empty)
