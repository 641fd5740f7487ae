"""A frontier worker's life in Scrapy: register, beat, put dead workers' leases back, acknowledge, end drained runs."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scrapy import signals
from scrapy.exceptions import DontCloseSpider, NotConfigured
from scrapy.utils.defer import deferred_from_coro
from sqlalchemy.exc import SQLAlchemyError
from twisted.internet import task

from archive.catalog.facade import Catalog
from archive.crawl.middlewares import running_engine
from archive.crawl.pipeline import recover_into
from archive.crawl.runs import record_ended
from archive.crawl.scheduler import (
    ARCHIVE_CHECKPOINT,
    ARCHIVE_COMMITTED,
    FrontierScheduler,
    FrontierWorker,
    frontier_worker,
)
from archive.frontier.store import FrontierError, host_name
from archive.layout import settings_catalog_url

if TYPE_CHECKING:
    from typing import Self

    from scrapy.crawler import Crawler

__all__ = ["FrontierExtension"]

logger = logging.getLogger(__name__)


class FrontierExtension:
    """The worker's life: register, beat, put dead workers' leases back, acknowledge, finish drained runs.

    Every ARCHIVE_FRONTIER_HEARTBEAT seconds: refresh this worker's heartbeat; release the
    leases of workers whose heartbeat expired (and recover WARC files they left open here);
    ask the pipeline to commit, so leases are acknowledged within a beat. When idle, it waits
    for work, or with ARCHIVE_FRONTIER_UNTIL_IDLE stops once no run of its kind is active.
    """

    def __init__(self, crawler: Crawler, worker: FrontierWorker) -> None:
        self.crawler = crawler
        self.worker = worker
        self.frontier = worker.frontier
        self.poll = crawler.settings.getfloat("ARCHIVE_FRONTIER_POLL", 0.25)
        self.data_dir = crawler.settings.get("ARCHIVE_DATA_DIR")
        self.catalog: Any = None
        self.unrecorded: set[str] = set()  # drained runs the catalog could not record yet (said once each)
        self.beats: task.LoopingCall | None = None
        self.waker: task.LoopingCall | None = None
        crawler.signals.connect(self.opened, signal=signals.spider_opened)
        crawler.signals.connect(self.idle, signal=signals.spider_idle)
        crawler.signals.connect(self.closed, signal=signals.spider_closed)
        crawler.signals.connect(self.committed, signal=ARCHIVE_COMMITTED)
        crawler.signals.connect(self.spider_error, signal=signals.spider_error)
        worker.on_failure = self._failed

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        worker = frontier_worker(crawler)
        if worker is None:
            raise NotConfigured("no shared frontier (ARCHIVE_FRONTIER_URL)")
        return cls(crawler, worker)

    def spider_error(self, failure: Any, response: Any = None, spider: Any = None) -> None:
        """A callback that could not reach the frontier (a crawl's seeds) fails the worker, not just its page."""
        if isinstance(failure.value, FrontierError):
            self.worker.fail(failure.value)

    def _failed(self, reason: str) -> None:
        """Stop the run: the frontier failed (what was archived is committed; unacknowledged leases go back)."""
        if self.crawler.stats is not None and not self.crawler.stats.get_value("archive/stopped"):
            self.crawler.stats.set_value("archive/stopped", reason)
        self._stop("frontier_unreachable")

    def opened(self, spider: Any) -> None:
        self.catalog = Catalog(settings_catalog_url(self.crawler.settings))
        self.frontier.register(self.worker.name, self._info(), self.worker.ttl)
        self._stat("frontier/worker", self.worker.name)
        self._finish(self.frontier.drained())
        self.beats = task.LoopingCall(self._guarded, self.beat)
        self.beats.start(self.worker.heartbeat, now=False)
        if self.worker.kind == "crawl":
            self.waker = task.LoopingCall(self._guarded, self.wake)
            self.waker.start(self.poll, now=True)

    def _guarded(self, step: Any) -> None:
        """Run a periodic step; a frontier that stays unreachable stops the run with its reason."""
        if self.worker.failed:
            return
        try:
            step()
        except FrontierError as exc:
            self.worker.fail(exc)

    def _info(self) -> dict[str, Any]:
        return {"host": host_name(), "pid": os.getpid(), "kind": self.worker.kind, "data": str(self.data_dir)}

    def beat(self) -> None:
        if not self.frontier.heartbeat(self.worker.name, self.worker.ttl):
            # Given up for dead while alive (the reactor blocked longer than the TTL): what it held went
            # back to the queues and may be fetched again by others; its acknowledgements find nothing.
            logger.warning("frontier: %s was given up for dead; registering again", self.worker.name)
            self._inc("frontier/reaped_while_alive")
            self.frontier.register(self.worker.name, self._info(), self.worker.ttl)
        reaped = self.frontier.reap()
        for dead, items, drained in reaped:
            logger.warning("frontier: worker %s stopped beating: %d item(s) put back", dead, items)
            self._inc("frontier/workers_reaped")
            self._inc("frontier/items_put_back", items)
            self._finish(drained)
        if reaped:
            self._recover_open_files()
        self._finish(self.frontier.drained())  # those whose drainer could not record them
        self.checkpoint()

    def checkpoint(self) -> None:
        """Ask the pipeline to commit now (it answers with ARCHIVE_COMMITTED)."""
        active = set(self.frontier.active(self.worker.kind))
        self.crawler.signals.send_catch_log(signal=ARCHIVE_CHECKPOINT, active=active)
        self.worker.keep(active)

    def wake(self) -> None:
        """Hand an idle engine a request when the frontier has some (the engine only looks every 5 s by itself)."""
        engine = running_engine(self.crawler)
        scheduler = engine.scheduler if engine is not None else None
        if engine is None or not isinstance(scheduler, FrontierScheduler) or scheduler.local:
            return
        if engine.needs_backout() or engine.downloader.active:
            return
        request = scheduler.take_to_wake()
        if request is not None:
            engine.crawl(request)

    def committed(self, counts: Mapping[str, Mapping[str, int]]) -> None:
        """Leases handed on before a commit are durable now: add their runs' counts, then acknowledge them."""
        if self.worker.failed:
            return
        try:
            for run, values in counts.items():
                self.frontier.add_counts(run, values)
            done = self.worker.take_done()
            if done:
                self._inc("frontier/acknowledged", len(done))
                self._finish(self.frontier.ack(self.worker.name, done))
        except FrontierError as exc:
            self.worker.fail(exc)

    def idle(self, spider: Any) -> None:
        if self.worker.failed:
            return  # the run is stopping
        try:
            self.checkpoint()
            if self.worker.until_idle and not self.worker.holding and not self.frontier.busy(self.worker.kind):
                return  # nothing queued or leased anywhere: the spider may close
        except FrontierError as exc:
            self.worker.fail(exc)
            return
        raise DontCloseSpider

    def closed(self, spider: Any, reason: str) -> None:
        for loop in (self.beats, self.waker):
            if loop is not None and loop.running:
                loop.stop()
        if self.worker.failed:  # what it holds stays leased: other workers put it back once its heartbeat is gone
            self._close_catalog()
            return
        try:
            released, drained = self.frontier.release(self.worker.name)
            if released:
                logger.info("frontier: %d item(s) this worker held went back to the queue", released)
            self._inc("frontier/items_put_back", released)
            self._finish(drained)
            self.frontier.leave(self.worker.name)
        except FrontierError as exc:  # the items stay leased; the others put them back when the TTL runs out
            logger.error("%s", exc)
        finally:
            self._close_catalog()

    def _close_catalog(self) -> None:
        if self.catalog is not None:
            self.catalog.close()

    def _finish(self, runs: list[str]) -> None:
        """Record drained runs as ended in the catalog, with every worker's counts.

        A run the catalog cannot record now stays in the frontier's drained set: this worker or
        another tries again at its next beat (so does one whose drained run was left unrecorded
        by a worker that died between its last acknowledgement and the catalog).
        """

        for run in runs:
            try:
                status = record_ended(self.frontier, self.catalog, run)
            except SQLAlchemyError as exc:
                if run not in self.unrecorded:
                    logger.error("frontier: run %s drained; the catalog could not record it (%s): retrying", run, exc)
                self.unrecorded.add(run)
                continue
            self.unrecorded.discard(run)
            self.worker.forget([run])
            self._inc("frontier/runs_finished")
            logger.info("frontier: run %s %s", run, status)

    def _recover_open_files(self) -> None:
        """Mend WARC files a dead worker left open in this data directory (locked ones are left alone)."""

        if self.data_dir and self.catalog is not None:
            recovered = recover_into(Path(self.data_dir), self.catalog, self.crawler.stats)
            if recovered:
                logger.warning("frontier: recovered %d WARC file(s) a dead worker left open", recovered)

    def _stop(self, reason: str) -> None:
        engine = running_engine(self.crawler)
        if engine is not None and engine.spider is not None:
            deferred_from_coro(engine.close_spider_async(reason=reason))

    def _inc(self, key: str, count: int = 1) -> None:
        if self.crawler.stats is not None:
            self.crawler.stats.inc_value(key, count)

    def _stat(self, key: str, value: Any) -> None:
        if self.crawler.stats is not None:
            self.crawler.stats.set_value(key, value)
