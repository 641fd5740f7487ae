"""Near-duplicates and stories: MinHash signatures, LSH band keys and term document counts per document.

Existing documents are indexed here, so an upgraded catalog groups its old captures too; the
code that indexes them is a frozen copy (below and in archive.catalog.migrations._similarity_0005).

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql, sqlite

if TYPE_CHECKING:
    from archive.catalog.migrations._similarity_0005 import Signatures

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_T = TypeVar("_T")

# What the data step below reads and writes, as this revision has it (not the live models).
_documents = sa.table("documents", sa.column("id", sa.Integer), sa.column("title", sa.Text), sa.column("text", sa.Text))
_document_signatures = sa.table(
    "document_signatures",
    sa.column("document_id", sa.Integer),
    sa.column("shingles", sa.LargeBinary),
    sa.column("story", sa.LargeBinary),
)
_document_bands = sa.table(
    "document_bands",
    sa.column("kind", sa.SmallInteger),
    sa.column("band_key", sa.BigInteger),
    sa.column("document_id", sa.Integer),
)
_term_documents = sa.table("term_documents", sa.column("term", sa.BigInteger), sa.column("documents", sa.Integer))

# Frozen copies of index_missing and what it calls in archive/stories.py as of 6712249 (since moved
# to archive.catalog.similarity unchanged) and of archive/_sql.py as of 7ded655; the text side is in
# archive.catalog.migrations._similarity_0005. These are the versions this migration ran until it
# stopped importing them, not those of 7ded655 that added it: see _similarity_0005 for why.
_DUPLICATE, _STORY = 1, 2  # document_bands.kind


def _dialect_insert(dialect: str, table: sa.TableClause) -> Any:
    """Return an INSERT for `table` that supports ON CONFLICT on this dialect."""
    insert = {"sqlite": sqlite.insert, "postgresql": postgresql.insert}.get(dialect)
    if insert is None:
        raise NotImplementedError(f"catalog does not support the {dialect} dialect")
    return insert(table)


def _chunks(items: Sequence[_T], size: int = 500) -> Iterator[Sequence[_T]]:
    """Yield `items` in slices of `size` (bound-parameter lists stay under driver limits)."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _index_document(connection: sa.Connection, document_id: int, found: Signatures) -> None:
    """Store a new document's signatures and band keys (count its terms with _count_terms, once)."""
    from archive.catalog.migrations._similarity_0005 import DUPLICATE_ROWS, STORY_ROWS, band_keys

    dialect = connection.dialect.name
    connection.execute(
        _dialect_insert(dialect, _document_signatures)
        .values(document_id=document_id, shingles=found.shingles, story=found.story)
        .on_conflict_do_nothing(index_elements=["document_id"])
    )
    keys = [(_DUPLICATE, key) for key in band_keys(found.shingles, DUPLICATE_ROWS)]
    keys += [(_STORY, key) for key in band_keys(found.story, STORY_ROWS)] if found.story else []
    rows = [{"kind": kind, "band_key": key, "document_id": document_id} for kind, key in sorted(set(keys))]
    connection.execute(_dialect_insert(dialect, _document_bands).on_conflict_do_nothing(), rows)


def _count_terms(connection: sa.Connection, counts: Mapping[int, int]) -> None:
    """Add new documents' term counts (documents per term hash) to term_documents.

    One statement, many parameter sets (compiled once), in ascending term order: concurrent
    writers then lock the rows in one order and cannot deadlock on them.
    """
    if not counts:
        return
    table = _term_documents
    upsert = _dialect_insert(connection.dialect.name, _term_documents)
    upsert = upsert.on_conflict_do_update(
        index_elements=["term"], set_={"documents": table.c.documents + upsert.excluded.documents}
    )
    connection.execute(upsert, [{"term": t, "documents": n} for t, n in sorted(counts.items())])


def _document_signatures_of(connection: sa.Connection, text: str, title: str | None) -> Signatures:
    """Return a new document's signatures, its key terms weighed by the catalog's document counts."""
    # Imported here: alembic loads every revision to find the head, and numpy and datasketch are slow to load.
    from archive.catalog.migrations._similarity_0005 import idf_from, signatures, term_hash, term_vector

    vector = term_vector(text)
    frequency = dict(_frequencies(connection, sorted({term_hash(t) for t in vector})))
    return signatures(text, title, idf=idf_from(_document_count(connection), frequency), vector=vector)


def _document_count(connection: sa.Connection) -> int:
    """Return about how many documents the catalog holds: the highest id, read from the index, no scan."""
    return int(connection.execute(sa.select(sa.func.max(_documents.c.id))).scalar() or 0)


def _index_missing(connection: sa.Connection) -> int:
    """Index every document that has no signatures yet (after an upgrade); return how many."""
    missing = (
        sa.select(_documents.c.id, _documents.c.title, _documents.c.text)
        .outerjoin(_document_signatures, _document_signatures.c.document_id == _documents.c.id)
        .where(_document_signatures.c.document_id.is_(None))
        .order_by(_documents.c.id)
    )
    done = 0
    for row in connection.execute(missing).fetchall():
        found = _document_signatures_of(connection, row.text, row.title)
        _index_document(connection, row.id, found)
        _count_terms(connection, dict.fromkeys(found.terms, 1))
        done += 1
    return done


def _frequencies(connection: sa.Connection, terms: list[int]) -> Iterable[tuple[int, int]]:
    """Yield (term hash, documents holding it) for the terms the catalog has counted."""
    for chunk in _chunks(terms):
        query = sa.select(_term_documents.c.term, _term_documents.c.documents).where(_term_documents.c.term.in_(chunk))
        yield from ((term, documents) for term, documents in connection.execute(query))


def upgrade() -> None:

    def document() -> sa.ForeignKey:
        return sa.ForeignKey("documents.id", ondelete="CASCADE")

    op.create_table(
        "document_signatures",
        sa.Column("document_id", sa.Integer, document(), primary_key=True),
        sa.Column("shingles", sa.LargeBinary, nullable=False),
        sa.Column("story", sa.LargeBinary, nullable=True),
    )
    op.create_table(
        "document_bands",
        sa.Column("kind", sa.SmallInteger, primary_key=True),
        sa.Column("band_key", sa.BigInteger, primary_key=True),
        sa.Column("document_id", sa.Integer, document(), primary_key=True),
    )
    op.create_index("ix_document_bands_document_id", "document_bands", ["document_id"])
    op.create_table(
        "term_documents",
        sa.Column("term", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("documents", sa.Integer, nullable=False),
    )
    _index_missing(op.get_bind())


def downgrade() -> None:
    op.drop_table("term_documents")
    op.drop_index("ix_document_bands_document_id", "document_bands")
    op.drop_table("document_bands")
    op.drop_table("document_signatures")
