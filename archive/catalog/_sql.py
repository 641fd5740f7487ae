"""Dialect helpers the catalog and its migrations share."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import Any, TypeVar, cast

from sqlalchemy import JSON, Connection, Insert, Row, Table, Text, any_, bindparam, func, select
from sqlalchemy import cast as sql_cast
from sqlalchemy.dialects import postgresql, sqlite

T = TypeVar("T")


def dialect_insert(dialect: str, model: Any) -> Any:
    """Return an INSERT for `model`'s table that supports ON CONFLICT on this dialect."""
    insert = {"sqlite": sqlite.insert, "postgresql": postgresql.insert}.get(dialect)
    if insert is None:
        raise NotImplementedError(f"catalog does not support the {dialect} dialect")
    return insert(table_of(model))


def insert_many(
    connection: Connection, insert: Insert, rows: Sequence[dict[str, Any]], returning: Sequence[Any] = ()
) -> list[Row[Any]]:
    """Run `insert` (ON CONFLICT clauses and all) for many rows of the same columns, in their order.

    Return the `returning` columns of the rows inserted. PostgreSQL gets one statement: the rows
    as one array per column, unnested (psycopg sends an executemany as a statement per row, and
    parses a long multi-row VALUES in Python). SQLite's executemany is a loop in C already.
    """
    if not rows:
        return []
    if connection.dialect.name == "postgresql":
        columns = list(rows[0])
        table = cast(Table, insert.table)
        # JSON goes as text, written by the engine's own serializer, and is cast back in the server.
        dumps = getattr(connection.dialect, "_json_serializer", None) or json.dumps
        json_columns = {c for c in columns if isinstance(table.c[c].type, JSON)}
        arrays = [
            sql_cast(sql_cast(bindparam(f"many_{c}"), postgresql.ARRAY(Text)), postgresql.ARRAY(JSON))
            if c in json_columns
            else sql_cast(bindparam(f"many_{c}"), postgresql.ARRAY(table.c[c].type))
            for c in columns
        ]
        unnested = func.unnest(*arrays).table_valued(*columns).render_derived()
        insert = insert.from_select(columns, select(*(unnested.c[c] for c in columns)))
        parameters: Any = {
            f"many_{c}": [dumps(row[c]) if c in json_columns else row[c] for row in rows] for c in columns
        }
    else:
        parameters = rows
    if returning:
        return list(connection.execute(insert.returning(*returning), parameters))
    connection.execute(insert, parameters)
    return []


def any_of(column: Any, values: Sequence[Any], dialect: str) -> Iterator[Any]:
    """Yield conditions that together select the rows whose `column` is one of `values`.

    PostgreSQL takes the values as one array (one short statement); elsewhere IN lists of 500.
    """
    if dialect == "postgresql":
        yield column == any_(sql_cast(bindparam("any_of", list(values)), postgresql.ARRAY(column.type)))
        return
    for chunk in chunks(values):
        yield column.in_(chunk)


def table_of(model: Any) -> Table:
    """Return the Core table of an ORM model (typed as a Table, for insert/delete/update statements)."""
    return cast(Table, model.__table__)


def chunks(items: Sequence[T], size: int = 500) -> Iterator[Sequence[T]]:
    """Yield `items` in slices of `size` (bound-parameter lists stay under driver limits)."""
    for start in range(0, len(items), size):
        yield items[start : start + size]
