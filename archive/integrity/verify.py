"""Check an archive end to end: WARC records and digests, damaged stretches, catalog pointers, orphans both ways."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select

from archive.catalog.facade import Catalog
from archive.catalog.models import CaptureRow, WarcRecordRow
from archive.integrity.damage import (
    FileScan,
    Loss,
    RegionFinding,
    known_losses,
    mark_renamed,
    mark_set_aside,
    region_digest,
    scan_file,
    set_aside_regions,
    unreadable_reason,
)
from archive.layout import DataLayout
from archive.warc.recovery import open_files

__all__ = ["Report", "verify"]


@dataclass
class Report:
    """What `verify` found: counts, and one line per problem (empty when the archive is sound)."""

    files: int = 0
    records: Counter[str] = field(default_factory=Counter)
    digests_checked: int = 0
    pointers: int = 0
    dangling: set[str] = field(default_factory=set)  # captures with a pointer to a record that is not there whole
    unreadable: dict[str, str] = field(default_factory=dict)  # file -> why it cannot be read: its pointers unchecked
    superseded: int = 0  # complete copies of captures the catalog holds elsewhere (two writers, one capture)
    regions: list[RegionFinding] = field(default_factory=list)  # damaged stretches, each once, with their captures
    remains: int = 0  # conversion records of captures lost to damage set aside earlier: known, not orphans
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def set_aside(self) -> list[RegionFinding]:
        """The damaged stretches an earlier repair set aside (still there, unchanged): known, not problems."""
        return [r for r in self.regions if r.set_aside]


@dataclass
class _Seen:
    """What the WARC files hold, gathered for the catalog checks."""

    found: dict[tuple[str, int], str] = field(default_factory=dict)  # (file, offset) -> record id
    conversions: dict[str, str] = field(default_factory=dict)  # conversion record id -> where it is
    captures: dict[str, str] = field(default_factory=dict)  # conversion record id -> the capture its metadata names
    scans: dict[str, FileScan] = field(default_factory=dict)
    named: set[str] = field(default_factory=set)  # record ids some catalog row names
    cataloged: set[str] = field(default_factory=set)  # capture ids the catalog holds


def verify(data_dir: Path, catalog: Catalog, scans: Mapping[str, FileScan] | None = None) -> Report:
    """Read every WARC file under `data_dir` and every catalog pointer; return the report.

    Problems: a damaged stretch of a WARC file (bad bytes, or a file cut short; a record whose
    digest fails is one), reported once with the captures it held, unless an earlier repair
    set it aside; a catalog row pointing at a file, offset or record id that is not there
    (dangling); a capture's conversion record that no catalog row names (orphan: `repair` puts
    it back). A copy of a capture the catalog holds at other records (two writers archived it
    at once) is counted as superseded, not a problem. Requests, revisits, redirects and
    discovery responses have no catalog rows by design and are not orphans. `scans` are files
    read already (by repair), by name.
    """
    report, seen = Report(), _Seen()
    layout = DataLayout(data_dir)
    entries = set_aside_regions(data_dir)
    aside = {(e.get("file"), e.get("offset"), e.get("length")): e for e in entries}
    marked = set(open_files(layout.warc))
    rows = _pointer_rows(catalog)
    anchors: dict[str, dict[str, int]] = defaultdict(dict)  # file -> record id -> offset, as the catalog has them
    for _, _, file, offset, record_id, _ in rows:
        anchors[file][record_id] = offset
    for path in layout.warc_files():
        try:
            scan = (scans or {}).get(path.name) or scan_file(path, keep=("metadata",))
        except OSError as exc:  # there, but not to be read (permissions, an I/O error): nothing about it is known
            report.unreadable[path.name] = why = unreadable_reason(exc)
            report.problems.append(f"{path.name}: cannot be read: {why} (the catalog's pointers into it unchecked)")
            continue
        mark_set_aside(scan, entries)
        mark_renamed(scan, anchors[path.name])
        _read(scan, report, seen)
        for region in scan.regions:
            finding = RegionFinding(path.name, region, torn_tail=path.name in marked and region.end == scan.size)
            key = (path.name, region.offset, region.length)
            entry = aside.get(key)
            finding.set_aside = entry is not None and entry.get("sha256") == region_digest(path, region)
            if entry is not None and finding.set_aside:
                finding.captures = _losses(entry)
            report.regions.append(finding)
    _check_pointers(rows, anchors, report, seen)
    report.problems[:0] = [r.line() for r in report.regions if not r.set_aside]
    lost = known_losses(entries)
    for record_id, where in sorted(seen.conversions.items(), key=lambda item: item[1]):
        if record_id in seen.named:
            continue
        if seen.captures.get(record_id) in seen.cataloged:
            report.superseded += 1
        elif record_id in lost:
            report.remains += 1
        else:
            report.problems.append(f"orphan: {where}: conversion {record_id} has no catalog row")
    return report


def _read(scan: FileScan, report: Report, seen: _Seen) -> None:
    report.files += 1
    seen.scans[scan.path.name] = scan
    for record in scan.records:
        report.records[record.rec_type] += 1
        report.digests_checked += record.digest_checked
        seen.found[(scan.path.name, record.offset)] = record.record_id
        if record.rec_type == "conversion":
            seen.conversions[record.record_id] = f"{scan.path.name}@{record.offset}"
        elif record.rec_type == "metadata":
            _note_capture(record.block, seen.captures)


def _check_pointers(
    rows: list[tuple[str, str, str, int, str, str]], anchors: dict[str, dict[str, int]], report: Report, seen: _Seen
) -> None:
    """Read every catalog pointer (`rows`) back; a capture with one into a damaged stretch joins that stretch's list.

    `anchors`: file -> record id -> offset, as the catalog has them.
    """
    held: dict[int, set[str]] = defaultdict(set)  # id(finding) -> captures
    findings = {id(f): f for f in report.regions}
    record_ids: dict[str, list[str]] = defaultdict(list)
    urls: dict[str, str] = {}
    for capture_id, role, file, offset, record_id, url in rows:
        report.pointers += file not in report.unreadable
        seen.cataloged.add(capture_id)
        seen.named.add(record_id)
        record_ids[capture_id].append(record_id)
        urls[capture_id] = url
        if file in report.unreadable:
            continue  # not known to be gone: a file that could not be read is no reason to drop its captures
        there = seen.found.get((file, offset))
        if there == record_id:
            continue
        report.dangling.add(capture_id)
        finding = _finding_at(report, seen, anchors[file], file, offset)
        if finding is not None:
            held[id(finding)].add(capture_id)
            if not finding.torn_tail:
                continue  # reported once, with its stretch (a torn tail never holds a committed record)
        if there is None:
            report.problems.append(f"dangling: capture {capture_id} {role} -> {file}@{offset}: no record there")
        else:
            report.problems.append(
                f"dangling: capture {capture_id} {role} -> {file}@{offset}: found {there}, not {record_id}"
            )
    for key, captures in held.items():
        findings[key].captures = [Loss(c, urls[c], tuple(record_ids[c])) for c in sorted(captures)]


def _pointer_rows(catalog: Catalog) -> list[tuple[str, str, str, int, str, str]]:
    """Return every catalog pointer: (capture id, role, file, offset, record id, the capture's URL)."""
    with catalog.engine.connect() as connection:
        rows = connection.execute(
            select(
                WarcRecordRow.capture_id,
                WarcRecordRow.role,
                WarcRecordRow.file,
                WarcRecordRow.offset,
                WarcRecordRow.record_id,
                CaptureRow.source_url,
            )
            .join(CaptureRow, CaptureRow.id == WarcRecordRow.capture_id)
            .order_by(WarcRecordRow.id)
        )
        return [tuple(row) for row in rows]  # type: ignore[misc]


def _losses(entry: dict[str, object]) -> list[Loss]:
    """Return the captures a quarantine report entry says its stretch held."""
    held = entry.get("captures")
    return [
        Loss(str(c.get("id")), str(c.get("url", "")), tuple(map(str, c.get("record_ids") or ())))
        for c in (held if isinstance(held, list) else [])
        if isinstance(c, dict)
    ]


def _finding_at(report: Report, seen: _Seen, anchors: dict[str, int], file: str, offset: int) -> RegionFinding | None:
    """Return the damaged stretch that holds the record the catalog has at file@offset, if one does."""
    scan = seen.scans.get(file)
    region = scan.region_of(anchors, offset) if scan is not None else None
    return next((f for f in report.regions if f.file == file and f.region == region), None)


def _note_capture(block: bytes, captures: dict[str, str]) -> None:
    """Remember which capture a metadata record's conversion belongs to (our record JSON; others are skipped)."""
    try:
        meta = json.loads(block)
        captures[str(meta["provenance"]["warc_conversion"]["record_id"])] = str(meta["id"])
    except (ValueError, KeyError, TypeError):
        pass
