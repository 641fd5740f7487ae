"""What a run met: each input that failed and each page a site answered with an HTTP error.

A run's failures were printed once, at its end, and lost; its HTTP errors were printed one per
line as failures. crawl_problems keeps both, per run, so `scraper crawls RUN` lists them later
(kind "failed" or "http", the HTTP status, the input as the user named it, the reason).

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "crawl_problems",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("crawl_id", sa.String(36), nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("status", sa.SmallInteger, nullable=True),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_crawl_problems_crawl_id", "crawl_problems", ["crawl_id"])


def downgrade() -> None:
    op.drop_index("ix_crawl_problems_crawl_id", "crawl_problems")
    op.drop_table("crawl_problems")
