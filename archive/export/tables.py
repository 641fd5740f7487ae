"""Exports for other tools: Parquet tables of records, a CDXJ index of the WARC files."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from scraper import Record

__all__ = ["build_cdxj", "warc_files", "write_parquet"]

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


def build_cdxj(warc_dir: Path, out: Path, files: Iterable[Path] | None = None) -> int:
    """Index the WARC files under `warc_dir` (or only `files`) into a sorted CDXJ file at `out`; return its lines.

    cdxj-indexer (the Webrecorder indexer pywb and the WACZ tools use) writes it: one line per
    response, revisit, resource and (with post_append) request record, `filename` relative to
    `warc_dir`, `offset` and `length` of the gzip member. The file is replaced only when complete.
    """
    from cdxj_indexer import CDXJIndexer

    names = sorted(str(p) for p in (warc_files(warc_dir) if files is None else files))
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".part")
    with open(tmp, "w", encoding="utf-8") as handle:
        if names:
            CDXJIndexer(output=handle, inputs=names, sort=True, post_append=True, dir_root=str(warc_dir)).process_all()
    os.replace(tmp, out)
    with open(out, encoding="utf-8") as handle:
        return sum(1 for _ in handle)


def warc_files(warc_dir: Path) -> list[Path]:
    """Return the WARC files of a directory, by name."""
    return sorted(p for p in warc_dir.glob("*.warc*") if p.name.endswith((".warc", ".warc.gz")))
