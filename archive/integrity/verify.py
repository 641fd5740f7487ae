"""Check an archive end to end: WARC records and digests, catalog pointers, orphans both ways."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select

from archive.catalog.facade import Catalog
from archive.catalog.models import WarcRecordRow
from archive.layout import DataLayout
from archive.warc.reader import WARC_READ_ERRORS, scan_records

__all__ = ["Report", "verify"]


@dataclass
class Report:
    """What `verify` found: counts, and one line per problem (empty when the archive is sound)."""

    files: int = 0
    records: Counter[str] = field(default_factory=Counter)
    digests_checked: int = 0
    pointers: int = 0
    dangling: set[str] = field(default_factory=set)  # captures with a pointer to a record that is not there
    superseded: int = 0  # complete copies of captures the catalog holds elsewhere (two writers, one capture)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def verify(data_dir: Path, catalog: Catalog) -> Report:
    """Read every WARC file under `data_dir` and every catalog pointer; return the report.

    Problems: a record that cannot be read (torn, bad gzip) or whose digest does not match;
    a catalog row pointing at a file, offset or record id that is not there (dangling); a
    capture's conversion record that no catalog row names (orphan: its capture is not in the
    catalog; `repair` puts it back). A copy of a capture the catalog holds at other records
    (two writers archived it at once) is counted as superseded, not a problem. Requests,
    revisits, redirects and discovery responses have no catalog rows by design and are not orphans.
    """
    report = Report()
    found: dict[tuple[str, int], str] = {}  # (file, offset) -> record id
    conversions: dict[str, str] = {}  # conversion record id -> where it is
    captures: dict[str, str] = {}  # conversion record id -> the capture id its metadata names
    for path in sorted(DataLayout(data_dir).warc.glob("*.warc*")):
        report.files += 1
        last_end = 0
        with open(path, "rb") as handle:
            try:
                for offset, end, record in scan_records(handle, check_digests=True, keep=("metadata",)):
                    last_end = end
                    headers = record.rec_headers
                    record_id = headers.get_header("WARC-Record-ID") or ""
                    report.records[record.rec_type] += 1
                    found[(path.name, offset)] = record_id
                    if record.rec_type == "conversion":
                        conversions[record_id] = f"{path.name}@{offset}"
                    elif record.rec_type == "metadata":
                        _note_capture(record.block, captures)
                    passed = record.digest_checker.passed
                    if passed is not None:
                        report.digests_checked += 1
                    if passed is False:
                        problems = "; ".join(map(str, record.digest_checker.problems)) or "digest mismatch"
                        report.problems.append(f"{path.name}@{offset}: {record_id}: {problems}")
            except WARC_READ_ERRORS as exc:
                report.problems.append(f"{path.name}: unreadable after the last good record: {exc}")
                continue
        size = path.stat().st_size
        if last_end < size:  # warcio stops quietly at a member cut short
            report.problems.append(
                f"{path.name}: unreadable after the last good record: {size - last_end} bytes from offset {last_end}"
            )
    named = set()
    cataloged: set[str] = set()
    with catalog.engine.connect() as connection:
        rows = connection.execute(
            select(
                WarcRecordRow.capture_id,
                WarcRecordRow.role,
                WarcRecordRow.file,
                WarcRecordRow.offset,
                WarcRecordRow.record_id,
            ).order_by(WarcRecordRow.id)
        )
        for capture_id, role, file, offset, record_id in rows:
            report.pointers += 1
            cataloged.add(capture_id)
            named.add(record_id)
            there = found.get((file, offset))
            if there != record_id:
                report.dangling.add(capture_id)
            if there is None:
                report.problems.append(f"dangling: capture {capture_id} {role} -> {file}@{offset}: no record there")
            elif there != record_id:
                report.problems.append(
                    f"dangling: capture {capture_id} {role} -> {file}@{offset}: found {there}, not {record_id}"
                )
    for record_id, where in sorted(conversions.items(), key=lambda item: item[1]):
        if record_id in named:
            continue
        if captures.get(record_id) in cataloged:
            report.superseded += 1
        else:
            report.problems.append(f"orphan: {where}: conversion {record_id} has no catalog row")
    return report


def _note_capture(block: bytes, captures: dict[str, str]) -> None:
    """Remember which capture a metadata record's conversion belongs to (our record JSON; others are skipped)."""
    try:
        meta = json.loads(block)
        captures[str(meta["provenance"]["warc_conversion"]["record_id"])] = str(meta["id"])
    except (ValueError, KeyError, TypeError):
        pass
