"""SQLite: term_documents keyed by its rowid, so a term count is one B-tree, not a table and an index.

term_documents was made with a BIGINT primary key, which SQLite keeps as a separate index
beside the table's own rowid B-tree: each term count upserted (several hundred a new document)
wrote a page of each, at random keys. An INTEGER primary key is the rowid itself (a signed
64-bit integer, as the term hashes are). The rows are copied as they are. PostgreSQL is unchanged.

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    _rebuild("INTEGER")


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    _rebuild("BIGINT")


def _rebuild(term_type: str) -> None:
    op.execute(
        f"CREATE TABLE term_documents_new (term {term_type} NOT NULL, documents INTEGER NOT NULL, PRIMARY KEY (term))"
    )
    op.execute("INSERT INTO term_documents_new SELECT term, documents FROM term_documents ORDER BY term")
    op.execute("DROP TABLE term_documents")
    op.execute("ALTER TABLE term_documents_new RENAME TO term_documents")
