"""Runs in the catalog: each replay, crawl or re-extraction, its arguments, how it ended and what it counted."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func, insert, select, update
from sqlalchemy.orm import Session

from archive.catalog.filters import id_prefix
from archive.catalog.models import CaptureRow, Crawl, CrawlProblem
from scraper import __version__, iso_utc

__all__ = [
    "RUN_COUNTS",
    "STALE_AFTER",
    "CrawlRun",
    "Problem",
    "add_problems",
    "beat",
    "close_dead",
    "died_line",
    "ensure",
    "find",
    "finish",
    "newest",
    "owner",
    "problems",
    "resumable",
    "resume",
    "start",
]

# A running run owned by a process on another host is taken for dead once it has shown no sign
# of life (heartbeat_at) for this long; the pipeline beats every ARCHIVE_RUN_HEARTBEAT seconds (60).
STALE_AFTER = timedelta(minutes=10)


# What every run counts (the pipeline's figures): a run that counted none of one has 0 of it.
RUN_COUNTS = (
    "captures_read",
    "records_written",
    "unchanged",
    "revisits",
    "failed",
    "http_errors",
    "no_text",
    "words_kept",
    "boilerplate_words_dropped",
    "reextracted",
)


@dataclass(frozen=True, slots=True)
class CrawlRun:
    """One run: its id, kind (replay, crawl, reextract, recovered), times (ISO 8601), status, counts, arguments."""

    id: str
    kind: str
    started_at: str
    finished_at: str | None
    status: str
    counts: dict[str, Any] = field(default_factory=dict)
    args: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_row(cls, crawl: Crawl) -> CrawlRun:
        """Return the run a catalog row holds: times in UTC as records write them (`...Z`), every count there."""
        return cls(
            id=crawl.id,
            kind=crawl.kind,
            started_at=iso_utc(_aware(crawl.started_at)),
            finished_at=iso_utc(_aware(crawl.finished_at)) if crawl.finished_at else None,
            status=crawl.status,
            counts=dict.fromkeys(RUN_COUNTS, 0) | (crawl.counts or {}),
            args=crawl.args or {},
        )

    def to_dict(self) -> dict[str, Any]:
        """Return the run as JSON-ready values (`scraper crawls --format json`)."""
        return {
            "id": self.id,
            "kind": self.kind,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "status": self.status,
            "counts": self.counts,
            "args": self.args,
        }


def owner(pid: int | None = None) -> str:
    """Return "HOST PID START" for process `pid` (this one by default): what a run's owner column holds.

    START is the process's start time in clock ticks since boot, with the boot's id, read from
    /proc (empty where there is none): a pid the kernel has since given to another process does
    not pass for the run's.
    """
    pid = os.getpid() if pid is None else pid
    return f"{socket.gethostname()} {pid} {_started(pid) or ''}".rstrip()


def _started(pid: int) -> str | None:
    """Return the boot id and start time of process `pid`, or None if it is not running (or no /proc)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    if fields[0] in ("Z", "X"):  # a zombie: dead, not yet reaped
        return None
    return f"{boot}:{fields[19]}"  # field 22 of stat: starttime


def _alive_here(pid: int, start: str) -> bool:
    """Return whether the process an owner names (on this host) still runs."""
    if start:
        return _started(pid) == start
    try:  # no start time was recorded (no /proc): whether the pid exists is all there is
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def start(engine: Engine, kind: str, args: dict[str, Any], *, owned: bool = True) -> str:
    """Return the id of a new run row for a run that starts now (`owned`: by this process, else queued)."""
    crawl_id = str(uuid.uuid4())
    with Session(engine) as session, session.begin():
        row = _row(crawl_id, kind, "running", args, finished=False)
        if owned:
            row.owner, row.heartbeat_at = owner(), row.started_at
        session.add(row)
    return crawl_id


def beat(engine: Engine, crawl_id: str) -> None:
    """Note that the process running `crawl_id` is alive now."""
    with Session(engine) as session, session.begin():
        session.execute(update(Crawl).where(Crawl.id == crawl_id).values(heartbeat_at=datetime.now(UTC)))


def close_dead(engine: Engine, *, stale_after: timedelta = STALE_AFTER, dry_run: bool = False) -> list[CrawlRun]:
    """Mark each running run whose process died `interrupted`, its counts re-read from what it archived.

    A run is dead when its owner is a process on this host that no longer runs, or, on another
    host, when it has not beaten for `stale_after`. Runs with no owner (queued in a frontier,
    or written before owners were recorded) are left as they are. Return the runs marked (with
    `dry_run`, the runs that would be: nothing changes).
    """
    host = socket.gethostname()
    now = datetime.now(UTC)
    closed: list[CrawlRun] = []
    with Session(engine) as session:
        running = session.scalars(
            select(Crawl).where(Crawl.status == "running", Crawl.owner.is_not(None)).with_for_update()
        ).all()
        for crawl in running:
            name, _, rest = (crawl.owner or "").partition(" ")
            pid, _, started = rest.partition(" ")
            if name == host and pid.isdigit():
                dead = not _alive_here(int(pid), started)
            else:
                last = _aware(crawl.heartbeat_at or crawl.started_at)
                dead = now - last > stale_after
            if not dead:
                continue
            written, words = session.execute(
                select(func.count(CaptureRow.id), func.coalesce(func.sum(CaptureRow.word_count), 0)).where(
                    CaptureRow.crawl_id == crawl.id, CaptureRow.no_text.is_(None)
                )
            ).one()
            crawl.status = "interrupted"
            crawl.finished_at = _aware(crawl.heartbeat_at) if crawl.heartbeat_at else now
            crawl.counts = {
                **(crawl.counts or {}),
                "records_written": int(written),
                "words_kept": int(words),
                "recounted": "from the catalog, after its process died",
            }
            closed.append(CrawlRun.from_row(crawl))
        if dry_run:
            session.rollback()
        else:
            session.commit()
    return closed


def died_line(run: CrawlRun) -> str:
    """Return the line that tells the user a run was found dead and marked interrupted."""
    return (
        f"run {run.id} ({run.kind}, started {run.started_at}) ended without a word: its process died; "
        f"marked interrupted, {run.counts.get('records_written', 0)} records archived"
    )


@dataclass(frozen=True, slots=True)
class Problem:
    """What a run met: an input that failed (kind "failed") or a page answered with an HTTP error (kind "http")."""

    kind: str
    source: str
    reason: str
    status: int | None = None
    at: str = ""  # ISO 8601, when the run met it

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "status": self.status, "source": self.source, "reason": self.reason, "at": self.at}


def add_problems(engine: Engine, crawl_id: str, found: Iterable[Problem]) -> None:
    """Keep what run `crawl_id` met, for `scraper crawls RUN` to list."""
    now = datetime.now(UTC)
    rows = [
        {"crawl_id": crawl_id, "kind": p.kind, "status": p.status, "source": p.source, "reason": p.reason, "at": now}
        for p in found
    ]
    if rows:
        with Session(engine) as session, session.begin():
            session.execute(insert(CrawlProblem), rows)


def problems(engine: Engine, crawl_id: str, *, kind: str | None = None, limit: int | None = None) -> list[Problem]:
    """Return what run `crawl_id` met, in the order it met them (`kind`: "failed" or "http" only)."""
    query = select(CrawlProblem).where(CrawlProblem.crawl_id == crawl_id)
    if kind is not None:
        query = query.where(CrawlProblem.kind == kind)
    with Session(engine) as session:
        return [
            Problem(p.kind, p.source, p.reason, p.status, _aware(p.at).isoformat())
            for p in session.scalars(query.order_by(CrawlProblem.id).limit(limit))
        ]


def _aware(moment: datetime) -> datetime:
    """Return `moment` with a time zone (SQLite hands back naive datetimes: they were stored in UTC)."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def finish(engine: Engine, crawl_id: str, status: str, counts: dict[str, Any]) -> None:
    """Record how a run ended and what it counted."""
    with Session(engine) as session, session.begin():
        crawl = session.get_one(Crawl, crawl_id)
        crawl.finished_at = datetime.now(UTC)
        crawl.status = status
        crawl.counts = counts
        crawl.owner = None  # ended: no process answers for it any more


def ensure(engine: Engine, crawl_ids: Iterable[str]) -> None:
    """Add a row for each run id the catalog lacks (captures re-indexed from WARC files name their run)."""
    wanted = sorted(set(crawl_ids))
    with Session(engine) as session, session.begin():
        have = set(session.scalars(select(Crawl.id).where(Crawl.id.in_(wanted))))
        for crawl_id in wanted:
            if crawl_id not in have:
                session.add(_row(crawl_id, "recovered", "recovered", {"command": "repair"}, finished=True))


def resumable(engine: Engine, crawl_id: str) -> CrawlRun | None:
    """Return the crawl `crawl_id` (an id or its prefix; "latest": the newest unfinished crawl)."""
    which = Crawl.status != "finished" if crawl_id == "latest" else id_prefix(Crawl.id, crawl_id)
    return _first(engine, select(Crawl).where(Crawl.kind == "crawl", which))


def resume(engine: Engine, crawl_id: str) -> str:
    """Reopen the crawl with this id to continue it (in this process); return the id."""
    with Session(engine) as session, session.begin():
        crawl = session.get_one(Crawl, crawl_id)
        crawl.status = "running"
        crawl.finished_at = None
        crawl.owner, crawl.heartbeat_at = owner(), datetime.now(UTC)
        return crawl.id


def find(engine: Engine, crawl_id: str) -> CrawlRun | None:
    """Return the run with this id or id prefix ("latest": the newest run of any kind)."""
    query = select(Crawl)
    return _first(engine, query if crawl_id == "latest" else query.where(id_prefix(Crawl.id, crawl_id)))


def newest(engine: Engine, limit: int = 50) -> list[CrawlRun]:
    """Return the newest runs first."""
    with Session(engine) as session:
        return [
            CrawlRun.from_row(c) for c in session.scalars(select(Crawl).order_by(Crawl.started_at.desc()).limit(limit))
        ]


def _first(engine: Engine, query: Any) -> CrawlRun | None:
    """Return the newest run `query` selects."""
    with Session(engine) as session:
        crawl = session.scalars(query.order_by(Crawl.started_at.desc()).limit(1)).first()
        return CrawlRun.from_row(crawl) if crawl is not None else None


def _row(crawl_id: str, kind: str, status: str, args: dict[str, Any], *, finished: bool) -> Crawl:
    now = datetime.now(UTC)
    return Crawl(
        id=crawl_id,
        kind=kind,
        started_at=now,
        finished_at=now if finished else None,
        status=status,
        args=args,
        software=f"scraper-archive/{__version__}",
        counts={},
    )
