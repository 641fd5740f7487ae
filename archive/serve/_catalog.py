"""The catalog as `serve` reads it: opened read-only, plus the counts and site figures its pages show.

Read-only is enforced by the database, not by care: SQLite connections run with
`PRAGMA query_only`, PostgreSQL sessions are READ ONLY transactions. A catalog at an older
schema is refused rather than migrated (a migration writes).
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, event, func, select
from sqlalchemy.orm import Session

# A count matches exactly the captures `search` pages through: the catalog counts them itself.
from archive.catalog import search
from archive.catalog.engine import statement_timeout
from archive.catalog.facade import Catalog
from archive.catalog.filters import SearchFilters, checked
from archive.catalog.models import CaptureRow
from archive.catalog.schema import SCHEMA_REVISION, schema_revision
from archive.errors import UsageError

__all__ = [
    "COUNT_CAP",
    "SiteFigures",
    "count_hits",
    "count_hits_soon",
    "open_read_only",
    "run_progress",
    "site_figures",
]

# Past this many matches the total reads "10,000+": counting every match of a common word on a
# large catalog costs more than the page itself.
COUNT_CAP = 10_000
_COUNTERS = ThreadPoolExecutor(max_workers=4, thread_name_prefix="serve-count")


def open_read_only(url: str) -> Catalog:
    """Return the catalog at `url` opened for reading only; UsageError: it is not at this version's schema."""
    catalog = Catalog(url)
    event.listen(catalog.engine, "connect", _read_only_sqlite if catalog.dialect == "sqlite" else _read_only_pg)
    found = schema_revision(catalog.engine)
    if found != SCHEMA_REVISION:
        catalog.close()
        why = "holds no catalog" if found is None else f"is at schema revision {found}, not {SCHEMA_REVISION}"
        raise UsageError(f"the catalog {why}: serve only reads (run `scraper query` once to bring it up to date)")
    return catalog


def _read_only_sqlite(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.execute("PRAGMA query_only = ON")


def _read_only_pg(dbapi_connection: Any, _record: Any) -> None:
    with dbapi_connection.cursor() as cursor:
        cursor.execute("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")
    dbapi_connection.commit()


def count_hits(engine: Engine, query: str | None, filters: SearchFilters, *, versions: bool) -> int:
    """Return how many captures `search` finds for these arguments, at most COUNT_CAP + 1."""
    return search.count(engine, query, filters, versions=versions, cap=COUNT_CAP)


def count_hits_soon(engine: Engine, query: str | None, filters: SearchFilters, *, versions: bool) -> Future[int]:
    """Return `count_hits` being worked out on a thread of its own; UsageError at once for a bad query or filter."""
    search.query_words(query)
    checked(filters)
    return _COUNTERS.submit(count_hits, engine, query, filters, versions=versions)


@dataclass(frozen=True, slots=True)
class SiteFigures:
    """One site: its captures, words kept of words read (the rest was boilerplate), captures per month."""

    site: str
    captures: int
    first: str
    last: str
    words_kept: int
    words_read: int
    months: tuple[tuple[str, int], ...]

    @property
    def boilerplate_share(self) -> float:
        """Return the share of words read that extraction dropped as boilerplate (0 when none were read)."""
        return 1 - self.words_kept / self.words_read if self.words_read else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "site": self.site,
            "captures": self.captures,
            "first_capture": self.first,
            "last_capture": self.last,
            "words_kept": self.words_kept,
            "words_read": self.words_read,
            "boilerplate_share": round(self.boilerplate_share, 4),
            "captures_by_month": [{"month": m, "captures": n} for m, n in self.months],
        }


def site_figures(engine: Engine, limit: int, site: str | None = None) -> list[SiteFigures]:
    """Return the sites with the most captures (or the one `site`), each with its figures."""
    with Session(engine) as session, statement_timeout(session):
        totals = (
            select(
                CaptureRow.site,
                func.count(),
                func.min(CaptureRow.captured_at),
                func.max(CaptureRow.captured_at),
                func.sum(CaptureRow.word_count),
                func.sum(CaptureRow.input_word_count),
            )
            .where(CaptureRow.site.is_not(None))
            .group_by(CaptureRow.site)
            .order_by(func.count().desc(), CaptureRow.site)
            .limit(limit)
        )
        if site is not None:
            totals = totals.where(CaptureRow.site == site)
        rows = session.execute(totals).all()
        month = func.substr(CaptureRow.captured_at, 1, 7)
        by_month = session.execute(
            select(CaptureRow.site, month, func.count())
            .where(CaptureRow.site.in_([row[0] for row in rows]))
            .group_by(CaptureRow.site, month)
            .order_by(month)
        ).all()
    months: dict[str | None, list[tuple[str, int]]] = {}
    for name, when, n in by_month:
        months.setdefault(name, []).append((when, int(n)))
    return [
        SiteFigures(str(name), int(n), first, last, int(kept or 0), int(read or 0), tuple(months.get(name, ())))
        for name, n, first, last, kept, read in rows
    ]


def run_progress(engine: Engine, crawl_ids: list[str]) -> dict[str, int]:
    """Return how many captures each run has archived so far (a running run's progress as the catalog holds it)."""
    if not crawl_ids:
        return {}
    with Session(engine) as session:
        found = session.execute(
            select(CaptureRow.crawl_id, func.count())
            .where(CaptureRow.crawl_id.in_(crawl_ids))
            .group_by(CaptureRow.crawl_id)
        ).all()
    return {str(crawl): int(n) for crawl, n in found}
