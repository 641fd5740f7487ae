"""The shared frontier: crawls' request queues, leases and seen-sets in Redis, for many workers on many machines.

Keys live under one name (default `scraper`, `--frontier-name`), so several frontiers can share
a Redis database. A *run* is a crawl (its queue holds serialized Scrapy requests) or a
re-extraction batch (its queue holds WARC file names); both work the same way:

    NAME:active:KIND            sorted set of the runs workers take work from (by start time)
    NAME:run:ID:queue           sorted set: a request (or file) -> priority, then arrival order
    NAME:run:ID:leased          how many of the run's items workers hold right now
    NAME:run:ID:state           hash: kind, status (running|cancelled|drained), job, started
    NAME:run:ID:options, :seeds the crawl's scope options (JSON) and seeds (a list of JSON)
    NAME:run:ID:pages, :discovery, :per_site, :per_seed, :dupefilter   the crawl's seen-sets and counts
    NAME:run:ID:counts          hash: what workers archived for the run (records_written, failed, ...)
    NAME:drained                set of the runs that drained but are not yet recorded as ended in the catalog
    NAME:workers                hash: worker -> JSON (host, pid, data directory, started)
    NAME:alive:WORKER           set while the worker's heartbeat lasts (expires after its TTL)
    NAME:inflight:WORKER        hash: lease id -> the item it holds (run, score, data)

Taking an item moves it from the run's queue into the worker's in-flight hash in one Lua
script, so an item is always in exactly one place. A worker acknowledges an item once what it
produced is durable (new requests pushed, records committed to the catalog); a worker whose
heartbeat expired has its in-flight items put back into their queues by whichever worker
notices first. A run is drained when its queue is empty and nothing of it is leased: the
worker whose acknowledgement drains it finishes it in the catalog, and should that worker die
or its catalog call fail first, the next worker that starts or beats does.
"""

from __future__ import annotations

import base64
import json
import os
import socket
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import redis
from redis.backoff import ExponentialBackoff
from redis.retry import Retry

from archive.errors import ArchiveError
from archive.frontier._codec import RequestCodec
from archive.frontier._lua import SCRIPTS
from scraper.urls import redacted

if TYPE_CHECKING:
    from redis.typing import EncodableT

__all__ = [
    "DEFAULT_NAME",
    "Frontier",
    "FrontierError",
    "Lease",
    "RequestCodec",
    "default_worker_id",
    "host_name",
    "redacted",
    "worker_name",
]

DEFAULT_NAME = "scraper"
_FINISHED_TTL = 7 * 86400  # a finished run's state and counts stay this long, for `scraper frontier`
T = TypeVar("T")


class FrontierError(ArchiveError):
    """The frontier cannot be reached or used; the message names it (password hidden) and why."""


@dataclass(frozen=True, slots=True)
class Lease:
    """One queued item a worker holds until it acknowledges it: its lease id, its run, its data."""

    id: str
    run: str
    data: bytes


def worker_name(host: str, worker_id: str) -> str:
    """Return a worker's name in the frontier: its host and its id there."""
    return f"{host}/{worker_id}"


class Frontier:
    """A frontier in Redis at `url`, its keys under `name`: runs, queues, leases, workers."""

    def __init__(self, url: str, name: str = DEFAULT_NAME, *, retry_seconds: float = 15.0) -> None:
        if not name or any(ch.isspace() or ch == ":" for ch in name):
            raise FrontierError(f"frontier name {name!r}: use letters, digits, '.', '_' or '-'")
        self.url = url
        self.name = name
        self.broken: str | None = None
        try:
            # Retried with backoff for about `retry_seconds` when the server goes away (a restart).
            retries = max(1, int(retry_seconds / 2))
            self.client = redis.Redis.from_url(
                url,
                socket_connect_timeout=5,
                socket_timeout=30,
                health_check_interval=30,
                retry=Retry(ExponentialBackoff(cap=2.0, base=0.1), retries),
                retry_on_error=[redis.ConnectionError, redis.TimeoutError],
            )
        except ValueError as exc:
            raise FrontierError(f"{redacted(url)} is not a Redis URL: {exc}") from exc
        self._scripts = {name: self.client.register_script(source) for name, source in SCRIPTS.items()}

    @classmethod
    def connect(cls, url: str, name: str = DEFAULT_NAME) -> Frontier:
        """Return the frontier at `url` once it answers; FrontierError says why it does not."""
        frontier = cls(url, name)
        frontier.call(frontier.client.ping)
        return frontier

    def call(self, method: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Return what a Redis call gives back; a failure after the client's retries becomes FrontierError.

        Once `broken` says why the frontier failed this process, every call fails at once with it.
        """
        if self.broken is not None:
            raise FrontierError(self.broken)
        try:
            return method(*args, **kwargs)
        except redis.RedisError as exc:
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise FrontierError(f"frontier {redacted(self.url)} ({self.name}): {reason}") from exc

    def _run(self, script: str, *args: Any, keys: Iterable[str] = ()) -> Any:
        return self.call(self._scripts[script], keys=list(keys), args=[self.name, *args])

    def key(self, run: str, part: str) -> str:
        """Return the Redis key of one part of a run (queue, pages, dupefilter, ...)."""
        return f"{self._base(run)}:{part}"

    def _base(self, run: str) -> str:
        return f"{self.name}:run:{run}"

    def close(self) -> None:
        self.client.close()

    # --- runs ---------------------------------------------------------------------------

    def open_run(
        self, run: str, kind: str, *, options: Mapping[str, Any] | None = None, job: str | None = None
    ) -> None:
        """Start run `run` of `kind` ("crawl" or "reextract") with its options; workers take from it at once."""
        state: dict[EncodableT, EncodableT] = {
            "kind": kind,
            "status": "running",
            "started": f"{time.time():.3f}",
            "job": job or "",
        }
        with self.client.pipeline(transaction=True) as pipe:
            pipe.hset(self.key(run, "state"), mapping=state)
            pipe.set(self.key(run, "options"), json.dumps(dict(options or {}), sort_keys=True))
            pipe.set(self.key(run, "leased"), 0)
            pipe.zadd(f"{self.name}:active:{kind}", {run: time.time()})
            if job:
                pipe.hset(f"{self.name}:jobs", job, run)
            self.call(pipe.execute)

    def add_seeds(self, run: str, seeds: list[dict[str, Any]]) -> int:
        """Append seeds to a crawl; return the index of the first one."""
        if not seeds:
            return int(self.call(self.client.llen, self.key(run, "seeds")))
        total = int(self.call(self.client.rpush, self.key(run, "seeds"), *(json.dumps(s) for s in seeds)))
        return total - len(seeds)

    def seeds(self, run: str, start: int = 0) -> list[dict[str, Any]]:
        """Return a crawl's seeds from index `start` on."""
        return [json.loads(raw) for raw in self.call(self.client.lrange, self.key(run, "seeds"), start, -1)]

    def options(self, run: str) -> dict[str, Any]:
        """Return the options a run was opened with."""
        raw = self.call(self.client.get, self.key(run, "options"))
        return dict(json.loads(raw)) if raw else {}

    def state(self, run: str) -> dict[str, str]:
        """Return a run's state (kind, status, job, started); empty when the frontier does not know it."""
        raw = self.call(self.client.hgetall, self.key(run, "state"))
        return {_text(k): _text(v) for k, v in raw.items()}

    def active(self, kind: str) -> list[str]:
        """Return the runs of `kind` workers take work from, oldest first."""
        return [_text(r) for r in self.call(self.client.zrange, f"{self.name}:active:{kind}", 0, -1)]

    def job_run(self, job: str) -> str | None:
        """Return the newest run a scheduled job started, if the frontier still knows it."""
        raw = self.call(self.client.hget, f"{self.name}:jobs", job)
        return _text(raw) if raw else None

    def push(
        self,
        run: str,
        data: bytes,
        priority: int = 0,
        *,
        fingerprint: str | None = None,
        claim: Mapping[str, Any] | None = None,
    ) -> int:
        """Queue an item of a running run: 1 queued, 0 seen already, -1 over a cap, -2 the run is not running.

        `claim` (archive.crawl.scope.CrawlScope.admit) takes the request's URL in the crawl's seen-sets
        and caps, `fingerprint` in its duplicate filter, in the same step as the push.
        """
        c = dict(claim or {})
        caps = [-1 if cap is None else int(cap) for cap in c.get("caps", (None, None, None))]
        claimed = [
            c.get("kind", ""),
            c.get("key", ""),
            c.get("site", ""),
            int(c.get("seed", 0)),
            int(bool(c.get("again"))),
        ]
        return int(self._run("push", run, data, int(priority), fingerprint or "", *claimed, *caps))

    def queued(self, kind: str) -> int:
        """Return how many items of running runs of `kind` wait in their queues."""
        runs = self.active(kind)
        if not runs:
            return 0
        with self.client.pipeline(transaction=False) as pipe:
            for run in runs:
                pipe.zcard(self.key(run, "queue"))
            return sum(self.call(pipe.execute))

    def busy(self, kind: str) -> bool:
        """Return whether any run of `kind` still has items queued or leased."""
        return bool(self.active(kind))

    def cancel(self, run: str) -> tuple[int, bool] | None:
        """Stop a run: drop its queue; return (items dropped, finished now), or None when it is not running."""
        result = self._run("cancel", run)
        if result == -1:
            return None
        dropped, finished = result
        return int(dropped), bool(finished)

    def settle(self, run: str) -> bool:
        """Mark a run drained if nothing of it is queued or leased; return whether it was (and now is)."""
        return int(self._run("settle", run)) == 1

    def add_counts(self, run: str, counts: Mapping[str, int]) -> None:
        """Add what a worker archived for a run to its totals."""
        with self.client.pipeline(transaction=False) as pipe:
            for key, value in counts.items():
                if value:
                    pipe.hincrby(self.key(run, "counts"), key, int(value))
            self.call(pipe.execute)

    def counts(self, run: str) -> dict[str, int]:
        """Return a run's totals over every worker."""
        raw = self.call(self.client.hgetall, self.key(run, "counts"))
        return {_text(k): int(v) for k, v in raw.items()}

    def drained(self) -> list[str]:
        """Return the runs that drained and are not yet recorded as ended in the catalog (retired)."""
        return sorted(_text(r) for r in self.call(self.client.smembers, f"{self.name}:drained"))

    def retire(self, run: str) -> None:
        """Drop a finished run's queue and seen-sets; keep its state and counts a week (for `scraper frontier`)."""
        parts = ("queue", "leased", "options", "seeds", "pages", "discovery", "per_site", "per_seed", "dupefilter")
        seen = self.call(self.client.scard, self.key(run, "pages"))  # the set goes; how many it held stays
        with self.client.pipeline(transaction=False) as pipe:
            pipe.hset(self.key(run, "state"), "pages_seen", seen)
            pipe.delete(*(self.key(run, part) for part in parts))
            pipe.srem(f"{self.name}:drained", run)
            pipe.expire(self.key(run, "state"), _FINISHED_TTL)
            pipe.expire(self.key(run, "counts"), _FINISHED_TTL)
            pipe.zadd(f"{self.name}:finished", {run: time.time()})
            pipe.zremrangebyscore(f"{self.name}:finished", 0, time.time() - _FINISHED_TTL)
            self.call(pipe.execute)

    def runs(self) -> list[dict[str, Any]]:
        """Return every run the frontier knows (active, and ended this week), newest first.

        `recorded` is False for a drained run no worker has yet recorded as ended in the catalog.
        """
        names = {_text(r) for r in self.call(self.client.zrange, f"{self.name}:finished", 0, -1)}
        unrecorded = set(self.drained())
        names |= unrecorded
        for kind in ("crawl", "reextract"):
            names.update(self.active(kind))
        found = []
        for run in names:
            state = self.state(run)
            if not state:
                continue
            with self.client.pipeline(transaction=False) as pipe:
                pipe.zcard(self.key(run, "queue"))
                pipe.get(self.key(run, "leased"))
                pipe.scard(self.key(run, "pages"))
                queued, leased, pages = self.call(pipe.execute)
            pages = pages or int(state.pop("pages_seen", 0) or 0)  # a retired run's, kept in its state
            found.append(
                {"id": run, **state, "queued": queued, "leased": int(leased or 0), "pages_seen": pages}
                | {"counts": self.counts(run), "recorded": run not in unrecorded}
            )
        return sorted(found, key=lambda r: float(r.get("started") or 0), reverse=True)

    # --- leases -------------------------------------------------------------------------

    def lease(self, worker: str, kind: str) -> Lease | None:
        """Take the next item of a running run of `kind` (runs take turns) for `worker`; None when all are empty."""
        got = self._run("lease", kind, worker)
        if not got:
            return None
        lease_id, run, data = got
        return Lease(lease_id.decode(), run.decode(), bytes(data))

    def ack(self, worker: str, lease_ids: Iterable[str]) -> list[str]:
        """Drop items `worker` is done with; return the runs this drained (finished: nothing queued or leased)."""
        ids = list(lease_ids)
        if not ids:
            return []
        return [r.decode() for r in self._run("ack", worker, *ids)]

    def release(self, worker: str, *, only_if_dead: bool = False) -> tuple[int, list[str]]:
        """Put a worker's in-flight items back in their queues; return (how many, runs this drained).

        With `only_if_dead`, (-1, []) when the worker is alive again or already given up by another.
        """
        count, finished = self._run("release", worker, "1" if only_if_dead else "0")
        return int(count), [r.decode() for r in finished]

    # --- workers ------------------------------------------------------------------------

    def register(self, worker: str, info: Mapping[str, Any], ttl: float) -> None:
        """Announce a worker and start its heartbeat."""
        entry = json.dumps({**info, "registered": time.time()}, sort_keys=True)
        with self.client.pipeline(transaction=True) as pipe:
            pipe.hset(f"{self.name}:workers", worker, entry)
            pipe.set(f"{self.name}:alive:{worker}", 1, px=int(ttl * 1000))
            self.call(pipe.execute)

    def heartbeat(self, worker: str, ttl: float) -> bool:
        """Keep a worker alive another `ttl` seconds; False when it had been given up for dead meanwhile."""
        with self.client.pipeline(transaction=True) as pipe:
            pipe.set(f"{self.name}:alive:{worker}", 1, px=int(ttl * 1000))
            pipe.hexists(f"{self.name}:workers", worker)
            _, known = self.call(pipe.execute)
        return bool(known)

    def leave(self, worker: str) -> None:
        """Forget a worker that stopped (its items were released first)."""
        with self.client.pipeline(transaction=True) as pipe:
            pipe.hdel(f"{self.name}:workers", worker)
            pipe.delete(f"{self.name}:alive:{worker}")
            self.call(pipe.execute)

    def workers(self) -> list[dict[str, Any]]:
        """Return every registered worker: its info, whether its heartbeat lasts, and how many items it holds."""
        found = []
        for name, raw in self.call(self.client.hgetall, f"{self.name}:workers").items():
            worker = _text(name)
            with self.client.pipeline(transaction=False) as pipe:
                pipe.pttl(f"{self.name}:alive:{worker}")
                pipe.hlen(f"{self.name}:inflight:{worker}")
                ttl, held = self.call(pipe.execute)
            found.append({"worker": worker, **json.loads(raw), "alive": ttl > 0, "in_flight": held})
        return sorted(found, key=lambda w: w["worker"])

    def in_flight(self, worker: str) -> list[bytes]:
        """Return the data of the items a worker holds."""
        entries = self.call(self.client.hvals, f"{self.name}:inflight:{worker}")
        return [_raw(entry).split(b"\n", 2)[2] for entry in entries]

    def reap(self) -> list[tuple[str, int, list[str]]]:
        """Release the items of every worker whose heartbeat expired: [(worker, items, runs drained)]."""
        reaped = []
        for name in self.call(self.client.hkeys, f"{self.name}:workers"):
            worker = _text(name)
            if self.call(self.client.exists, f"{self.name}:alive:{worker}"):
                continue
            count, finished = self.release(worker, only_if_dead=True)
            if count >= 0:  # -1: it came back, or another worker reaped it first
                reaped.append((worker, count, finished))
        return reaped

    # --- politeness and robots.txt, shared by every worker --------------------------------

    def reserve(self, host: str, interval: float) -> float:
        """Reserve the next turn to fetch from `host`, `interval` seconds after the last; return seconds to wait."""
        wait_ms = self.call(self._scripts["reserve"], keys=[f"{self.name}:gate:{host}"], args=[int(interval * 1000)])
        return max(0.0, int(wait_ms) / 1000)

    def robots(self, netloc: str) -> tuple[int, bytes] | None:
        """Return (status, body) of a host's robots.txt as some worker fetched it, if still fresh."""
        raw = self.call(self.client.get, f"{self.name}:robots:{netloc}")
        if raw is None:
            return None
        entry = json.loads(raw)
        return int(entry["status"]), base64.b64decode(entry["body"])

    def store_robots(self, netloc: str, status: int, body: bytes, ttl: float) -> None:
        """Share a host's robots.txt with every worker for `ttl` seconds."""
        entry = json.dumps({"status": status, "body": base64.b64encode(body).decode()})
        with self.client.pipeline(transaction=True) as pipe:
            pipe.set(f"{self.name}:robots:{netloc}", entry, px=int(ttl * 1000))
            pipe.delete(f"{self.name}:robots-lock:{netloc}")
            self.call(pipe.execute)

    def lock_robots(self, netloc: str, worker: str, seconds: float) -> bool:
        """Return True when this worker is to fetch the host's robots.txt (the others wait for it)."""
        key = f"{self.name}:robots-lock:{netloc}"
        return bool(self.call(self.client.set, key, worker, nx=True, px=int(seconds * 1000)))

    def unlock_robots(self, netloc: str) -> None:
        self.call(self.client.delete, f"{self.name}:robots-lock:{netloc}")

    # --- housekeeping ---------------------------------------------------------------------

    def purge(self) -> int:
        """Delete every key of this frontier; return how many (tests and `scraper frontier --purge`)."""
        deleted = 0
        for batch in _batched(self.call(self.client.scan_iter, match=f"{self.name}:*", count=500), 500):
            deleted += int(self.call(self.client.delete, *batch))
        return deleted


def _raw(reply: object) -> bytes:
    """Return a string reply of Redis as it came: bytes, since the client does not decode replies.

    redis-py types replies loosely (str too, for clients that decode; a sorted set's members
    maybe with their scores), so this says which one it is.
    """
    if not isinstance(reply, bytes):
        raise TypeError(f"Redis replied {type(reply).__name__}, not bytes")
    return reply


def _text(reply: object) -> str:
    """Return a string reply of Redis as text."""
    return _raw(reply).decode()


def _batched(items: Iterable[T], size: int) -> Iterable[list[T]]:
    batch: list[T] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def default_worker_id() -> str:
    """Return this process's worker id: its pid (the host goes into the worker's name separately)."""
    return str(os.getpid())


def host_name() -> str:
    return socket.gethostname()
