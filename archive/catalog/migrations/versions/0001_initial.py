"""Initial catalog: crawls, documents (with full-text search), captures, warc_records.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

_SQLITE_FTS = (
    "CREATE VIRTUAL TABLE documents_fts USING fts5(title, text, content='documents', content_rowid='id',"
    " tokenize='unicode61 remove_diacritics 2')",
    "CREATE TRIGGER documents_fts_insert AFTER INSERT ON documents BEGIN"
    " INSERT INTO documents_fts(rowid, title, text) VALUES (new.id, new.title, new.text); END",
    "CREATE TRIGGER documents_fts_delete AFTER DELETE ON documents BEGIN"
    " INSERT INTO documents_fts(documents_fts, rowid, title, text) VALUES ('delete', old.id, old.title, old.text);"
    " END",
    "CREATE TRIGGER documents_fts_update AFTER UPDATE ON documents BEGIN"
    " INSERT INTO documents_fts(documents_fts, rowid, title, text) VALUES ('delete', old.id, old.title, old.text);"
    " INSERT INTO documents_fts(rowid, title, text) VALUES (new.id, new.title, new.text); END",
)
_POSTGRES_FTS = (
    "ALTER TABLE documents ADD COLUMN search tsvector GENERATED ALWAYS AS"
    " (setweight(to_tsvector('simple', coalesce(title, '')), 'A') || setweight(to_tsvector('simple', text), 'B'))"
    " STORED",
    "CREATE INDEX ix_documents_search ON documents USING GIN (search)",
)


def upgrade() -> None:
    tz = sa.DateTime(timezone=True)
    op.create_table(
        "crawls",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("started_at", tz, nullable=False),
        sa.Column("finished_at", tz),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("args", sa.JSON, nullable=False),
        sa.Column("software", sa.String(200), nullable=False),
        sa.Column("counts", sa.JSON, nullable=False),
    )
    op.create_table(
        "documents",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("text_sha256", sa.String(64), nullable=False, unique=True),
        sa.Column("title", sa.Text),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("word_count", sa.Integer, nullable=False),
        sa.Column("language", sa.String(16)),
        sa.Column("first_seen_at", tz, nullable=False),
    )
    op.create_table(
        "captures",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("document_id", sa.Integer, sa.ForeignKey("documents.id"), nullable=False),
        sa.Column("crawl_id", sa.String(36), sa.ForeignKey("crawls.id")),
        sa.Column("source_url", sa.Text, nullable=False),
        sa.Column("canonical_url", sa.Text, nullable=False),
        sa.Column("site", sa.String(255)),
        sa.Column("site_name", sa.Text),
        sa.Column("title", sa.Text),
        sa.Column("authors", sa.JSON, nullable=False),
        sa.Column("published", sa.String(32)),
        sa.Column("language", sa.String(16)),
        sa.Column("tags", sa.JSON, nullable=False),
        sa.Column("description", sa.Text),
        sa.Column("word_count", sa.Integer, nullable=False),
        sa.Column("payload_sha256", sa.String(64), nullable=False),
        sa.Column("text_sha256", sa.String(64), nullable=False),
        sa.Column("source_kind", sa.String(8), nullable=False),
        sa.Column("source_location", sa.Text, nullable=False),
        sa.Column("captured_at", sa.String(40), nullable=False),
        sa.Column("archived_at", sa.String(40)),
        sa.Column("media_type", sa.String(100), nullable=False),
        sa.Column("encoding", sa.String(64)),
        sa.Column("http_status", sa.Integer),
        sa.Column("http_headers", sa.JSON, nullable=False),
        sa.Column("extractor", sa.String(64), nullable=False),
        sa.Column("extractor_version", sa.String(32), nullable=False),
        sa.Column("extractor_options", sa.JSON, nullable=False),
        sa.Column("project_version", sa.String(32), nullable=False),
        sa.Column("input_word_count", sa.Integer, nullable=False),
    )
    for column in ("canonical_url", "site", "published", "captured_at", "payload_sha256", "document_id", "crawl_id"):
        op.create_index(f"ix_captures_{column}", "captures", [column])
    op.create_table(
        "warc_records",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("capture_id", sa.String(32), sa.ForeignKey("captures.id", ondelete="CASCADE"), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("file", sa.Text, nullable=False),
        sa.Column("offset", sa.BigInteger, nullable=False),
        sa.Column("length", sa.BigInteger, nullable=False),
        sa.Column("record_id", sa.String(100), nullable=False),
        sa.UniqueConstraint("capture_id", "role", name="uq_warc_records_capture_role"),
    )
    op.create_index("ix_warc_records_file", "warc_records", ["file"])
    dialect = op.get_bind().dialect.name
    for statement in {"sqlite": _SQLITE_FTS, "postgresql": _POSTGRES_FTS}.get(dialect, ()):
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TABLE IF EXISTS documents_fts")
    for table in ("warc_records", "captures", "documents", "crawls"):
        op.drop_table(table)
