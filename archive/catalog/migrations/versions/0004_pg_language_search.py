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

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

# Frozen copies of archive/textsearch.py (CONFIGS, config_case) as of 5cb2170, the commit that
# added this migration (the live module, now archive.catalog.textsearch, may change; this may not).
# Snowball configurations PostgreSQL ships; other languages (and none) use 'simple'.
_CONFIGS = {
    "da": "danish",
    "de": "german",
    "en": "english",
    "es": "spanish",
    "fi": "finnish",
    "fr": "french",
    "hu": "hungarian",
    "it": "italian",
    "nl": "dutch",
    "no": "norwegian",
    "pt": "portuguese",
    "ro": "romanian",
    "ru": "russian",
    "sv": "swedish",
    "tr": "turkish",
}


def _config_case(column: str = "language") -> str:
    """Return SQL choosing the configuration for a row's language: a CASE over constants (immutable)."""
    arms = " ".join(f"WHEN '{code}' THEN '{name}'::regconfig" for code, name in sorted(_CONFIGS.items()))
    return f"(CASE {column} {arms} ELSE 'simple'::regconfig END)"


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
    _recreate(_config_case())


def downgrade() -> None:
    _recreate("'simple'::regconfig")
