"""Site filters as an index range: captures.site_key holds the site's labels reversed.

`--site example.org` matches example.org and its subdomains; as a suffix match
(LIKE '%.example.org') no index could serve it, so a filtered search scanned every
capture. Reversed, the site and its subdomains share a key prefix, one B-tree range.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def _site_key(site: str | None) -> str | None:
    """Return the index key of a site: its labels reversed, each followed by a dot.

    A frozen copy of archive/_models.py's site_key as of a6704af, the commit that added this migration.
    """
    return "".join(f"{label}." for label in reversed(site.lower().split("."))) if site else None


def upgrade() -> None:
    bind = op.get_bind()
    column_type = sa.String(255, collation="C") if bind.dialect.name == "postgresql" else sa.String(255)
    with op.batch_alter_table("captures") as batch:
        batch.add_column(sa.Column("site_key", column_type, nullable=True))
    captures = sa.table("captures", sa.column("id", sa.String), sa.column("site", sa.String), sa.column("site_key"))
    sites = bind.execute(sa.select(captures.c.site).where(captures.c.site.is_not(None)).distinct()).scalars().all()
    for site in sites:
        bind.execute(captures.update().where(captures.c.site == site).values(site_key=_site_key(site)))
    op.create_index("ix_captures_site_key", "captures", ["site_key", "captured_at"])


def downgrade() -> None:
    op.drop_index("ix_captures_site_key", "captures")
    with op.batch_alter_table("captures") as batch:
        batch.drop_column("site_key")
