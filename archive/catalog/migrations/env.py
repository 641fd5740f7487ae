"""Alembic environment: runs on the connection the catalog hands over."""

from __future__ import annotations

from alembic import context

# The live models, for autogenerate only: it compares them with a database to draft a new
# migration. Upgrades build nothing from them; the one thing alembic takes from target_metadata
# when it runs a migration is its naming_convention, SQLAlchemy's default ({"ix": ...}), which no
# migration uses (each names its indexes). A convention added to Base.metadata would rename the
# constraints migrations create: tests/test_migrations.py compares new catalogs' schemas to catch it.
from archive.catalog.models import Base

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
