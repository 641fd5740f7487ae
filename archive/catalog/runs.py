"""Runs in the catalog: each replay, crawl or re-extraction, its arguments, how it ended and what it counted."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from archive.catalog.models import Crawl
from scraper import __version__

__all__ = ["CrawlRun", "ensure", "find", "finish", "newest", "resumable", "resume", "start"]


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
        """Return the run a catalog row holds."""
        return cls(
            id=crawl.id,
            kind=crawl.kind,
            started_at=crawl.started_at.isoformat(),
            finished_at=crawl.finished_at.isoformat() if crawl.finished_at else None,
            status=crawl.status,
            counts=crawl.counts or {},
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


def start(engine: Engine, kind: str, args: dict[str, Any]) -> str:
    """Return the id of a new run row for a run that starts now."""
    crawl_id = str(uuid.uuid4())
    with Session(engine) as session, session.begin():
        session.add(_row(crawl_id, kind, "running", args, finished=False))
    return crawl_id


def finish(engine: Engine, crawl_id: str, status: str, counts: dict[str, Any]) -> None:
    """Record how a run ended and what it counted."""
    with Session(engine) as session, session.begin():
        crawl = session.get_one(Crawl, crawl_id)
        crawl.finished_at = datetime.now(UTC)
        crawl.status = status
        crawl.counts = counts


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
    which = Crawl.status != "finished" if crawl_id == "latest" else Crawl.id.startswith(crawl_id)
    return _first(engine, select(Crawl).where(Crawl.kind == "crawl", which))


def resume(engine: Engine, crawl_id: str) -> str:
    """Reopen the crawl with this id to continue it; return the id."""
    with Session(engine) as session, session.begin():
        crawl = session.get_one(Crawl, crawl_id)
        crawl.status = "running"
        crawl.finished_at = None
        return crawl.id


def find(engine: Engine, crawl_id: str) -> CrawlRun | None:
    """Return the run with this id or id prefix ("latest": the newest run of any kind)."""
    query = select(Crawl)
    return _first(engine, query if crawl_id == "latest" else query.where(Crawl.id.startswith(crawl_id)))


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
