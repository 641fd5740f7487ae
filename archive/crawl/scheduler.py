"""Scrapy adapters for a worker of a shared frontier: scheduler, duplicate filter, and the worker's heartbeat.

A worker is `scraper crawl --frontier redis://...` (or `scraper reextract --frontier ...`). Its
scheduler is scrapy-redis's, over a queue that leases requests from the frontier
(archive.frontier.store) instead of popping them: a request stays in the worker's in-flight hash until
what it produced is durable. The spider says when a callback or errback has handed everything on
(`FrontierWorker.finished`); the archive pipeline says when it committed (ARCHIVE_COMMITTED);
then, and only then, the worker acknowledges those leases. A worker killed at any moment leaves
its leases in the frontier, and the first worker to see its heartbeat gone puts them back.
"""

from __future__ import annotations

import logging
import weakref
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from scrapy import Request
from scrapy.core.scheduler import BaseScheduler
from scrapy.exceptions import NotConfigured
from scrapy_redis.dupefilter import RFPDupeFilter
from scrapy_redis.queue import Base as RedisQueue

from archive.crawl.scope import CrawlScope, ScopeOptions, SharedLedger
from archive.frontier.store import (
    DEFAULT_NAME,
    Frontier,
    FrontierError,
    Lease,
    RequestCodec,
    default_worker_id,
    host_name,
    worker_name,
)

if TYPE_CHECKING:
    from typing import Self

    from scrapy.crawler import Crawler

__all__ = [
    "ARCHIVE_CHECKPOINT",
    "ARCHIVE_COMMITTED",
    "LEASE",
    "FrontierDupeFilter",
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
        """Drop what this worker keeps of runs that ended."""
        for run in list(runs):
            self._scopes.pop(run, None)
            self._options.pop(run, None)

    def keep(self, active: Iterable[str]) -> None:
        """Drop what this worker keeps of runs no longer active (another worker ended them)."""
        self.forget(set(self._scopes) - set(active))


class FrontierQueue(RedisQueue):  # type: ignore[misc]  # scrapy-redis has no type information: its Base is Any
    """scrapy-redis's queue interface over the frontier: push into the request's crawl; leasing is the scheduler's."""

    def __init__(self, server: Any, spider: Any, key: str, serializer: Any = None) -> None:
        super().__init__(server, spider, key, serializer or RequestCodec)
        self.worker: FrontierWorker = spider.frontier_worker

    def push(self, request: Request, fingerprint: str | None = None) -> int:
        """Queue a request in its crawl, taking its claim and fingerprint there (Frontier.push)."""
        run = request.meta.get("crawl")
        if run is None:
            raise ValueError(f"{request.url}: a request in a shared frontier must name its crawl")
        claim = request.meta.pop("claim", None)
        for key in _TRANSIENT_META:
            request.meta.pop(key, None)
        data = self._encode_request(request)
        return self.worker.frontier.push(run, data, request.priority, fingerprint=fingerprint, claim=claim)

    def decode(self, data: bytes) -> Request:
        request: Request = self._decode_request(data)  # scrapy-redis is untyped: its decoding gives Any
        return request

    def __len__(self) -> int:
        return self.worker.frontier.queued(self.worker.kind)

    def clear(self) -> None:  # never: the frontier outlives any one worker
        pass


class FrontierDupeFilter(RFPDupeFilter):  # type: ignore[misc]  # scrapy-redis has no type information
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
    This one leases (archive.frontier.store) over scrapy-redis's queue interface and request
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
            request = self.queue.decode(lease.data)
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
