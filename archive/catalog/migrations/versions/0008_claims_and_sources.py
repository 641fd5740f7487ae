"""Honest addresses: the URL a page claims for itself, and the WARC record a replayed capture was read from.

captures.claimed_url holds a page's own URL (canonical link, og:url) when it is not taken as
the capture's canonical URL: a page fetched from one site that names another keeps the site
it came from. captures.source_record_id names the WARC-Record-ID a capture replayed from a
WARC file had there (with source_location's file#offset, the way back to the source).

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("captures") as batch:
        batch.add_column(sa.Column("claimed_url", sa.Text(), nullable=True))
        batch.add_column(sa.Column("source_record_id", sa.String(128), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("captures") as batch:
        batch.drop_column("source_record_id")
        batch.drop_column("claimed_url")
