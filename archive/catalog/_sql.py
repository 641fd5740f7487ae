"""Dialect helpers the catalog and its migrations share."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, TypeVar, cast

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite

T = TypeVar("T")


def dialect_insert(dialect: str, model: Any) -> Any:
    """Return an INSERT for `model`'s table that supports ON CONFLICT on this dialect."""
    insert = {"sqlite": sqlite.insert, "postgresql": postgresql.insert}.get(dialect)
    if insert is None:
        raise NotImplementedError(f"catalog does not support the {dialect} dialect")
    return insert(table_of(model))


def table_of(model: Any) -> Table:
    """Return the Core table of an ORM model (typed as a Table, for insert/delete/update statements)."""
    return cast(Table, model.__table__)


def chunks(items: Sequence[T], size: int = 500) -> Iterator[Sequence[T]]:
    """Yield `items` in slices of `size` (bound-parameter lists stay under driver limits)."""
    for start in range(0, len(items), size):
        yield items[start : start + size]
