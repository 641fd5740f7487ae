"""Repair an archive: cut torn WARC tails, put complete captures no catalog row names back in the catalog.

Nothing here deletes a complete WARC record: only bytes after a file's last complete record
are cut, and the catalog only gains rows, each pointing at records read back whole.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

from archive.catalog.facade import Catalog
from archive.integrity.verify import verify
from archive.layout import DataLayout
from archive.warc.reader import WARC_READ_ERRORS, scan_records
from archive.warc.recovery import cut_torn_tail, open_files, recover_open_files
from scraper import Record, WarcLocation

__all__ = ["RepairReport", "orphaned_records", "reindex_file", "repair"]

_BATCH = 200
_KEPT = ("conversion", "metadata")  # the records a capture is rebuilt from


@dataclass
class RepairReport:
    """What `repair` did: files read, torn bytes cut per file, captures re-indexed, and what it could not mend."""

    files: int = 0
    cut: dict[str, int] = field(default_factory=dict)
    reindexed: int = 0
    forgotten: list[str] = field(default_factory=list)  # captures whose WARC records were lost (cut or gone)
    unmendable: list[str] = field(default_factory=list)


def orphaned_records(path: Path, catalog: Catalog) -> tuple[list[Record], list[str]]:
    """Return the complete captures in WARC file `path` that the catalog lacks, and why others could not be read.

    A capture is complete when its metadata record (our JSON of the record) and the
    conversion and raw records it names were all read back whole at the places it names.
    """
    found: dict[str, WarcLocation] = {}  # record id -> where it is
    texts: dict[str, str] = {}  # conversion record id -> text
    metadata: list[tuple[dict[str, object], WarcLocation]] = []
    problems: list[str] = []
    with open(path, "rb") as handle:
        try:
            for offset, end, warc_record in scan_records(handle, keep=_KEPT):
                record_id = warc_record.rec_headers.get_header("WARC-Record-ID") or ""
                where = WarcLocation(path.name, offset, end - offset, record_id)
                found[record_id] = where
                body = warc_record.block
                if warc_record.rec_type == "conversion":
                    texts[record_id] = body.decode("utf-8", "replace")
                elif warc_record.rec_type == "metadata" and _is_record_json(warc_record.content_type):
                    meta = _record_json(body)
                    if meta is not None:
                        metadata.append((meta, where))
        except WARC_READ_ERRORS as exc:
            problems.append(f"{path.name}: unreadable after the last good record: {exc}")
    candidates = {str(meta["id"]): (meta, where) for meta, where in metadata}
    known = catalog.known_captures(list(candidates))
    records = []
    for capture_id, (meta, where) in sorted(candidates.items()):
        if capture_id in known:
            continue
        record, why = _rebuild(meta, where, found, texts)
        if record is None:
            problems.append(f"{path.name}@{where.offset}: capture {capture_id}: {why}")
        else:
            records.append(record)
    return records, problems


def reindex_file(path: Path, catalog: Catalog) -> tuple[int, list[str]]:
    """Put the complete captures of `path` that the catalog lacks into it; return (how many, problems)."""
    records, problems = orphaned_records(path, catalog)
    catalog.ensure_crawls(r.provenance.crawl_id for r in records if r.provenance.crawl_id)
    added = 0
    for start in range(0, len(records), _BATCH):
        added += catalog.add_records(records[start : start + _BATCH])
    return added, problems


def repair(data_dir: Path, catalog: Catalog) -> RepairReport:
    """Repair every WARC file under `data_dir` that no live process is writing; return what was done."""
    report = RepairReport()
    directory = DataLayout(data_dir).warc

    def mend(path: Path) -> None:
        added, problems = reindex_file(path, catalog)
        report.reindexed += added
        report.unmendable.extend(problems)

    done: set[str] = set()
    for name, cut in recover_open_files(directory, mend):  # files a killed writer left open
        report.files += 1
        done.add(name)
        if cut:
            report.cut[name] = cut
    live = set(open_files(directory))
    for path in sorted(directory.glob("*.warc*")):
        if path.name in done or path.name in live:
            continue
        report.files += 1
        cut = cut_torn_tail(path)
        if cut:
            report.cut[path.name] = cut
        mend(path)
    # What the catalog points at and is not there any more (a file cut or damaged by something
    # other than our writer, which makes bytes durable before rows) leaves the catalog.
    lost = verify(data_dir, catalog).dangling
    catalog.forget_captures(lost)
    report.forgotten = sorted(lost)
    return report


def _is_record_json(content_type: str | None) -> bool:
    return (content_type or "").split(";")[0].strip() == "application/json"


def _record_json(body: bytes) -> dict[str, object] | None:
    try:
        meta = json.loads(body)
    except ValueError:
        return None
    if not isinstance(meta, dict) or not isinstance(meta.get("provenance"), dict) or "id" not in meta:
        return None
    return meta


def _rebuild(
    meta: dict[str, object], where: WarcLocation, found: dict[str, WarcLocation], texts: dict[str, str]
) -> tuple[Record | None, str]:
    """Return the record a metadata record describes, if every record it names is here whole."""
    provenance = meta["provenance"]
    assert isinstance(provenance, dict)
    for role in ("warc_request", "warc_raw", "warc_conversion"):
        named = provenance.get(role)
        if named is None:
            if role == "warc_request":
                continue
            return None, f"its metadata names no {role[5:]} record"
        if not isinstance(named, dict) or found.get(str(named.get("record_id"))) != WarcLocation(**named):
            return None, f"its {role[5:]} record is not where its metadata says"
    conversion = provenance["warc_conversion"]
    assert isinstance(conversion, dict)
    text = texts.get(str(conversion["record_id"]))
    if text is None or hashlib.sha256(text.encode("utf-8")).hexdigest() != meta.get("text_sha256"):
        return None, "its conversion record's text does not match the text digest of its metadata"
    try:
        record = Record.from_dict(dict(meta), text=text)
    except (TypeError, ValueError) as exc:
        return None, f"its metadata does not describe a record: {exc}"
    return record.with_provenance(warc_metadata=where), ""
