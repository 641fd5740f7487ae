"""Honest ends: which process owns a running run, its last sign of life; captures kept without main text.

crawls.owner names the process running a run ("HOST PID START", START the process's start
time as the kernel counts it, so a reused pid is not taken for it) and crawls.heartbeat_at
when it last showed it was alive: a run whose process died is found and marked interrupted
by the next run or by `scraper repair`. A run queued in a frontier has no owner.

captures.no_text holds why a capture has no main text (extraction failed or found none): its
raw records are archived all the same, and `scraper reextract` can try again.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("crawls") as batch:
        batch.add_column(sa.Column("owner", sa.String(200), nullable=True))
        batch.add_column(sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("captures") as batch:
        batch.add_column(sa.Column("no_text", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("captures") as batch:
        batch.drop_column("no_text")
    with op.batch_alter_table("crawls") as batch:
        batch.drop_column("heartbeat_at")
        batch.drop_column("owner")
