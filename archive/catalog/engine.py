"""Connecting to a catalog: engines for SQLite and PostgreSQL, and retries while a server is gone or deadlocked."""

from __future__ import annotations

import functools
import json
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Concatenate, ParamSpec, TypeVar

from sqlalchemy import Engine, create_engine, event, func, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.orm import Session

from archive.catalog._sql import dialect_insert
from archive.errors import ArchiveError, UsageError

__all__ = [
    "QUERY_TIMEOUT_ENV",
    "QueryTimeout",
    "insert_ignore",
    "make_engine",
    "query_timeout",
    "reconnecting",
    "retrying_deadlocks",
    "statement_timeout",
    "transactional_ddl",
]

QUERY_TIMEOUT_ENV = "SCRAPER_QUERY_TIMEOUT"
_QUERY_TIMEOUT = 30.0  # seconds a search statement may run before the server cancels it
_CANCELED = "57014"  # PostgreSQL query_canceled (statement_timeout)

_RETRIES = 3
_RETRYABLE = {"40P01", "40001"}  # PostgreSQL deadlock_detected, serialization_failure
_SERVER_GONE = {"57P01", "57P02", "57P03"}  # admin_shutdown, crash_shutdown, cannot_connect_now
_RECONNECT_WAITS = (0.5, 1.0, 2.0, 4.0, 8.0)  # seconds between tries while the server is gone
T = TypeVar("T")
S = TypeVar("S")
P = ParamSpec("P")


def make_engine(url: str, *, writing: bool = False) -> Engine:
    """Return an engine for `url`; SQLite gets WAL mode and a busy timeout.

    `writing`: for a run that archives. On SQLite it gets a small page cache and no mapped
    reads (_WRITER_PRAGMAS): the search cache would fill with the pages the run writes, a few kB
    a capture up to 64 MiB, and the run's memory would grow with it.
    """
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
            engine = create_engine(readonly, json_serializer=dumps)
            event.listen(engine, "connect", _sqlite_functions)
            return engine
        where.parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(parsed, json_serializer=dumps, connect_args={"timeout": 30})
    cache = _WRITER_PRAGMAS if writing else _SEARCH_PRAGMAS
    event.listen(engine, "connect", functools.partial(_sqlite_pragmas, cache=cache))
    event.listen(engine, "connect", _sqlite_functions)
    return engine


def transactional_ddl(url: str) -> Engine:
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


def reconnecting(method: Callable[Concatenate[S, P], T]) -> Callable[Concatenate[S, P], T]:
    """Retry a catalog call while its PostgreSQL server is gone (restarting, failing over): about 15 s in all."""

    @functools.wraps(method)
    def retried(self: S, *args: P.args, **kwargs: P.kwargs) -> T:
        for wait in (*_RECONNECT_WAITS, None):
            try:
                return method(self, *args, **kwargs)
            except (OperationalError, InterfaceError) as exc:
                if wait is None or not _disconnected(exc):
                    raise
                time.sleep(wait)  # pool_pre_ping replaces the dead connections on the next try
        raise AssertionError("unreachable")

    return retried  # type: ignore[return-value]  # functools.wraps keeps the signature mypy cannot see


def retrying_deadlocks(write: Callable[[], T]) -> T:
    """Return what an idempotent write gives back, retried on a PostgreSQL deadlock or serialization failure."""
    for attempt in range(_RETRIES):
        try:
            return write()
        except OperationalError as exc:
            if attempt == _RETRIES - 1 or getattr(exc.orig, "sqlstate", None) not in _RETRYABLE:
                raise
    raise AssertionError("unreachable")


def insert_ignore(dialect: str, model: Any, values: dict[str, Any], keys: list[str]) -> Any:
    """Return an INSERT of `values` into `model`'s table that does nothing when `keys` already exist."""
    return dialect_insert(dialect, model).values(**values).on_conflict_do_nothing(index_elements=keys)


class QueryTimeout(ArchiveError):
    """A search ran longer than its statement timeout and the server cancelled it."""


def query_timeout() -> float:
    """Return the seconds a search may run: $SCRAPER_QUERY_TIMEOUT, else 30; 0 means no limit."""
    given = os.environ.get(QUERY_TIMEOUT_ENV, "").strip()
    try:
        seconds = float(given) if given else _QUERY_TIMEOUT
    except ValueError:
        seconds = -1.0
    if not 0 <= seconds < 86_400:
        raise UsageError(f"{QUERY_TIMEOUT_ENV}={given!r} is not a number of seconds (0 for no limit)")
    return seconds


@contextmanager
def statement_timeout(session: Session, seconds: float | None = None) -> Iterator[Session]:
    """Yield `session` with its statements cancelled once they run over `seconds` ($SCRAPER_QUERY_TIMEOUT).

    PostgreSQL: each statement of the transaction, by the server (SET LOCAL), so it stops even
    when its client is gone (14+ also checks every second that the client is still there).
    SQLite: all the session's statements together, interrupted from SQLite's progress handler.
    QueryTimeout: a statement was cancelled.
    """
    limit = query_timeout() if seconds is None else seconds
    dialect = session.get_bind().dialect
    sqlite = None
    if dialect.name == "postgresql" and limit > 0:
        milliseconds = str(max(1, round(limit * 1000)))
        session.execute(select(func.set_config("statement_timeout", milliseconds, True)))
        if (dialect.server_version_info or (0,)) >= (14,):
            # And a client killed mid-query is noticed within a second, not at the timeout.
            session.execute(select(func.set_config("client_connection_check_interval", "1000", True)))
    elif dialect.name == "sqlite" and limit > 0:
        sqlite = session.connection().connection.dbapi_connection
        deadline = time.monotonic() + limit
        sqlite.set_progress_handler(lambda: time.monotonic() > deadline, 10_000)  # type: ignore[union-attr]
    try:
        yield session
    except OperationalError as exc:
        if getattr(exc.orig, "sqlstate", None) != _CANCELED and str(exc.orig) != "interrupted":
            raise
        raise QueryTimeout(
            f"the query ran over {limit:g} s and was cancelled: narrow it (more words, --site, --since) "
            f"or raise {QUERY_TIMEOUT_ENV}"
        ) from None
    finally:
        if sqlite is not None:
            sqlite.set_progress_handler(None, 0)  # the connection goes back to the pool unbounded


def _disconnected(exc: DBAPIError) -> bool:
    """Return whether a database error means the server went away (not a problem with the statement)."""
    if exc.connection_invalidated:
        return True
    if not type(exc.orig).__module__.startswith("psycopg"):
        return False  # SQLite waits on its own (busy_timeout) and has no server to lose
    state = getattr(exc.orig, "sqlstate", None)
    return state is None or state.startswith("08") or state in _SERVER_GONE


def _json_dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


# A 64 MiB page cache and memory-mapped reads (instead of SQLite's 2 MiB default): full-text
# queries on a million documents walk long doclists; measured p95 14 -> 10 ms at 215k documents.
_SEARCH_PRAGMAS = ("cache_size=-65536", "mmap_size=1073741824")
# A run that archives reads a row or two a capture and writes the rest: 8 MiB, the file read
# through the OS's cache. Peak memory of text replays of 2,500 and 20,000 captures (the memory
# benchmark): 320 -> 387 MB with the search settings, 318 -> 327 MB with these; add_records
# into 100,000 documents as fast either way (762-841 against 788-789 records/s).
# A commit of 50 captures into a large catalog dirties about 1,300 pages (random keys in the
# capture indexes, LSH bands and term counts); with SQLite's default checkpoint (1,000 WAL pages)
# every commit also copied them into the database file and synced it twice. At 10,000 pages
# (40 MB of WAL) a checkpoint comes every seven commits or so, and a page written by several
# of them is copied once. A killed process loses no commit either way; a power cut can take
# back the commits since the last checkpoint, whose WARC records (synced before each commit)
# `scraper repair` catalogs again.
_WRITER_PRAGMAS = ("cache_size=-8192", "mmap_size=0", "wal_autocheckpoint=10000")


def _sqlite_pragmas(dbapi_connection: Any, _record: Any, *, cache: tuple[str, ...]) -> None:
    cursor = dbapi_connection.cursor()
    pragmas = ("journal_mode=WAL", "busy_timeout=30000", "foreign_keys=ON", "synchronous=NORMAL")
    for pragma in (*pragmas, *cache):
        cursor.execute(f"PRAGMA {pragma}")
    cursor.close()


def _sqlite_functions(dbapi_connection: Any, _record: Any) -> None:
    # SQLite's lower() folds ASCII only: author filters compare Unicode case-folded text.
    dbapi_connection.create_function("scraper_casefold", 1, _casefold, deterministic=True)


def _casefold(value: object) -> object:
    return value.casefold() if isinstance(value, str) else value
