"""Records as tables for other tools: Parquet with typed columns."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from scraper import Record

__all__ = ["write_parquet"]

_BATCH = 1000


def write_parquet(records: Iterable[Record], path: Path, fields: Sequence[str]) -> int:
    """Write records as a Parquet table with typed columns (lists stay lists; provenance is JSON); return the count.

    Written in batches to a temporary file that replaces `path` only when complete.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pa.schema([(name, _arrow_type(name)) for name in fields])
    tmp = path.with_name(path.name + ".part")
    written = 0
    with pq.ParquetWriter(tmp, schema, compression="zstd") as writer:
        batch: list[dict[str, Any]] = []
        for record in records:
            data = record.to_dict()
            batch.append({name: _parquet_value(name, data[name]) for name in fields})
            if len(batch) >= _BATCH:
                writer.write_table(pa.Table.from_pylist(batch, schema=schema))
                written += len(batch)
                batch.clear()
        if batch:
            writer.write_table(pa.Table.from_pylist(batch, schema=schema))
            written += len(batch)
    os.replace(tmp, path)
    return written


def _arrow_type(name: str) -> Any:
    import pyarrow as pa

    if name in ("authors", "tags"):
        return pa.list_(pa.string())
    if name == "word_count":
        return pa.int64()
    return pa.string()


def _parquet_value(name: str, value: Any) -> Any:
    if name == "provenance":
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    if name in ("authors", "tags"):
        return list(value)
    return value
