"""Scrapy adapters for a worker of a shared frontier: scheduler, duplicate filter, and the worker's heartbeat.

A worker is `scraper crawl --frontier redis://...` (or `scraper reextract --frontier ...`). Its
scheduler is scrapy-redis's, over a queue that leases requests from the frontier
(archive.frontier) instead of popping them: a request stays in the worker's in-flight hash until
what it produced is durable. The spider says when a callback or errback has handed everything on
(`FrontierWorker.finished`); the archive pipeline says when it committed (ARCHIVE_COMMITTED);
then, and only then, the worker acknowledges those leases. A worker killed at any moment leaves
its leases in the frontier, and the first worker to see its heartbeat gone puts them back.
"""

from __future__ import annotations

import logging
import os
import weakref
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from scrapy import Request, signals
from scrapy.core.scheduler import BaseScheduler
from scrapy.exceptions import DontCloseSpider, NotConfigured
from scrapy.utils.request import request_from_dict
from scrapy_redis.dupefilter import RFPDupeFilter
from scrapy_redis.queue import Base as RedisQueue
from twisted.internet import task

from archive.frontier import (
    DEFAULT_NAME,
    Frontier,
    FrontierError,
    Lease,
    RequestCodec,
    default_worker_id,
    host_name,
    worker_name,
)
from archive.scope import CrawlScope, ScopeOptions, SharedLedger

if TYPE_CHECKING:
    from typing import Self

    from scrapy.crawler import Crawler

__all__ = [
    "ARCHIVE_CHECKPOINT",
    "ARCHIVE_COMMITTED",
    "LEASE",
    "FrontierDupeFilter",
    "FrontierExtension",
    "FrontierScheduler",
    "FrontierWorker",
    "frontier_worker",
]

logger = logging.getLogger(__name__)

# Signals between the archive pipeline and the worker. CHECKPOINT (sent by the worker, with the
# runs still active): commit what is pending. COMMITTED (sent by the pipeline after a commit,
# with what it archived per run since the last one): what was handed on before it is durable.
ARCHIVE_CHECKPOINT = object()
ARCHIVE_COMMITTED = object()

LEASE = "frontier_lease"  # meta: the lease a request was taken under
LOCAL = "frontier_local"  # meta: keep this request in this process (taken already, or a replay's)
_TRANSIENT_META = ("wire", "capture", LEASE, LOCAL)  # what one process knows of a request, not the frontier
_PUSHED = {1: "scheduler/enqueued/redis", 0: "frontier/seen", -1: "crawl/capped"}

_workers: weakref.WeakKeyDictionary[Crawler, FrontierWorker | None] = weakref.WeakKeyDictionary()


def frontier_worker(crawler: Crawler) -> FrontierWorker | None:
    """Return this crawler's frontier worker (one per crawler), or None when it runs on its own."""
    if crawler not in _workers:
        _workers[crawler] = FrontierWorker.from_settings(crawler.settings)
    return _workers[crawler]


class FrontierWorker:
    """This process as one worker of a frontier: its name, the leases it holds, and its crawls' scopes.

    A lease is done when every part of it has been handed on: a crawl request has one part (its
    callback or errback); a WARC file of a re-extraction has one per capture in it, and is done
    when the last is handed on after the file was read to its end.
    """

    def __init__(self, frontier: Frontier, name: str, kind: str, settings: Any) -> None:
        self.frontier = frontier
        self.name = name
        self.kind = kind
        self.heartbeat = settings.getfloat("ARCHIVE_FRONTIER_HEARTBEAT", 5.0)
        self.ttl = max(settings.getfloat("ARCHIVE_FRONTIER_WORKER_TTL", 30.0), 2 * self.heartbeat)
        self.until_idle = settings.getbool("ARCHIVE_FRONTIER_UNTIL_IDLE")
        self.parts: dict[str, int] = {}  # lease -> parts not yet handed on
        self.listed: set[str] = set()  # leases all of whose parts exist
        self.done: list[str] = []  # leases handed on, acknowledged at the next commit
        self.failed: str | None = None  # why the frontier stopped answering; nothing is acknowledged after
        self.on_failure: Callable[[str], None] | None = None
        self._scopes: dict[str, CrawlScope] = {}
        self._options: dict[str, dict[str, Any]] = {}

    @classmethod
    def from_settings(cls, settings: Any) -> FrontierWorker | None:
        url = settings.get("ARCHIVE_FRONTIER_URL")
        if not url:
            return None
        frontier = Frontier.connect(url, settings.get("ARCHIVE_FRONTIER_NAME") or DEFAULT_NAME)
        worker_id = settings.get("ARCHIVE_WORKER_ID") or default_worker_id()
        kind = "reextract" if settings.get("ARCHIVE_CRAWL_KIND") == "reextract" else "crawl"
        return cls(frontier, worker_name(host_name(), worker_id), kind, settings)

    # --- leases -------------------------------------------------------------------------

    def take(self) -> Lease | None:
        """Lease the next item of this worker's kind; it has one part until `expect()` says more."""
        lease = self.frontier.lease(self.name, self.kind)
        if lease is not None:
            self.parts[lease.id] = 0
        return lease

    def expect(self, lease_id: str, parts: int = 1) -> None:
        """Say that `parts` more requests carry this lease."""
        self.parts[lease_id] = self.parts.get(lease_id, 0) + parts

    def all_listed(self, lease_id: str) -> None:
        """Say that no more requests will carry this lease: it is done when those there are are handed on."""
        self.listed.add(lease_id)
        self._maybe_done(lease_id)

    def finished(self, meta: Mapping[str, Any]) -> None:
        """Note that a request's callback or errback handed on everything it produced."""
        lease_id = meta.get(LEASE)
        if lease_id is None or lease_id not in self.parts:
            return
        self.parts[lease_id] -= 1
        self._maybe_done(lease_id)

    def _maybe_done(self, lease_id: str) -> None:
        if lease_id in self.listed and self.parts.get(lease_id, 1) <= 0:
            del self.parts[lease_id]
            self.listed.discard(lease_id)
            self.done.append(lease_id)

    def take_done(self) -> list[str]:
        """Return the leases to acknowledge now (none once the frontier failed: what they made may be lost)."""
        done, self.done = self.done, []
        return [] if self.failed else done

    def fail(self, error: Exception) -> None:
        """The frontier failed this worker: acknowledge nothing more (held leases go back), and stop."""
        if self.failed is None:
            self.failed = str(error)
            self.frontier.broken = self.failed  # no more waiting on it: each later call fails at once
            logger.error("%s", error)
            if self.on_failure is not None:
                self.on_failure(self.failed)

    @property
    def holding(self) -> int:
        return len(self.parts) + len(self.done)

    # --- crawls -------------------------------------------------------------------------

    def run_options(self, run: str) -> dict[str, Any]:
        """Return the options a run was opened with (read once per worker)."""
        if run not in self._options:
            self._options[run] = self.frontier.options(run)
        return self._options[run]

    def scope(self, run: str) -> CrawlScope:
        """Return a crawl's scope: its options, and its seeds and seen-sets in the frontier."""
        if run not in self._scopes:
            options = ScopeOptions.from_dict(self.run_options(run))
            self._scopes[run] = CrawlScope(options, SharedLedger(self.frontier, run), run)
        return self._scopes[run]

    def forget(self, runs: Iterable[str]) -> None:
        for run in runs:
            self._scopes.pop(run, None)
            self._options.pop(run, None)


class FrontierQueue(RedisQueue):
    """scrapy-redis's queue interface over the frontier: push into the request's crawl; leasing is the scheduler's."""

    def __init__(self, server: Any, spider: Any, key: str, serializer: Any = None) -> None:
        super().__init__(server, spider, key, serializer or RequestCodec)
        self.worker: FrontierWorker = spider.frontier_worker

    def push(self, request: Request, fingerprint: str | None = None) -> int:
        """Queue a request in its crawl, taking its claim and fingerprint there (archive.frontier.Frontier.push)."""
        run = request.meta.get("crawl")
        if run is None:
            raise ValueError(f"{request.url}: a request in a shared frontier must name its crawl")
        claim = request.meta.pop("claim", None)
        for key in _TRANSIENT_META:
            request.meta.pop(key, None)
        data = self._encode_request(request)
        return self.worker.frontier.push(run, data, request.priority, fingerprint=fingerprint, claim=claim)

    def decode(self, data: bytes) -> Request:
        return self._decode_request(data)

    def __len__(self) -> int:
        return self.worker.frontier.queued(self.worker.kind)

    def clear(self) -> None:  # never: the frontier outlives any one worker
        pass


class FrontierDupeFilter(RFPDupeFilter):
    """scrapy-redis's request fingerprints; the frontier keeps them per crawl as it queues (a recrawl starts empty)."""

    @classmethod
    def from_spider(cls, spider: Any) -> Self:
        worker = spider.frontier_worker
        return cls(worker.frontier.client, key="", debug=spider.settings.getbool("DUPEFILTER_DEBUG"))

    def request_seen(self, request: Request) -> bool:  # never asked: FrontierScheduler pushes with the fingerprint
        raise NotImplementedError("the frontier checks fingerprints as it queues (FrontierQueue.push)")

    def clear(self) -> None:  # the seen-set belongs to the crawl, not to this worker
        pass


class FrontierScheduler(BaseScheduler):
    """Requests come from and go to the frontier; a worker holds what it took until it is acknowledged.

    scrapy-redis's own scheduler pops a request off Redis: a worker killed after that loses it.
    This one leases (archive.frontier) over scrapy-redis's queue interface and request
    fingerprints. Requests that must stay in this process (one just taken to wake the engine, a
    re-extraction's captures) wait in a local queue. A request a downloader middleware made from
    a leased one (a retry, a redirect) is pushed, and the lease it came under is then done.
    """

    def __init__(self, worker: FrontierWorker, stats: Any) -> None:
        self.worker = worker
        self.stats = stats
        self.local: deque[Request] = deque()
        self.spider: Any = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        worker = frontier_worker(crawler)
        if worker is None:
            raise NotConfigured("FrontierScheduler needs ARCHIVE_FRONTIER_URL")
        return cls(worker, crawler.stats)

    def open(self, spider: Any) -> None:
        self.spider = spider
        self.queue = FrontierQueue(self.worker.frontier.client, spider, "%(spider)s:requests", RequestCodec)
        self.df = FrontierDupeFilter.from_spider(spider)
        queued = len(self.queue)
        if queued:
            logger.info("frontier: %d request(s) queued in %s", queued, self.worker.frontier.name)

    def close(self, reason: str) -> None:  # the frontier keeps its queues; held leases go back on spider_closed
        self.local.clear()

    def enqueue_request(self, request: Request) -> bool:
        if request.meta.pop(LOCAL, False) or "replay_source" in request.meta:
            self.local.append(request)
            return True
        came_under = request.meta.pop(LEASE, None)
        fingerprint = None if request.dont_filter else self.df.request_fingerprint(request)
        try:
            queued = self.queue.push(request, fingerprint)
        except FrontierError as exc:  # the page that found it is not acknowledged: it is done again later
            self.worker.fail(exc)
            return False
        if queued == 0 and fingerprint is not None:
            self.df.log(request, self.spider)
        if self.stats is not None:
            self.stats.inc_value(_PUSHED.get(queued, "frontier/refused_run_not_running"))
        if came_under is not None:
            self.worker.finished({LEASE: came_under})  # its continuation is in the frontier (or was seen)
        return queued == 1

    def next_request(self) -> Request | None:
        if self.local:
            return self.local.popleft()
        if self.worker.failed:
            return None
        try:
            while (lease := self.worker.take()) is not None:
                request = self._leased(lease)
                if request is not None:
                    return request
        except FrontierError as exc:
            self.worker.fail(exc)
        return None

    def take_to_wake(self) -> Request | None:
        """Lease a request to hand the engine through `engine.crawl` (which wakes it), kept in this process."""
        lease = self.worker.take()
        request = self._leased(lease) if lease is not None else None
        if request is not None:
            request.meta[LOCAL] = True
        return request

    def _leased(self, lease: Lease) -> Request | None:
        self.worker.expect(lease.id)
        self.worker.all_listed(lease.id)  # one request: done when its callback or errback is
        try:
            request = request_from_dict(RequestCodec.loads(lease.data), spider=self.spider)
        except Exception as exc:  # a request no worker can read: drop it with its reason, once
            logger.error("frontier: dropping a request that cannot be read (%s): %.200r", exc, lease.data)
            if self.stats is not None:
                self.stats.inc_value("frontier/unreadable_requests")
            self.worker.finished({LEASE: lease.id})
            return None
        request.meta[LEASE] = lease.id
        if self.stats is not None:
            self.stats.inc_value("scheduler/dequeued/redis")
        return request

    def has_pending_requests(self) -> bool:
        if self.local:
            return True
        if self.worker.failed:
            return False
        try:
            return self.worker.frontier.queued(self.worker.kind) > 0
        except FrontierError as exc:
            self.worker.fail(exc)
            return False


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
        from archive.catalog import Catalog
        from archive.pipeline import catalog_url

        self.catalog = Catalog(catalog_url(self.crawler.settings))
        info = {"host": host_name(), "pid": os.getpid(), "kind": self.worker.kind, "data": str(self.data_dir)}
        self.frontier.register(self.worker.name, info, self.worker.ttl)
        self._stat("frontier/worker", self.worker.name)
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

    def beat(self) -> None:
        if not self.frontier.heartbeat(self.worker.name, self.worker.ttl):
            # Given up for dead while alive (a pause longer than the TTL): what it held went back.
            logger.warning("frontier: %s was given up for dead; registering again", self.worker.name)
            self._inc("frontier/reaped_while_alive")
            self.frontier.register(self.worker.name, {"host": host_name(), "pid": os.getpid()}, self.worker.ttl)
        for dead, items, drained in self.frontier.reap():
            logger.warning("frontier: worker %s stopped beating: %d item(s) put back", dead, items)
            self._inc("frontier/workers_reaped")
            self._inc("frontier/items_put_back", items)
            self._finish(drained)
            self._recover_open_files()
        self.checkpoint()

    def checkpoint(self) -> None:
        """Ask the pipeline to commit now (it answers with ARCHIVE_COMMITTED)."""
        active = set(self.frontier.active(self.worker.kind))
        self.crawler.signals.send_catch_log(signal=ARCHIVE_CHECKPOINT, active=active)

    def wake(self) -> None:
        """Hand an idle engine a request when the frontier has some (the engine only looks every 5 s by itself)."""
        engine = self.crawler.engine
        scheduler = engine.scheduler if engine is not None else None
        if engine is None or not isinstance(scheduler, FrontierScheduler) or scheduler.local:
            return
        if engine.needs_backout() or self.crawler.engine.downloader.active:
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
        """Record runs this worker drained as ended in the catalog, with every worker's counts."""
        for run in runs:
            state = self.frontier.state(run)
            status = "cancelled" if state.get("status", "").startswith("cancelled") else "finished"
            self.catalog.finish_crawl(run, status, self.frontier.counts(run))
            self.frontier.retire(run)
            self.worker.forget([run])
            self._inc("frontier/runs_finished")
            logger.info("frontier: run %s %s", run, status)

    def _recover_open_files(self) -> None:
        """Mend WARC files a dead worker left open in this data directory (locked ones are left alone)."""
        from pathlib import Path

        from archive.pipeline import recover_into

        if self.data_dir and self.catalog is not None:
            recovered = recover_into(Path(self.data_dir), self.catalog, self.crawler.stats)
            if recovered:
                logger.warning("frontier: recovered %d WARC file(s) a dead worker left open", recovered)

    def _stop(self, reason: str) -> None:
        from scrapy.utils.defer import deferred_from_coro

        engine = self.crawler.engine
        if engine is not None and engine.spider is not None:
            deferred_from_coro(engine.close_spider_async(reason=reason))

    def _inc(self, key: str, count: int = 1) -> None:
        if self.crawler.stats is not None:
            self.crawler.stats.inc_value(key, count)

    def _stat(self, key: str, value: Any) -> None:
        if self.crawler.stats is not None:
            self.crawler.stats.set_value(key, value)
