"""PostgreSQL full-text search in each document's language (stemming), not one 'simple' configuration.

The search vector picks the text-search configuration from documents.language (a
constant CASE, so the generated column stays immutable); queries OR the same
configurations together, so "village" finds "villages" in English and "Bahnhof"
finds "Bahnhöfe" in German, and the GIN index still answers them. SQLite is unchanged.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

from alembic import op

from archive.catalog.textsearch import config_case

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def _recreate(config: str) -> None:
    """Rebuild the generated search column and its GIN index with `config` (SQL for a regconfig)."""
    if op.get_bind().dialect.name != "postgresql":
        return
    vector = (
        f"setweight(to_tsvector({config}, coalesce(title, '')), 'A') || setweight(to_tsvector({config}, text), 'B')"
    )
    op.execute("DROP INDEX IF EXISTS ix_documents_search")
    op.execute("ALTER TABLE documents DROP COLUMN search")
    op.execute(f"ALTER TABLE documents ADD COLUMN search tsvector GENERATED ALWAYS AS ({vector}) STORED")
    op.execute("CREATE INDEX ix_documents_search ON documents USING GIN (search)")


def upgrade() -> None:
    _recreate(config_case())


def downgrade() -> None:
    _recreate("'simple'::regconfig")
