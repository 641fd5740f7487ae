"""Captures in the catalog: records read back by id, URL, run or in bulk; captures whose bytes are lost forgotten."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator, Sequence
from typing import Any, cast

from sqlalchemy import CursorResult, Engine, Select, func, or_, select
from sqlalchemy.orm import Session

from archive.catalog._sql import dialect_insert, insert_many, table_of
from archive.catalog.filters import bounded
from archive.catalog.models import CaptureRow, Crawl, Document, RevisitRow, WarcRecordRow
from archive.errors import ArchiveError
from scraper import Record, normalize_url

__all__ = [
    "AmbiguousId",
    "add_revisits",
    "capture_at",
    "capture_of",
    "captured_in_crawl",
    "captures_of_raw_records",
    "count",
    "crawl_records",
    "drop_unheld_documents",
    "forget",
    "get",
    "history",
    "iter_records",
    "known",
    "latest",
    "missing",
    "raw_files",
    "revisited",
    "revisits_of",
    "validators",
    "versions_of",
]

_MIN_PREFIX = 6


class AmbiguousId(ArchiveError, LookupError):
    """An id prefix matched more than one record."""


def missing(record_id: str) -> str:
    """Return why no record has this id, as the commands that take one say it."""
    short = 0 < len(record_id) < _MIN_PREFIX
    return f"no record with id {record_id!r}" + (f" (a prefix needs {_MIN_PREFIX} or more hex digits)" if short else "")


def get(engine: Engine, record_id: str) -> Record | None:
    """Return the record with this id (or unique id prefix of 6+ hex digits), or None.

    UsageError: the id is longer than any filter may be, or a prefix is not hexadecimal.
    """
    with Session(engine) as session:
        row = session.get(CaptureRow, bounded(record_id, "record id"))
        if row is None and len(record_id) >= _MIN_PREFIX:
            prefix = bounded(record_id, "record id", hex_only=True).lower()
            # Escaped all the same: the prefix is a literal, never a LIKE pattern.
            found = select(CaptureRow).where(CaptureRow.id.startswith(prefix, autoescape=True)).limit(2)
            rows = session.scalars(found).all()
            if len(rows) > 1:
                raise AmbiguousId(f"id prefix {record_id!r} matches more than one record")
            row = rows[0] if rows else None
        return row.to_record() if row is not None else None


def known(engine: Engine, ids: Iterable[str]) -> set[str]:
    """Return which of `ids` the catalog already holds."""
    wanted = list(ids)
    with engine.connect() as connection:  # a bare connection: asked once per capture archived, a session costs more
        return set(connection.scalars(select(CaptureRow.id).where(CaptureRow.id.in_(wanted))))


def history(engine: Engine, url: str) -> list[tuple[Record, str | None]]:
    """Return every capture of the page `url` names, oldest first, with the capture it replaced.

    `url` may be the page's canonical URL (in any spelling normalization agrees with), a URL a
    capture was fetched from (tracking parameters and all), or a saved file as replay named it
    (`seeds/html/page.html`, or its `urn:file:` URI): each leads to the canonical URLs of the
    captures it names.
    """
    with Session(engine) as session:
        named = select(CaptureRow.canonical_url).where(
            or_(
                CaptureRow.source_url == url,
                CaptureRow.source_location == url,
                CaptureRow.source_url == "urn:file:" + url,
            )
        )
        canonical = {normalize_url(url), *session.scalars(named.distinct())}
        rows = session.scalars(
            select(CaptureRow)
            .where(CaptureRow.canonical_url.in_(sorted(canonical)))
            .order_by(CaptureRow.captured_at, CaptureRow.id)
        )
        return [(row.to_record(), row.previous_id) for row in rows]


def latest(engine: Engine, url: str) -> Record | None:
    """Return the newest capture fetched from `url` (or, failing that, of its canonical form)."""
    with Session(engine) as session:
        row = (
            session.scalars(_latest(select(CaptureRow), url)).first()
            or session.scalars(_latest(select(CaptureRow), url, canonical=True)).first()
        )
        return row.to_record() if row is not None else None


def validators(engine: Engine, url: str) -> tuple[str | None, str | None] | None:
    """Return (ETag, Last-Modified) the latest live capture of `url` was served with, if any.

    Asked before every page request of a crawl, so it reads two columns, not the record.
    """
    query = select(CaptureRow.source_kind, CaptureRow.http_headers)
    with Session(engine) as session:
        row = (
            session.execute(_latest(query, url)).first() or session.execute(_latest(query, url, canonical=True)).first()
        )
    if row is None or row.source_kind != "live":
        return None
    headers = {str(k).lower(): str(v) for k, v in row.http_headers}
    found = headers.get("etag"), headers.get("last-modified")
    return found if any(found) else None


def captured_in_crawl(engine: Engine, crawl_id: str, url: str) -> Record | None:
    """Return the capture of `url` this crawl archived, if it did."""
    return _first_record(engine, CaptureRow.crawl_id == crawl_id, CaptureRow.source_url == url)


def capture_of(engine: Engine, url: str, captured_at: str) -> Record | None:
    """Return the capture fetched from `url` at exactly `captured_at` (what a revisit refers to)."""
    return _first_record(engine, CaptureRow.source_url == url, CaptureRow.captured_at == captured_at)


def capture_at(engine: Engine, file: str, offset: int) -> Record | None:
    """Return the capture whose raw record is at `offset` in WARC file `file` (a name), if the catalog holds one."""
    raw = select(WarcRecordRow.capture_id).where(
        WarcRecordRow.role == "raw", WarcRecordRow.file == file, WarcRecordRow.offset == offset
    )
    return _first_record(engine, CaptureRow.id.in_(raw.scalar_subquery()))


def crawl_records(engine: Engine, crawl_id: str) -> list[Record]:
    """Return the records a run archived, in capture order."""
    with Session(engine) as session:
        rows = session.scalars(
            select(CaptureRow).where(CaptureRow.crawl_id == crawl_id).order_by(CaptureRow.captured_at, CaptureRow.id)
        )
        return [row.to_record() for row in rows]


def raw_files(engine: Engine, crawl_id: str | None = None) -> list[str]:
    """Return the WARC files holding captures' raw records (of one run, if given), by name."""
    query = select(WarcRecordRow.file).distinct().where(WarcRecordRow.role == "raw")
    if crawl_id is not None:
        query = query.join(CaptureRow, CaptureRow.id == WarcRecordRow.capture_id).where(CaptureRow.crawl_id == crawl_id)
    with Session(engine) as session:
        return sorted(session.scalars(query))


def iter_records(engine: Engine, batch: int = 500) -> Iterator[Record]:
    """Yield every record, oldest capture first, in batches."""
    with Session(engine) as session:
        query = select(CaptureRow).order_by(CaptureRow.captured_at, CaptureRow.id).execution_options(yield_per=batch)
        for row in session.scalars(query):
            yield row.to_record()


def count(engine: Engine) -> dict[str, int]:
    """Return how many crawls, documents and captures the catalog holds."""
    with Session(engine) as session:
        return {
            name: session.scalar(select(func.count()).select_from(model)) or 0
            for name, model in (("crawls", Crawl), ("documents", Document), ("captures", CaptureRow))
        }


def forget(engine: Engine, ids: Iterable[str]) -> int:
    """Delete captures (and documents no other capture shares) whose WARC records are lost; return how many.

    Only `repair` calls this, for rows pointing at bytes that are gone: the catalog must
    never point at what is not there, and the capture can be archived again.
    """
    wanted = sorted(set(ids))
    if not wanted:
        return 0
    with Session(engine) as session, session.begin():
        documents = set(session.scalars(select(CaptureRow.document_id).where(CaptureRow.id.in_(wanted))))
        session.execute(table_of(WarcRecordRow).delete().where(WarcRecordRow.capture_id.in_(wanted)))
        session.execute(table_of(RevisitRow).delete().where(RevisitRow.capture_id.in_(wanted)))
        gone = cast(
            CursorResult[Any], session.execute(table_of(CaptureRow).delete().where(CaptureRow.id.in_(wanted)))
        ).rowcount
        drop_unheld_documents(session, documents)
    return int(gone or 0)


def add_revisits(engine: Engine, rows: Sequence[dict[str, Any]]) -> None:
    """Name revisits written, their WARC records durable (RevisitRow's columns); a visit named already is kept."""
    if rows:
        insert = dialect_insert(engine.dialect.name, RevisitRow).on_conflict_do_nothing(
            index_elements=["url", "captured_at"]
        )
        with engine.begin() as connection:
            insert_many(connection, insert, rows)


def revisited(engine: Engine, url: str, captured_at: str) -> bool:
    """Return whether the archive holds a revisit of `url` taken at `captured_at`."""
    query = select(RevisitRow.id).where(RevisitRow.url == url, RevisitRow.captured_at == captured_at)
    with engine.connect() as connection:
        return connection.scalar(query.limit(1)) is not None


def captures_of_raw_records(engine: Engine, record_ids: Collection[str]) -> dict[str, str]:
    """Return, by WARC-Record-ID, the capture whose raw record it is (of those the catalog holds)."""
    query = select(WarcRecordRow.record_id, WarcRecordRow.capture_id).where(
        WarcRecordRow.role == "raw", WarcRecordRow.record_id.in_(sorted(record_ids))
    )
    with engine.connect() as connection:
        return {record_id: capture_id for record_id, capture_id in connection.execute(query)}


def revisits_of(engine: Engine, capture_ids: Collection[str]) -> dict[str, list[tuple[str, str]]]:
    """Return (time, profile) of each revisit of these captures, oldest first, by capture id."""
    found: dict[str, list[tuple[str, str]]] = {}
    query = select(RevisitRow.capture_id, RevisitRow.captured_at, RevisitRow.profile).where(
        RevisitRow.capture_id.in_(sorted(capture_ids))
    )
    with Session(engine) as session:
        for capture_id, captured_at, profile in session.execute(query.order_by(RevisitRow.captured_at)):
            found.setdefault(capture_id, []).append((captured_at, profile))
    return found


def drop_unheld_documents(session: Session, documents: Collection[int]) -> None:
    """Delete those of `documents` no capture holds any more (their index rows go with them)."""
    if not documents:
        return
    held = set(session.scalars(select(CaptureRow.document_id).where(CaptureRow.document_id.in_(documents))))
    if set(documents) - held:
        session.execute(table_of(Document).delete().where(Document.id.in_(sorted(set(documents) - held))))


def _first_record(engine: Engine, *conditions: Any) -> Record | None:
    with Session(engine) as session:
        row = session.scalars(select(CaptureRow).where(*conditions).limit(1)).first()
        return row.to_record() if row is not None else None


def _latest(query: Select[Any], url: str, *, canonical: bool = False) -> Select[Any]:
    """Narrow `query` to the newest capture fetched from `url` (or of its canonical form)."""
    where = CaptureRow.canonical_url == normalize_url(url) if canonical else CaptureRow.source_url == url
    return query.where(where).order_by(CaptureRow.captured_at.desc()).limit(1)


def versions_of(captures: list[tuple[Record, str | None]]) -> list[tuple[int, Record]]:
    """Return each capture with its version number: a new version whenever the text differs from the one before."""
    numbered: list[tuple[int, Record]] = []
    version, last = 0, None
    for record, _previous in captures:
        if record.text_sha256 != last:
            version, last = version + 1, record.text_sha256
        numbered.append((version, record))
    return numbered
