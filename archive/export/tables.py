"""Records as tables for other tools: JSON lines, CSV, and Parquet with typed columns."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Sequence
from typing import IO, Any

from scraper import Record

__all__ = ["EXPORT_FIELDS", "cell", "write_parquet", "write_table"]

_BATCH = 1000
# The columns of an export, in order: the record's fields with its provenance as one JSON value.
EXPORT_FIELDS = (
    "id",
    "source_url",
    "canonical_url",
    "claimed_url",
    "site",
    "site_name",
    "title",
    "authors",
    "published",
    "language",
    "tags",
    "description",
    "word_count",
    "payload_sha256",
    "text_sha256",
    "text",
    "provenance",
)


def write_table(records: Iterable[Record], out: IO[str], fmt: str) -> int:
    """Write records to `out` as JSON lines ("jsonl") or CSV ("csv") with EXPORT_FIELDS; return the count."""
    writer = csv.DictWriter(out, fieldnames=EXPORT_FIELDS) if fmt == "csv" else None
    if writer is not None:
        writer.writeheader()
    written = 0
    for record in records:
        data = record.to_dict()
        if writer is None:
            out.write(json.dumps(data, ensure_ascii=False, sort_keys=True) + "\n")
        else:
            writer.writerow({k: cell(data[k]) for k in EXPORT_FIELDS})
        written += 1
    return written


def cell(value: Any) -> Any:
    """Return a value as one CSV cell: lists joined with "; ", mappings as JSON."""
    if isinstance(value, list | tuple):
        return "; ".join(map(str, value))
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return value


def write_parquet(records: Iterable[Record], out: IO[bytes], fields: Sequence[str]) -> int:
    """Write records as a Parquet table with typed columns (lists stay lists; provenance is JSON); return the count.

    Written to `out` in batches (archive.export.output_file puts a file in place once complete).
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pa.schema([(name, _arrow_type(name)) for name in fields])
    written = 0
    with pq.ParquetWriter(out, schema, compression="zstd") as writer:
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
