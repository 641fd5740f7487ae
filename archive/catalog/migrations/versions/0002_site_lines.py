"""Cross-capture evidence: which lines each site repeats across its pages.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "site_pages",
        sa.Column("site", sa.String(255), primary_key=True),
        sa.Column("url_key", sa.String(16), primary_key=True),
    )
    op.create_table(
        "site_lines",
        sa.Column("site", sa.String(255), primary_key=True),
        sa.Column("line_key", sa.String(16), primary_key=True),
        sa.Column("urls", sa.Integer, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("site_lines")
    op.drop_table("site_pages")
