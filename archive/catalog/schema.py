"""Bringing a catalog to the newest schema: alembic's migrations, run by one process at a time."""

from __future__ import annotations

import errno
import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine, text
from sqlalchemy.exc import OperationalError, ProgrammingError

from archive.catalog.engine import transactional_ddl
from archive.errors import UsageError

if TYPE_CHECKING:
    from alembic.config import Config

__all__ = ["SCHEMA_REVISION", "migrate", "schema_revision"]

# The newest migration's revision. A catalog already there is opened without loading alembic
# or the migration scripts (most of a query's start-up); a test keeps this equal to the head.
SCHEMA_REVISION = "0012"
_MIGRATION_LOCK = 0x5C4A7E  # pg_advisory_xact_lock key: one migration at a time per database


def migrate(engine: Engine, url: str) -> None:
    """Bring the schema to the newest revision (creating it on an empty database).

    UsageError: a SQLite catalog at an older revision whose folder cannot be written (read-only
    media, another user's archive) cannot be brought up to date here.
    """
    found = schema_revision(engine)
    if found == SCHEMA_REVISION:  # nothing to write: a catalog on read-only media still opens
        return
    from alembic import command

    config = _alembic_config()
    dialect = engine.dialect.name
    # Several processes may open a new catalog at once: one migrates, the others wait and
    # then find it at the newest revision.
    migrating = transactional_ddl(url) if dialect == "sqlite" else engine
    try:
        with _migration_lock(engine), migrating.begin() as connection:
            if dialect == "postgresql":
                connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK})
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
    finally:
        if migrating is not engine:
            migrating.dispose()


def schema_revision(engine: Engine) -> str | None:
    """Return the catalog's schema revision (None: no catalog yet, or not readable; migrating says why)."""
    try:
        with engine.connect() as connection:
            found = connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
    except (OperationalError, ProgrammingError):  # no database or no version table yet (PostgreSQL: the latter)
        return None
    return str(found) if found is not None else None


def head_revision() -> str:
    """Return the newest revision the migration scripts define (loads alembic and every script)."""
    from alembic.script import ScriptDirectory

    return str(ScriptDirectory.from_config(_alembic_config()).get_current_head())


def _alembic_config() -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(resources.files("archive.catalog") / "migrations"))
    return config


@contextmanager
def _migration_lock(engine: Engine) -> Iterator[None]:
    """Hold an exclusive lock file beside a SQLite catalog (PostgreSQL locks in the transaction)."""
    database = engine.url.database
    if engine.dialect.name != "sqlite" or not database or database == ":memory:":
        yield
        return
    path = database.removeprefix("file:").partition("?")[0]  # a file: URI names the file after its scheme
    read_only = engine.url.query.get("mode") == "ro" or engine.url.query.get("immutable") == "1"  # make_engine's
    try:
        if read_only:
            raise PermissionError(errno.EROFS, "its folder cannot be written", str(Path(path).parent))
        handle = open(f"{path}.migrate-lock", "a")  # noqa: SIM115 (closed by the with below)
    except OSError as exc:
        found = schema_revision(engine)
        older = f"at schema revision {found}, older than this version's {SCHEMA_REVISION}," if found else "new and"
        raise UsageError(
            f"catalog {path} is {older} cannot be brought up to date here ({exc.strerror}: {exc.filename}):"
            " run a catalog command once where its folder can be written, or work on a copy"
        ) from None
    with handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield
