"""Filter values as search tokens: documents.facets, in the full-text index.

A search with --site or --language found every document holding the words, then checked
each one's captures: at 1M documents a common word meant 270k index entries walked for a
page of 20. Now each document carries its captures' site prefixes and languages as tokens
(capture_facets, frozen below), and one full-text lookup intersects words and filters:
an FTS5 column on SQLite, a GIN index over the token array on PostgreSQL.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_BATCH = 5_000

_SQLITE_DROP = (
    "DROP TRIGGER IF EXISTS documents_fts_insert",
    "DROP TRIGGER IF EXISTS documents_fts_delete",
    "DROP TRIGGER IF EXISTS documents_fts_update",
    "DROP TABLE IF EXISTS documents_fts",
)


# Frozen copies of archive/_models.py's site_key, facet, site_facets and capture_facets as of
# 1dc5619, the commit that added this migration: the tokens written here are the ones searches
# of that revision look up.
def _site_key(site: str | None) -> str | None:
    """Return the index key of a site: its labels reversed, each followed by a dot."""
    return "".join(f"{label}." for label in reversed(site.lower().split("."))) if site else None


def _facet(kind: str, value: str) -> str:
    """Return the search token of one filter value: letters and digits only, so every tokenizer keeps it whole."""
    return "zf" + hashlib.blake2b(f"{kind}\0{value}".encode(), digest_size=8).hexdigest()


def _site_facets(key: str | None) -> list[str]:
    """Return the tokens of a site key: one per label prefix ("org.", "org.example.", ...), as --site matches."""
    labels = key.split(".")[:-1] if key else []
    return [_facet("site", "".join(f"{label}." for label in labels[: i + 1])) for i in range(len(labels))]


def _capture_facets(site: str | None, language: str | None) -> set[str]:
    """Return the facet tokens of a capture from its site and language."""
    found = set(_site_facets(_site_key(site)))
    if language:
        found.add(_facet("language", language.lower()))
    return found


def _sqlite_fts(columns: list[str]) -> list[str]:
    """Return the statements creating the FTS5 index of `columns` of documents and its triggers."""
    names = ", ".join(columns)
    new = ", ".join(f"new.{c}" for c in columns)
    old = ", ".join(f"old.{c}" for c in columns)
    delete = f"INSERT INTO documents_fts(documents_fts, rowid, {names}) VALUES ('delete', old.id, {old});"
    insert = f"INSERT INTO documents_fts(rowid, {names}) VALUES (new.id, {new});"
    return [
        f"CREATE VIRTUAL TABLE documents_fts USING fts5({names}, content='documents', content_rowid='id',"
        " tokenize='unicode61 remove_diacritics 2')",
        f"CREATE TRIGGER documents_fts_insert AFTER INSERT ON documents BEGIN {insert} END",
        f"CREATE TRIGGER documents_fts_delete AFTER DELETE ON documents BEGIN {delete} END",
        f"CREATE TRIGGER documents_fts_update AFTER UPDATE ON documents BEGIN {delete} {insert} END",
        "INSERT INTO documents_fts(documents_fts) VALUES ('rebuild')",
    ]


def _document_facets(bind: sa.Connection) -> Iterator[list[dict[str, object]]]:
    """Yield batches of {id, facets} from the captures of each document, in document order."""
    captures = sa.table("captures", sa.column("document_id"), sa.column("site"), sa.column("language"))
    query = sa.select(captures.c.document_id, captures.c.site, captures.c.language).order_by(captures.c.document_id)
    rows = bind.execute(query.execution_options(yield_per=_BATCH))  # streamed: not the connection's option
    batch: list[dict[str, object]] = []
    current: int | None = None
    tokens: set[str] = set()
    for document_id, site, language in rows:
        if document_id != current and current is not None:
            batch.append({"doc": current, "facets": " ".join(sorted(tokens))})
            tokens = set()
            if len(batch) >= _BATCH:
                yield batch
                batch = []
        current = document_id
        tokens |= _capture_facets(site, language)
    if current is not None:
        batch.append({"doc": current, "facets": " ".join(sorted(tokens))})
    if batch:
        yield batch


def upgrade() -> None:
    bind = op.get_bind()
    sqlite = bind.dialect.name == "sqlite"
    if sqlite:
        for statement in _SQLITE_DROP:  # rebuilt once below, not row by row by the update trigger
            op.execute(statement)
    op.add_column("documents", sa.Column("facets", sa.Text, nullable=False, server_default=""))
    documents = sa.table("documents", sa.column("id"), sa.column("facets"))
    update = documents.update().where(documents.c.id == sa.bindparam("doc")).values(facets=sa.bindparam("facets"))
    for batch in _document_facets(bind):
        bind.execute(update, batch)
    if sqlite:
        for statement in _sqlite_fts(["title", "text", "facets"]):
            op.execute(statement)
    else:
        op.execute("CREATE INDEX ix_documents_facets ON documents USING GIN (string_to_array(facets, ' '))")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for statement in _SQLITE_DROP:
            op.execute(statement)
        with op.batch_alter_table("documents") as batch:
            batch.drop_column("facets")
        for statement in _sqlite_fts(["title", "text"]):
            op.execute(statement)
    else:
        op.execute("DROP INDEX IF EXISTS ix_documents_facets")
        op.drop_column("documents", "facets")
