"""Dialect helpers the catalog and its migrations share."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from operator import itemgetter
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
    parses a long multi-row VALUES in Python). SQLite's executemany is a loop in C already; without
    RETURNING the rows go to it as tuples (`_driver_many`).
    """
    if not rows:
        return []
    if not returning and connection.dialect.name == "sqlite" and _driver_many(connection, insert, rows):
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


def _driver_many(connection: Connection, insert: Insert, rows: Sequence[dict[str, Any]]) -> bool:
    """Run `insert` for `rows` through the driver's executemany, compiled once; False if it cannot.

    SQLAlchemy builds and processes a parameter dict per row (a third of the catalog's insert
    time for the similarity rows); here each row becomes one tuple, each value put through its
    column type's own bind processing (JSON serialized, dates formatted) as SQLAlchemy would.
    """
    dialect = connection.dialect
    compiled = insert.compile(dialect=dialect, column_keys=list(rows[0]))
    table = cast(Table, insert.table)
    names = compiled.positiontup or []
    if not names or any(name not in rows[0] or name not in table.c for name in names):
        return False  # a parameter that is not one of the row's columns: leave it to SQLAlchemy
    processors = [table.c[name].type.dialect_impl(dialect).bind_processor(dialect) for name in names]
    if any(processors):
        values = [
            tuple(row[n] if p is None else p(row[n]) for n, p in zip(names, processors, strict=True)) for row in rows
        ]
    else:  # plain values (the similarity rows): picked in C
        pick = itemgetter(*names)
        values = list(map(pick, rows)) if len(names) > 1 else [(pick(row),) for row in rows]
    connection.exec_driver_sql(str(compiled), values)
    return True


def any_of(column: Any, values: Sequence[Any], dialect: str) -> Iterator[Any]:
    """Yield conditions that together select the rows whose `column` is one of `values`.

    PostgreSQL takes the values as one array, SQLite as one JSON array it reads with json_each (one
    short statement either way: SQLAlchemy spends more on expanding IN lists than the database
    on the lookups); elsewhere IN lists of 500.
    """
    if dialect == "postgresql":
        yield column == any_(sql_cast(bindparam("any_of", list(values)), postgresql.ARRAY(column.type)))
        return
    if dialect == "sqlite":
        listed = func.json_each(bindparam("any_of", json.dumps(list(values)))).table_valued("value")
        yield column.in_(select(listed.c.value))
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
