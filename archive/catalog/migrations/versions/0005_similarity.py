"""Near-duplicates and stories: MinHash signatures, LSH band keys and term document counts per document.

Existing documents are indexed here, so an upgraded catalog groups its old captures too.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from archive.catalog.similarity import index_missing

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:

    def document() -> sa.ForeignKey:
        return sa.ForeignKey("documents.id", ondelete="CASCADE")

    op.create_table(
        "document_signatures",
        sa.Column("document_id", sa.Integer, document(), primary_key=True),
        sa.Column("shingles", sa.LargeBinary, nullable=False),
        sa.Column("story", sa.LargeBinary, nullable=True),
    )
    op.create_table(
        "document_bands",
        sa.Column("kind", sa.SmallInteger, primary_key=True),
        sa.Column("band_key", sa.BigInteger, primary_key=True),
        sa.Column("document_id", sa.Integer, document(), primary_key=True),
    )
    op.create_index("ix_document_bands_document_id", "document_bands", ["document_id"])
    op.create_table(
        "term_documents",
        sa.Column("term", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("documents", sa.Integer, nullable=False),
    )
    index_missing(op.get_bind())


def downgrade() -> None:
    op.drop_table("term_documents")
    op.drop_index("ix_document_bands_document_id", "document_bands")
    op.drop_table("document_bands")
    op.drop_table("document_signatures")
