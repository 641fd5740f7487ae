"""Revisits the archive wrote, so a WARC file replayed again does not write its revisits again.

A replayed capture already in the catalog is "unchanged"; a replayed revisit record left no row,
so each replay of the same file wrote its revisits once more (a new WARC file each time). The
revisits table names each revisit written: the capture it repeats, the URL and time of the
visit (one row per visit), the profile and the revisit record's id (no WARC location: nothing
here to dangle).

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "revisits",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("capture_id", sa.String(32), sa.ForeignKey("captures.id", ondelete="CASCADE"), nullable=False),
        sa.Column("crawl_id", sa.String(36), sa.ForeignKey("crawls.id"), nullable=True),
        sa.Column("url", sa.Text, nullable=False),
        sa.Column("captured_at", sa.String(40), nullable=False),
        sa.Column("profile", sa.String(32), nullable=False),
        sa.Column("record_id", sa.String(100), nullable=False),
    )
    op.create_index("ix_revisits_capture_id", "revisits", ["capture_id"])
    op.create_index("uq_revisits_visit", "revisits", ["url", "captured_at"], unique=True)


def downgrade() -> None:
    op.drop_index("uq_revisits_visit", "revisits")
    op.drop_index("ix_revisits_capture_id", "revisits")
    op.drop_table("revisits")
