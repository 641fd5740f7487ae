"""The SQL catalog: what was extracted, and where in the WARC files the source lives."""

from __future__ import annotations

import fcntl
import functools
import json
import os
import re
import time
import uuid
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import (
    Engine,
    Select,
    String,
    Text,
    bindparam,
    cast,
    create_engine,
    distinct,
    event,
    func,
    literal,
    literal_column,
    select,
    table,
    text,
    update,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.orm import Session

from archive.catalog._sql import chunks, dialect_insert
from archive.catalog.filters import SORTS, SearchFilters
from archive.catalog.models import (
    CaptureRow,
    Crawl,
    Document,
    SiteLine,
    SitePage,
    WarcRecordRow,
    capture_facets,
    facet,
    site_key,
)
from archive.catalog.similarity import (
    DocumentFacts,
    Story,
    capture_facts,
    count_terms,
    document_signatures,
    facts,
    find_stories,
    index_document,
    related,
)
from archive.catalog.textsearch import CONFIGS, config_case
from archive.errors import ArchiveError
from scraper import Record, __version__, normalize_url
from scraper.evidence import MIN_OTHER_URLS, url_key

__all__ = ["SORTS", "AmbiguousId", "Catalog", "SearchHit", "Similar", "Story"]

_FTS_TOKEN = re.compile(r"[\w'’-]+", re.UNICODE)
_MIN_PREFIX = 6
_RETRIES = 3
_RETRYABLE = {"40P01", "40001"}  # PostgreSQL deadlock_detected, serialization_failure
_SERVER_GONE = {"57P01", "57P02", "57P03"}  # admin_shutdown, crash_shutdown, cannot_connect_now
_RECONNECT_WAITS = (0.5, 1.0, 2.0, 4.0, 8.0)  # seconds between tries while the server is gone
T = TypeVar("T")
NO_FILTERS = SearchFilters()
_MIGRATION_LOCK = 0x5C4A7E  # pg_advisory_xact_lock key: one migration at a time per database


class AmbiguousId(ArchiveError, LookupError):
    """An id prefix matched more than one record."""


@dataclass(frozen=True, slots=True)
class Similar:
    """A document (or capture) related to a record: "same text", "near-duplicate" or "same story"."""

    relation: str
    score: float
    document: DocumentFacts


@dataclass(frozen=True, slots=True)
class SearchHit:
    """One search result: the record, its rank score (lower is better) and a snippet."""

    record: Record
    score: float | None
    snippet: str | None


def make_engine(url: str) -> Engine:
    """Return an engine for `url`; SQLite gets WAL mode and a busy timeout."""
    parsed = make_url(url)
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    dumps = _json_dumps
    if parsed.get_backend_name() != "sqlite":
        return create_engine(parsed, json_serializer=dumps, pool_pre_ping=True)
    if parsed.database and parsed.database != ":memory:":
        where = Path(parsed.database)
        if where.exists() and not os.access(where.parent, os.W_OK):
            # On read-only media SQLite cannot open a WAL catalog (it needs its -shm file):
            # opened as immutable, it can still be searched, shown and verified.
            readonly = f"sqlite:///file:{where.resolve()}?mode=ro&immutable=1&uri=true"
            return create_engine(readonly, json_serializer=dumps)
        where.parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(parsed, json_serializer=dumps, connect_args={"timeout": 30})
    event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _reconnecting(method: Callable[..., T]) -> Callable[..., T]:
    """Retry a catalog call while its PostgreSQL server is gone (restarting, failing over): about 15 s in all."""

    @functools.wraps(method)
    def retried(self: Catalog, *args: Any, **kwargs: Any) -> T:
        for wait in (*_RECONNECT_WAITS, None):
            try:
                return method(self, *args, **kwargs)
            except (OperationalError, InterfaceError) as exc:
                if wait is None or not _disconnected(exc):
                    raise
                time.sleep(wait)  # pool_pre_ping replaces the dead connections on the next try
        raise AssertionError("unreachable")

    return retried


def _disconnected(exc: DBAPIError) -> bool:
    """Return whether a database error means the server went away (not a problem with the statement)."""
    if exc.connection_invalidated:
        return True
    if not type(exc.orig).__module__.startswith("psycopg"):
        return False  # SQLite waits on its own (busy_timeout) and has no server to lose
    state = getattr(exc.orig, "sqlstate", None)
    return state is None or state.startswith("08") or state in _SERVER_GONE


def _transactional_ddl(url: str) -> Engine:
    """Return a SQLite engine whose transactions hold DDL too, so a migration cut short leaves no trace.

    pysqlite's own transaction handling runs CREATE/ALTER outside any transaction (each commits
    at once): a migration killed half-way left tables without a schema version, and the next
    start failed on "table already exists". SQLAlchemy's documented recipe: the driver does no
    transaction handling, and each begin() sends BEGIN itself (IMMEDIATE: the migration writes).
    """
    engine = make_engine(url)

    @event.listens_for(engine, "connect")
    def _no_driver_transactions(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None

    @event.listens_for(engine, "begin")
    def _begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def _json_dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # A 64 MiB page cache and memory-mapped reads (instead of SQLite's 2 MiB default): full-text
    # queries on a million documents walk long doclists; measured p95 14 -> 10 ms at 215k documents.
    pragmas = ("journal_mode=WAL", "busy_timeout=30000", "foreign_keys=ON", "synchronous=NORMAL")
    for pragma in (*pragmas, "cache_size=-65536", "mmap_size=1073741824"):
        cursor.execute(f"PRAGMA {pragma}")
    cursor.close()


class Catalog:
    """Reads and writes the catalog at one SQLAlchemy URL."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self.dialect = self.engine.dialect.name

    def close(self) -> None:
        """Release the connection pool."""
        self.engine.dispose()

    def migrate(self) -> None:
        """Bring the schema to the newest revision (creating it on an empty database)."""
        config = Config()
        config.set_main_option("script_location", str(resources.files("archive.catalog") / "migrations"))
        if self._at_head(config):  # nothing to write: a catalog on read-only media still opens
            return
        # Several processes may open a new catalog at once: one migrates, the others wait and
        # then find it at the newest revision.
        engine = _transactional_ddl(self.url) if self.dialect == "sqlite" else self.engine
        try:
            with self._migration_lock(), engine.begin() as connection:
                if self.dialect == "postgresql":
                    connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK})
                config.attributes["connection"] = connection
                command.upgrade(config, "head")
        finally:
            if engine is not self.engine:
                engine.dispose()

    def _at_head(self, config: Config) -> bool:
        """Return whether the catalog's schema is already the newest (read only, no lock taken)."""
        head = ScriptDirectory.from_config(config).get_current_head()
        try:
            with self.engine.connect() as connection:
                return bool(MigrationContext.configure(connection).get_current_revision() == head)
        except OperationalError:
            return False  # no database yet, or not readable: migrating says why

    @contextmanager
    def _migration_lock(self) -> Iterator[None]:
        """Hold an exclusive lock file beside a SQLite catalog (PostgreSQL locks in the transaction)."""
        database = self.engine.url.database
        if self.dialect != "sqlite" or not database or database == ":memory:":
            yield
            return
        with open(f"{database}.migrate-lock", "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            yield

    @_reconnecting
    def start_crawl(self, kind: str, args: dict[str, Any]) -> str:
        """Return the id of a new crawl row for a run that starts now."""
        crawl_id = str(uuid.uuid4())
        with Session(self.engine) as session, session.begin():
            session.add(
                Crawl(
                    id=crawl_id,
                    kind=kind,
                    started_at=datetime.now(UTC),
                    status="running",
                    args=args,
                    software=f"scraper-archive/{__version__}",
                    counts={},
                )
            )
        return crawl_id

    @_reconnecting
    def finish_crawl(self, crawl_id: str, status: str, counts: dict[str, Any]) -> None:
        """Record how a run ended and what it counted."""
        with Session(self.engine) as session, session.begin():
            crawl = session.get_one(Crawl, crawl_id)
            crawl.finished_at = datetime.now(UTC)
            crawl.status = status
            crawl.counts = counts

    @_reconnecting
    def ensure_crawls(self, crawl_ids: Iterable[str]) -> None:
        """Add a row for each run id the catalog lacks (captures re-indexed from WARC files name their run)."""
        wanted = sorted(set(crawl_ids))
        with Session(self.engine) as session, session.begin():
            have = set(session.scalars(select(Crawl.id).where(Crawl.id.in_(wanted))))
            for crawl_id in wanted:
                if crawl_id not in have:
                    now = datetime.now(UTC)
                    session.add(
                        Crawl(
                            id=crawl_id,
                            kind="recovered",
                            started_at=now,
                            finished_at=now,
                            status="recovered",
                            args={"command": "repair"},
                            software=f"scraper-archive/{__version__}",
                            counts={},
                        )
                    )

    def forget_captures(self, ids: Iterable[str]) -> int:
        """Delete captures (and documents no other capture shares) whose WARC records are lost; return how many.

        Only `repair` calls this, for rows pointing at bytes that are gone: the catalog must
        never point at what is not there, and the capture can be archived again.
        """
        wanted = sorted(set(ids))
        if not wanted:
            return 0
        with Session(self.engine) as session, session.begin():
            documents = set(session.scalars(select(CaptureRow.document_id).where(CaptureRow.id.in_(wanted))))
            session.execute(WarcRecordRow.__table__.delete().where(WarcRecordRow.capture_id.in_(wanted)))
            gone = session.execute(CaptureRow.__table__.delete().where(CaptureRow.id.in_(wanted))).rowcount
            _drop_unheld_documents(session, documents)
        return int(gone or 0)

    @_reconnecting
    def known_captures(self, ids: Iterable[str]) -> set[str]:
        """Return which of `ids` the catalog already holds."""
        wanted = list(ids)
        with Session(self.engine) as session:
            return set(session.scalars(select(CaptureRow.id).where(CaptureRow.id.in_(wanted))))

    @_reconnecting
    def add_records(self, records: Sequence[Record]) -> int:
        """Insert records (their WARC records already durable); return how many were new.

        Rows go in key order, table by table (documents, captures, term counts), so two
        writers sharing rows take their locks in one order; a PostgreSQL deadlock or
        serialization failure that happens anyway is retried (the inserts are idempotent).
        """
        return _retrying_deadlocks(lambda: self._add_records(records))

    def _documents_of(self, session: Session, records: Sequence[Record], terms: Counter[int]) -> dict[str, int]:
        """Return the document id of each record's text (text digest -> id), creating and indexing new ones."""
        documents: dict[str, int] = {}
        facets: dict[str, set[str]] = {}
        for record in records:
            facets.setdefault(record.text_sha256, set()).update(capture_facets(record.site, record.language))
        for record in sorted(records, key=lambda r: r.text_sha256):
            if record.text_sha256 not in documents:
                documents[record.text_sha256] = self._document_id(session, record, facets[record.text_sha256], terms)
        return documents

    def _add_records(self, records: Sequence[Record]) -> int:
        inserted = 0
        with Session(self.engine) as session, session.begin():
            terms: Counter[int] = Counter()
            documents = self._documents_of(session, records, terms)
            for record in sorted(records, key=lambda r: r.id):
                row = CaptureRow.from_record(record, documents[record.text_sha256])
                values = {c.key: getattr(row, c.key) for c in CaptureRow.__table__.columns}
                insert = self._insert_ignore(CaptureRow, values, ["id"]).returning(CaptureRow.id)
                if session.execute(insert).first() is not None:
                    inserted += 1
                    _insert_locations(session, record.id, row.warc_records)
            count_terms(session.connection(), terms)
            _relink(session, {r.canonical_url for r in records})
        return inserted

    @_reconnecting
    def replace_extractions(self, records: Sequence[Record]) -> int:
        """Give captures the catalog holds their new extraction; return how many it held.

        Each record is a capture already in the catalog with a new text and metadata, whose
        conversion and metadata WARC records are written and durable. The capture's row takes the
        new values and points at the new records (its raw and request records stay); it moves to
        the document holding its new text, and a document no capture holds any more is dropped. The
        URL's versions are linked again: a new text can start a version or end one.
        """
        return _retrying_deadlocks(lambda: self._replace_extractions(records))

    def _replace_extractions(self, records: Sequence[Record]) -> int:
        replaced = 0
        kept = {"id", "previous_id"}
        with Session(self.engine) as session, session.begin():
            terms: Counter[int] = Counter()
            documents = self._documents_of(session, records, terms)
            before: set[int] = set()
            for record in sorted(records, key=lambda r: r.id):
                old = session.scalar(select(CaptureRow.document_id).where(CaptureRow.id == record.id))
                if old is None:
                    continue
                before.add(old)
                row = CaptureRow.from_record(record, documents[record.text_sha256])
                values = {c.key: getattr(row, c.key) for c in CaptureRow.__table__.columns if c.key not in kept}
                session.execute(update(CaptureRow).where(CaptureRow.id == record.id).values(**values))
                roles = ("conversion", "metadata")
                session.execute(
                    WarcRecordRow.__table__.delete().where(
                        WarcRecordRow.capture_id == record.id, WarcRecordRow.role.in_(roles)
                    )
                )
                _insert_locations(session, record.id, [w for w in row.warc_records if w.role in roles])
                replaced += 1
            count_terms(session.connection(), terms)
            _drop_unheld_documents(session, before)
            _relink(session, {r.canonical_url for r in records})  # a new text can make or end a version
        return replaced

    def raw_files(self, crawl_id: str | None = None) -> list[str]:
        """Return the WARC files holding captures' raw records (of one run, if given), by name."""
        query = select(WarcRecordRow.file).distinct().where(WarcRecordRow.role == "raw")
        if crawl_id is not None:
            query = query.join(CaptureRow, CaptureRow.id == WarcRecordRow.capture_id).where(
                CaptureRow.crawl_id == crawl_id
            )
        with Session(self.engine) as session:
            return sorted(session.scalars(query))

    def resumable(self, crawl_id: str) -> dict[str, Any] | None:
        """Return the crawl `crawl_id` (an id or its prefix; "latest": the newest unfinished crawl)."""
        which = Crawl.status != "finished" if crawl_id == "latest" else Crawl.id.startswith(crawl_id)
        query = select(Crawl).where(Crawl.kind == "crawl", which).order_by(Crawl.started_at.desc()).limit(1)
        with Session(self.engine) as session:
            crawl = session.scalars(query).first()
            return _crawl_dict(crawl) if crawl is not None else None

    @_reconnecting
    def resume_crawl(self, crawl_id: str) -> str:
        """Reopen the crawl with this id to continue it; return the id."""
        with Session(self.engine) as session, session.begin():
            crawl = session.get_one(Crawl, crawl_id)
            crawl.status = "running"
            crawl.finished_at = None
            return crawl.id

    def find_crawl(self, crawl_id: str) -> dict[str, Any] | None:
        """Return the run with this id or id prefix ("latest": the newest run of any kind)."""
        query = select(Crawl).order_by(Crawl.started_at.desc()).limit(1)
        if crawl_id != "latest":
            query = query.where(Crawl.id.startswith(crawl_id))
        with Session(self.engine) as session:
            crawl = session.scalars(query).first()
            return _crawl_dict(crawl) if crawl is not None else None

    def crawl_records(self, crawl_id: str) -> list[Record]:
        """Return the records a run archived, in capture order."""
        with Session(self.engine) as session:
            rows = session.scalars(
                select(CaptureRow)
                .where(CaptureRow.crawl_id == crawl_id)
                .order_by(CaptureRow.captured_at, CaptureRow.id)
            )
            return [row.to_record() for row in rows]

    def capture_of(self, url: str, captured_at: str) -> Record | None:
        """Return the capture fetched from `url` at exactly `captured_at` (what a revisit refers to)."""
        return self._first_record(CaptureRow.source_url == url, CaptureRow.captured_at == captured_at)

    def _first_record(self, *conditions: Any) -> Record | None:
        with Session(self.engine) as session:
            row = session.scalars(select(CaptureRow).where(*conditions).limit(1)).first()
            return row.to_record() if row is not None else None

    def crawls(self, limit: int = 50) -> list[dict[str, Any]]:
        """Return the newest runs first: id, kind, times, status, counts, arguments."""
        with Session(self.engine) as session:
            rows = session.scalars(select(Crawl).order_by(Crawl.started_at.desc()).limit(limit))
            return [_crawl_dict(c) for c in rows]

    @_reconnecting
    def latest_capture(self, url: str) -> Record | None:
        """Return the newest capture fetched from `url` (or, failing that, of its canonical form)."""
        with Session(self.engine) as session:
            row = (
                session.scalars(_latest(select(CaptureRow), url)).first()
                or session.scalars(_latest(select(CaptureRow), url, canonical=True)).first()
            )
            return row.to_record() if row is not None else None

    @_reconnecting
    def validators(self, url: str) -> tuple[str | None, str | None] | None:
        """Return (ETag, Last-Modified) the latest live capture of `url` was served with, if any.

        Asked before every page request of a crawl, so it reads two columns, not the record.
        """
        query = select(CaptureRow.source_kind, CaptureRow.http_headers)
        with Session(self.engine) as session:
            row = (
                session.execute(_latest(query, url)).first()
                or session.execute(_latest(query, url, canonical=True)).first()
            )
        if row is None or row.source_kind != "live":
            return None
        headers = {str(k).lower(): str(v) for k, v in row.http_headers}
        found = headers.get("etag"), headers.get("last-modified")
        return found if any(found) else None

    @_reconnecting
    def captured_in_crawl(self, crawl_id: str, url: str) -> Record | None:
        """Return the capture of `url` this crawl archived, if it did."""
        return self._first_record(CaptureRow.crawl_id == crawl_id, CaptureRow.source_url == url)

    def history(self, url: str) -> list[tuple[Record, str | None]]:
        """Return every capture of the URL's canonical form, oldest first, with the capture it replaced."""
        with Session(self.engine) as session:
            rows = session.scalars(
                select(CaptureRow)
                .where(CaptureRow.canonical_url == normalize_url(url))
                .order_by(CaptureRow.captured_at, CaptureRow.id)
            )
            return [(row.to_record(), row.previous_id) for row in rows]

    def _document_id(self, session: Session, record: Record, facets: set[str], terms: Counter[int]) -> int:
        """Return the id of the document holding `record`'s text, with `facets` among its facets.

        A new document is indexed, its terms added to `terms`.
        """
        values = Document.values_from(record) | {"facets": " ".join(sorted(facets))}
        created = session.execute(self._insert_ignore(Document, values, ["text_sha256"]).returning(Document.id)).first()
        if created is None:
            known = session.execute(
                select(Document.id, Document.facets).where(Document.text_sha256 == record.text_sha256)
            ).one()
            # The same text at another site or in another language: its filters must find it there too.
            for token in sorted(facets - set(known.facets.split())):
                spaced = literal(" ") + Document.facets + literal(" ")
                session.execute(
                    update(Document)
                    .where(Document.id == known.id, spaced.not_like(f"% {token} %"))
                    .values(facets=Document.facets + literal(" " + token))
                )
            return int(known.id)
        connection = session.connection()
        found = document_signatures(connection, record.text, record.title)
        index_document(connection, created.id, found)
        terms.update(found.terms)
        return int(created.id)

    def _insert(self, model: Any) -> Any:
        return dialect_insert(self.dialect, model)

    def _insert_ignore(self, model: Any, values: dict[str, Any], keys: list[str]) -> Any:
        return self._insert(model).values(**values).on_conflict_do_nothing(index_elements=keys)

    @_reconnecting
    def count_site_lines(self, site: str, url: str, keys: Collection[str]) -> bool:
        """Count the line keys of one page of `site` as cross-capture evidence; False if `url` was counted before.

        The page row and the counts commit together, so a URL is counted once even when
        several writers capture it at the same moment.
        """
        with Session(self.engine) as session, session.begin():
            page = self._insert_ignore(SitePage, {"site": site, "url_key": url_key(url)}, ["site", "url_key"])
            if session.execute(page.returning(SitePage.site)).first() is None:
                return False
            upsert = self._insert(SiteLine).on_conflict_do_update(
                index_elements=["site", "line_key"], set_={"urls": SiteLine.__table__.c.urls + 1}
            )
            rows = [{"site": site, "line_key": k, "urls": 1} for k in sorted(set(keys))]  # sorted: one lock order
            if rows:
                session.connection().execute(upsert, rows)
        return True

    @_reconnecting
    def recurring(self, site: str, url: str, keys: Collection[str]) -> set[str]:
        """Return the keys among `keys` seen on at least MIN_OTHER_URLS pages of `site` other than `url`."""
        with Session(self.engine) as session:
            counted = session.get(SitePage, (site, url_key(url))) is not None
            needed = MIN_OTHER_URLS + counted
            found: set[str] = set()
            for chunk in chunks(sorted(set(keys))):
                query = select(SiteLine.line_key).where(
                    SiteLine.site == site, SiteLine.line_key.in_(chunk), SiteLine.urls >= needed
                )
                found.update(session.scalars(query))
            return found

    @_reconnecting
    def get(self, record_id: str) -> Record | None:
        """Return the record with this id (or unique id prefix of 6+ characters), or None."""
        with Session(self.engine) as session:
            row = session.get(CaptureRow, record_id)
            if row is None and len(record_id) >= _MIN_PREFIX:
                rows = session.scalars(select(CaptureRow).where(CaptureRow.id.startswith(record_id)).limit(2)).all()
                if len(rows) > 1:
                    raise AmbiguousId(f"id prefix {record_id!r} matches more than one record")
                row = rows[0] if rows else None
            return row.to_record() if row is not None else None

    def count(self) -> dict[str, int]:
        """Return how many crawls, documents and captures the catalog holds."""
        with Session(self.engine) as session:
            return {
                name: session.scalar(select(func.count()).select_from(model)) or 0
                for name, model in (("crawls", Crawl), ("documents", Document), ("captures", CaptureRow))
            }

    def iter_records(self, batch: int = 500) -> Iterator[Record]:
        """Yield every record, oldest capture first, in batches."""
        with Session(self.engine) as session:
            query = (
                select(CaptureRow).order_by(CaptureRow.captured_at, CaptureRow.id).execution_options(yield_per=batch)
            )
            for row in session.scalars(query):
                yield row.to_record()

    def search(
        self,
        query: str | None = None,
        filters: SearchFilters = NO_FILTERS,
        *,
        versions: bool = False,
        sort: str = "relevance",
        limit: int = 20,
        offset: int = 0,
    ) -> list[SearchHit]:
        """Return records matching the full-text `query` and `filters`, in `sort` order, one page of them.

        `sort`: "relevance" (best match first; newest capture first without a query),
        "newest" or "oldest" capture, or "published" (newest publication date first).
        `versions`: only URLs whose text changed at least once.
        """
        if sort not in SORTS:
            raise ValueError(f"sort must be one of {', '.join(SORTS)}, not {sort!r}")
        stmt: Select[Any]
        # PostgreSQL: the query's lexemes are worked out first and sent as a constant, so the
        # planner can estimate how many documents match and start from a selective filter.
        tsquery = self._pg_tsquery(query) if self.dialect == "postgresql" and query and query.strip() else None
        # Site and language are also tokens of each document (its captures' values): the text index
        # intersects them with the words; the exact conditions below still apply to each capture.
        facets = [facet("site", site_key(_bare_site(filters.site)) or "")] if filters.site else []
        facets += [facet("language", filters.language.lower())] if filters.language else []
        match = self._fts(query, tsquery, facets) if query and query.strip() else None
        if match is None:
            stmt = select(CaptureRow, literal_column("NULL"))
        else:
            stmt = select(CaptureRow, match.c.score).join(match, match.c.doc_id == CaptureRow.document_id)
        order = {
            "newest": (CaptureRow.captured_at.desc(),),
            "oldest": (CaptureRow.captured_at.asc(),),
            "published": (CaptureRow.published.is_(None), CaptureRow.published.desc(), CaptureRow.captured_at.desc()),
            "relevance": (match.c.score,) if match is not None else (CaptureRow.captured_at.desc(),),
        }[sort]
        stmt = stmt.order_by(*order, CaptureRow.id)
        stmt = _filtered(stmt, filters)
        if versions:
            changed = (
                select(CaptureRow.canonical_url)
                .group_by(CaptureRow.canonical_url)
                .having(func.count(func.distinct(CaptureRow.text_sha256)) > 1)
            )
            stmt = stmt.where(CaptureRow.canonical_url.in_(changed))
        with Session(self.engine) as session:
            found = [(row, score) for row, score in session.execute(stmt.limit(limit).offset(max(0, offset)))]
            # Snippets for this page only: made per matching document, they cost more than the ranking.
            snippets = (
                self._snippets(session, query or "", tsquery, {row.document_id for row, _ in found})
                if match is not None
                else {}
            )
            return [
                SearchHit(row.to_record(), float(score) if score is not None else None, snippets.get(row.document_id))
                for row, score in found
            ]

    def similar(self, record_id: str) -> list[Similar] | None:
        """Return what shares the text or story of a record: same text, near-duplicates, same story.

        None when no record has this id (or unique prefix).
        """
        record = self.get(record_id)
        if record is None:
            return None
        with self.engine.connect() as connection:
            document_id = connection.execute(
                select(CaptureRow.document_id).where(CaptureRow.id == record.id)
            ).scalar_one()
            same_text = connection.execute(
                select(CaptureRow.id).where(CaptureRow.document_id == document_id, CaptureRow.id != record.id)
            ).scalars()
            found = [Similar("same text", 1.0, f) for f in capture_facts(connection, list(same_text))]
            neighbours = related(connection, document_id)
            known = facts(connection, [n.document_id for n in neighbours])
            found += [Similar(n.relation, n.score, known[n.document_id]) for n in neighbours if n.document_id in known]
        return found

    def stories(
        self, filters: SearchFilters = NO_FILTERS, *, min_size: int = 2, limit: int | None = None
    ) -> list[Story]:
        """Return groups of documents that tell one story, largest first; `filters` narrow them as `search`'s do."""
        scope = _filtered(select(CaptureRow.document_id), filters).distinct()
        with self.engine.connect() as connection:
            groups = find_stories(connection, scope, min_size=min_size)[:limit]
            known = facts(connection, [doc for group in groups for doc in group])
        stories = [Story(tuple(sorted((known[d] for d in g if d in known), key=lambda f: f.day))) for g in groups]
        return sorted(stories, key=lambda s: (-len(s.documents), s.first))

    def _pg_tsquery(self, query: str) -> str:
        """Return the text of the query's tsquery: each configuration's distinct lexemes, ORed."""
        with self.engine.connect() as connection:
            return str(connection.execute(select(_tsquery(query))).scalar_one())

    def _fts(self, query: str, tsquery: str | None, facets: Sequence[str]) -> Any:
        if self.dialect == "sqlite":
            fts_query = _fts5_query(query, facets)
            if not fts_query:
                return None
            fts = table("documents_fts")
            return (
                select(
                    literal_column("documents_fts.rowid").label("doc_id"),
                    literal_column("bm25(documents_fts, 10.0, 1.0, 0.0)").label("score"),
                )
                .select_from(fts)
                .where(text("documents_fts MATCH :fts_query").bindparams(fts_query=fts_query))
                .subquery()
            )
        constant, search = cast(literal(tsquery or ""), postgresql.TSQUERY), literal_column("documents.search")
        matching = select(Document.id.label("doc_id"), (-func.ts_rank_cd(search, constant)).label("score"))
        if facets:
            tokens = cast(postgresql.array(list(facets)), postgresql.ARRAY(Text))
            matching = matching.where(func.string_to_array(Document.facets, " ").op("@>")(tokens))
        return matching.where(search.op("@@")(constant)).subquery()

    def _snippets(
        self, session: Session, query: str, tsquery: str | None, document_ids: Collection[int]
    ) -> dict[int, str]:
        """Return a highlighted passage per document where the query matches."""
        if not document_ids:
            return {}
        ids = sorted(document_ids)
        if self.dialect == "sqlite":
            fts_query = _fts5_query(query)
            found = session.execute(
                text(
                    "SELECT rowid, snippet(documents_fts, 1, '«', '»', '…', 24) FROM documents_fts"
                    " WHERE documents_fts MATCH :q AND rowid IN (" + ",".join(map(str, ids)) + ")"
                ).bindparams(q=fts_query)
            )
        else:
            headline = func.ts_headline(
                literal_column(config_case("documents.language")),
                Document.text,
                cast(literal(tsquery or ""), postgresql.TSQUERY),
                "StartSel=«, StopSel=», MaxWords=35, MinWords=15",
            )
            found = session.execute(select(Document.id, headline).where(Document.id.in_(ids)))
        return {int(doc): str(snippet) for doc, snippet in found}


def _fts5_query(query: str, facets: Sequence[str] = ()) -> str:
    """Return the FTS5 query for the user's words in title or text (each quoted, all required) and `facets`."""
    words = " ".join('"' + t.replace('"', '""') + '"' for t in _FTS_TOKEN.findall(query))
    if not words:
        return ""
    return f"{{title text}} : ({words})" + "".join(f' AND facets : "{token}"' for token in facets)


def _tsquery(query: str) -> Any:
    """Return the tsquery of the words in every configuration documents may be indexed in, ORed.

    Each document matches in its own language's stemming, and the GIN index still serves it.
    """
    configs = ["simple", *sorted(set(CONFIGS.values()))]
    parts = [func.plainto_tsquery(literal_column(f"'{c}'::regconfig"), query) for c in configs]
    # Most configurations give the same lexemes: OR each distinct form once, or the GIN index
    # reads the same posting lists up to 16 times.
    variant = func.unnest(postgresql.array(parts)).table_valued("q").render_derived()
    as_text = cast(variant.c.q, String)
    joined = func.string_agg(distinct(literal("(") + as_text + literal(")")), literal(" | "))
    return select(cast(func.coalesce(joined, literal("")), postgresql.TSQUERY)).where(as_text != "").scalar_subquery()


def _latest(query: Select[Any], url: str, *, canonical: bool = False) -> Select[Any]:
    """Narrow `query` to the newest capture fetched from `url` (or of its canonical form)."""
    where = CaptureRow.canonical_url == normalize_url(url) if canonical else CaptureRow.source_url == url
    return query.where(where).order_by(CaptureRow.captured_at.desc()).limit(1)


def _retrying_deadlocks(write: Callable[[], T]) -> T:
    """Return what an idempotent write gives back, retried on a PostgreSQL deadlock or serialization failure."""
    for attempt in range(_RETRIES):
        try:
            return write()
        except OperationalError as exc:
            if attempt == _RETRIES - 1 or getattr(exc.orig, "sqlstate", None) not in _RETRYABLE:
                raise
    raise AssertionError("unreachable")


def _insert_locations(session: Session, capture_id: str, rows: Iterable[WarcRecordRow]) -> None:
    """Insert a capture's WARC record locations."""
    for warc in rows:
        values = {c.key: getattr(warc, c.key) for c in WarcRecordRow.__table__.columns if c.key != "id"}
        session.execute(WarcRecordRow.__table__.insert().values({**values, "capture_id": capture_id}))


def _relink(session: Session, urls: Collection[str]) -> None:
    """Point each capture of these canonical URLs at the capture it replaced, if any.

    A capture replaces the URL's capture just before it (by capture time, then id: the order of
    `history`) when their texts differ; the same text again is no new version. Every capture of
    the URL is looked at, so a capture archived late (an old WARC file replayed after newer
    crawls) or given a new text (`reextract`) links its neighbours right too. The rows are read
    FOR UPDATE: on PostgreSQL a concurrent writer of the same URL waits, then is read as committed.
    """
    captures = CaptureRow.__table__
    for chunk in chunks(sorted(urls)):
        rows = session.execute(
            select(captures.c.id, captures.c.canonical_url, captures.c.text_sha256, captures.c.previous_id)
            .where(captures.c.canonical_url.in_(chunk))
            .order_by(captures.c.canonical_url, captures.c.captured_at, captures.c.id)
            .with_for_update()
        ).all()
        changed = []
        for before, row in zip([None, *rows], rows, strict=False):
            same_url = before is not None and before.canonical_url == row.canonical_url
            replaced = before.id if same_url and before.text_sha256 != row.text_sha256 else None
            if row.previous_id != replaced:
                changed.append({"capture": row.id, "replaced": replaced})
        if changed:
            session.execute(
                update(captures).where(captures.c.id == bindparam("capture")).values(previous_id=bindparam("replaced")),
                changed,
            )


def _drop_unheld_documents(session: Session, documents: Collection[int]) -> None:
    """Delete those of `documents` no capture holds any more (their index rows go with them)."""
    if not documents:
        return
    held = set(session.scalars(select(CaptureRow.document_id).where(CaptureRow.document_id.in_(documents))))
    if set(documents) - held:
        session.execute(Document.__table__.delete().where(Document.id.in_(sorted(set(documents) - held))))


def _crawl_dict(crawl: Crawl) -> dict[str, Any]:
    return {
        "id": crawl.id,
        "kind": crawl.kind,
        "started_at": crawl.started_at.isoformat(),
        "finished_at": crawl.finished_at.isoformat() if crawl.finished_at else None,
        "status": crawl.status,
        "counts": crawl.counts,
        "args": crawl.args,
    }


def _bare_site(site: str) -> str:
    """Return a --site value as captures' sites are stored: lower case, without "www."."""
    return site.lower().removeprefix("www.")


def _filtered(stmt: Select[Any], filters: SearchFilters) -> Select[Any]:
    """Return `stmt` narrowed to the captures that meet `filters`."""
    if filters.site:
        key = site_key(_bare_site(filters.site)) or ""
        # The site and its subdomains: every key that starts with it ("/" sorts right after ".").
        stmt = stmt.where(CaptureRow.site_key >= key, CaptureRow.site_key < key[:-1] + "/")
    if filters.author:
        stmt = stmt.where(func.lower(cast(CaptureRow.authors, String)).contains(filters.author.lower()))
    if filters.language:
        stmt = stmt.where(CaptureRow.language == filters.language.lower())
    day = func.coalesce(CaptureRow.published, func.substr(CaptureRow.captured_at, 1, 10))
    if filters.since:
        stmt = stmt.where(day >= filters.since)
    if filters.until:
        stmt = stmt.where(day <= filters.until)
    captured_day = func.substr(CaptureRow.captured_at, 1, 10)
    if filters.captured_since:
        stmt = stmt.where(captured_day >= filters.captured_since)
    if filters.captured_until:
        stmt = stmt.where(captured_day <= filters.captured_until)
    if filters.crawl:
        stmt = stmt.where(CaptureRow.crawl_id.startswith(filters.crawl))
    return stmt
