"""Version history: each capture links to the capture of the same URL whose text it replaced.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("captures") as batch:
        batch.add_column(sa.Column("previous_id", sa.String(32), nullable=True))
    op.create_index("ix_captures_source_url", "captures", ["source_url"])


def downgrade() -> None:
    op.drop_index("ix_captures_source_url", "captures")
    with op.batch_alter_table("captures") as batch:
        batch.drop_column("previous_id")
