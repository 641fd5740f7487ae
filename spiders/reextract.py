"""Re-extract an archive: the raw records of captures the catalog holds, through the replay parse path."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import scrapy

from archive.crawl.items import CaptureFailure
from archive.crawl.replay import replay_url
from archive.crawl.scheduler import LEASE
from archive.frontier.store import Lease
from archive.layout import DataLayout
from archive.warc.sources import SourceRef, find_sources
from spiders.replay import ReplaySpider

__all__ = ["ReextractSpider"]


class ReextractSpider(ReplaySpider):
    """Replays WARC files into the pipeline's re-extraction mode: given files, or files leased from a frontier.

    A frontier worker takes one file at a time from the re-extraction runs; the file's lease is
    done when every capture in it has been handed to the pipeline, and acknowledged once those
    are committed, so a file a killed worker held goes to another worker whole.
    """

    name = "reextract"
    custom_settings: dict[str, Any] = {**ReplaySpider.custom_settings, "ARCHIVE_CRAWL_KIND": "reextract"}  # noqa: RUF012
    serial = 0  # replay URLs are numbered per process

    async def start(self) -> AsyncIterator[Any]:
        worker = self.frontier_worker
        if worker is None:
            async for found in super().start():
                yield found
            return
        directory = DataLayout.from_settings(self.settings).warc
        poll = self.settings.getfloat("ARCHIVE_FRONTIER_POLL", 0.25)
        while True:
            lease = worker.take()
            if lease is None:
                if not worker.frontier.busy(worker.kind):
                    return  # every re-extraction run is drained
                await asyncio.sleep(poll)  # others hold the rest; one of theirs may come back
                continue
            async for found in self._file(lease, directory):
                yield found

    async def _file(self, lease: Lease, directory: Path) -> AsyncIterator[Any]:
        """Yield a request per capture in the leased file (and what replay reports of the rest)."""
        assert self.frontier_worker is not None
        name = str(json.loads(lease.data)["file"])
        meta = {"crawl": lease.run}
        if Path(name).name != name:  # names come from the frontier: never a path elsewhere
            yield self.tagged(self._refused(name, "not a WARC file name"), meta)
        elif not (directory / name).is_file():
            yield self.tagged(self._refused(name, f"not in {directory} on this worker's host"), meta)
        else:
            for found in find_sources([str(directory / name)]):
                if isinstance(found, SourceRef):
                    self.frontier_worker.expect(lease.id)
                    self.serial += 1
                    yield scrapy.Request(
                        replay_url(self.serial),
                        callback=self.parse,
                        errback=self.on_error,
                        meta={"replay_source": found, LEASE: lease.id, **meta},
                        dont_filter=True,
                    )
                else:
                    yield self.tagged(found, meta)
        self.frontier_worker.all_listed(lease.id)

    @staticmethod
    def _refused(name: str, reason: str) -> Any:
        return CaptureFailure(name, reason)
