"""Damage in WARC files: each file read past its damaged stretches, and those stretches set aside in quarantine.

Damaged bytes are never deleted. `set_aside` copies a damaged stretch into the data folder's
`quarantine/` and appends what it held to `quarantine/report.jsonl`: the file, offset, length,
why, the SHA-256 of the bytes, and the captures (catalog id, URL, WARC record ids) they held.
The WARC file itself is left as it is, so no offset anything points at ever moves.
"""

from __future__ import annotations

import hashlib
import json
import os
from bisect import bisect_left
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from archive.layout import DataLayout
from archive.warc.reader import DamagedRegion, digest_damage, scan_resync

__all__ = [
    "FileScan",
    "Found",
    "Loss",
    "RegionFinding",
    "known_losses",
    "mark_renamed",
    "mark_set_aside",
    "quarantine_dir",
    "record_gone",
    "region_digest",
    "scan_file",
    "set_aside",
    "set_aside_regions",
    "unreadable_reason",
]

REPORT = "report.jsonl"


@dataclass(frozen=True)
class Found:
    """A WARC record that read back whole, with its digests (when it carries any) matching."""

    offset: int
    end: int
    rec_type: str
    record_id: str
    block: bytes  # kept for the record types asked for, else empty
    digest_checked: bool
    # A revisit's visit: (WARC-Target-URI, WARC-Date, WARC-Profile, WARC-Refers-To), else None.
    visit: tuple[str, str, str, str] | None = None


@dataclass
class FileScan:
    """One WARC file read end to end: its intact records and its damaged stretches, in file order."""

    path: Path
    size: int
    records: list[Found] = field(default_factory=list)
    regions: list[DamagedRegion] = field(default_factory=list)

    def region_at(self, offset: int) -> DamagedRegion | None:
        """Return the damaged stretch holding byte `offset`, if one does."""
        return next((r for r in self.regions if r.offset <= offset < r.end), None)

    def region_of(self, anchors: Mapping[str, int], offset: int) -> DamagedRegion | None:
        """Return the damaged stretch that now holds the record that was at `offset`, if one does.

        Bytes cut out or inserted move everything after them, so an old offset is placed by its
        neighbours: `anchors` gives the offsets records had (record id -> offset), and the
        stretch sought lies between the records found whole that were before and after it.
        """
        before, after = 0, self.size
        for record in self.records:
            was = anchors.get(record.record_id)
            if was is None:
                continue
            if was == offset:
                return None  # it is here, whole
            if was < offset:
                before = max(before, record.end)
            else:
                after = min(after, record.offset)
        return next((r for r in self.regions if r.offset < after and r.end > before), None)


@dataclass(frozen=True)
class Loss:
    """A capture some of whose WARC records were in a damaged stretch."""

    capture_id: str
    url: str
    record_ids: tuple[str, ...] = ()

    def __str__(self) -> str:
        return f"{self.capture_id} {self.url}".strip()


@dataclass
class RegionFinding:
    """A damaged stretch of one file, the captures it held, and whether it was set aside already."""

    file: str
    region: DamagedRegion
    captures: list[Loss] = field(default_factory=list)
    set_aside: bool = False  # quarantined by an earlier repair, and the bytes are still the same
    torn_tail: bool = False  # the end of a file a writer holds open (or a killed one left): cut, not kept

    def line(self) -> str:
        """Return the one line that reports this stretch: file, offset, length, why, and the captures it held."""
        region = self.region
        torn = " (the torn tail of a file left open, unreadable after the last good record)" if self.torn_tail else ""
        held = ", ".join(map(str, self.captures)) or "none in the catalog"
        where = f"{self.file}: offset {region.offset}, {region.length} bytes"
        return f"{where}: {region.kind}: {region.reason}{torn} (captures: {held})"


def unreadable_reason(exc: OSError) -> str:
    """Return why a WARC file could not be read, as verify and repair name it."""
    return exc.strerror or str(exc)


def scan_file(path: Path, keep: Collection[str] = ()) -> FileScan:
    """Read WARC file `path` to its end, past any damage; a record whose digest fails counts as damaged."""
    with open(path, "rb") as handle:
        scan = FileScan(path, os.fstat(handle.fileno()).st_size)
        for item in scan_resync(handle, check_digests=True, keep=keep, strict=True):
            if isinstance(item, DamagedRegion):
                scan.regions.append(item)
                continue
            offset, end, record = item
            if (damage := digest_damage(offset, end, record)) is not None:
                scan.regions.append(damage)
                continue
            record_id = record.rec_headers.get_header("WARC-Record-ID") or ""
            checked = record.digest_checker.passed is not None
            visit = _visit(record.rec_headers) if record.rec_type == "revisit" else None
            scan.records.append(Found(offset, end, record.rec_type, record_id, record.block, checked, visit))
    return scan


def _visit(headers: Any) -> tuple[str, str, str, str]:
    names = ("WARC-Target-URI", "WARC-Date", "WARC-Profile", "WARC-Refers-To")
    uri, date, profile, refers = (headers.get_header(name) or "" for name in names)
    return uri, date, profile, refers


def mark_renamed(scan: FileScan, named: Mapping[str, int]) -> None:
    """Count as damaged each record of `scan` that reads whole where a named record was, under an id nothing names.

    WARC headers carry no digest: a record whose WARC-Record-ID took a bad byte still reads
    whole, under an id nothing names, and the record named there seems gone without a trace.
    `named` gives the record ids the catalog names in this file, with their offsets. A named
    record found nowhere whole is sought where it should be now: as far from the named record
    found whole before it as it was (from the file start if none). A record starting exactly
    there that no one names (nor a warcinfo) is it, renamed: a damaged stretch. (Had bytes
    been cut out or inserted between, no record would start exactly there.)
    """
    placed = sorted((r for r in scan.records if r.record_id in named), key=lambda r: named[r.record_id])
    olds = [named[r.record_id] for r in placed]  # ascending: each found record's offset as named
    starts = {record.offset: record for record in scan.records}
    whole = {record.record_id for record in scan.records}
    for was, record_id in sorted((offset, rid) for rid, offset in named.items() if rid not in whole):
        at = bisect_left(olds, was) - 1  # the named record found whole just before it, if any
        now = was + placed[at].offset - olds[at] if at >= 0 else was
        there = starts.get(now)
        if there is None or there.record_id in named or there.rec_type == "warcinfo":
            continue
        shown = ascii(there.record_id)[1:-1][:100]
        _as_damaged(scan, there, f"record {record_id}: its WARC-Record-ID reads {shown}: bad bytes in its header")


def mark_set_aside(scan: FileScan, entries: Iterable[Mapping[str, object]]) -> None:
    """Count as damaged each record of `scan` that reads whole in the very bytes an earlier repair set aside.

    Damaged bytes may still parse (a record whose id took a bad byte: `mark_renamed`); once
    set aside, the same bytes stay damaged, so a later repair or verify finds them set aside.
    """
    held = {(e.get("offset"), e.get("length")): e for e in entries if e.get("file") == scan.path.name}
    for record in list(scan.records) if held else []:
        entry = held.get((record.offset, record.end - record.offset))
        if entry is None:
            continue
        region = DamagedRegion(record.offset, record.end - record.offset, str(entry.get("reason", "set aside")))
        if region_digest(scan.path, region) == entry.get("sha256"):
            _as_damaged(scan, record, region.reason)


def _as_damaged(scan: FileScan, record: Found, reason: str) -> None:
    scan.records.remove(record)
    scan.regions.append(DamagedRegion(record.offset, record.end - record.offset, reason))
    scan.regions.sort(key=lambda region: region.offset)


def quarantine_dir(data_dir: Path) -> Path:
    """Return the folder damaged WARC bytes are copied to: `quarantine/` in the data folder."""
    return DataLayout(Path(data_dir)).root / "quarantine"


def set_aside(data_dir: Path, finding: RegionFinding) -> Path:
    """Copy a damaged stretch into quarantine and append its entry to the report; return the copy's path."""
    folder = quarantine_dir(data_dir)
    folder.mkdir(parents=True, exist_ok=True)
    region = finding.region
    copy = folder / f"{finding.file}@{region.offset}+{region.length}.bin"
    digest = _copy_bytes(DataLayout(Path(data_dir)).warc / finding.file, region, copy)
    place = (finding.file, region.offset, region.length)
    _append_entry(folder, *place, region.kind, region.reason, digest, copy.name, finding.captures)
    return copy


def _append_entry(
    folder: Path,
    file: str,
    offset: int,
    length: int,
    kind: str,
    reason: str,
    sha256: str,
    copy: str | None,
    losses: Iterable[Loss],
) -> None:
    """Append one entry to the quarantine report, synced."""
    entry = {
        "file": file,
        "offset": offset,
        "length": length,
        "kind": kind,
        "reason": reason,
        "sha256": sha256,
        "copy": copy,
        "captures": [{"id": c.capture_id, "url": c.url, "record_ids": list(c.record_ids)} for c in losses],
        "set_aside_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    with open(folder / REPORT, "a", encoding="utf-8") as report:
        report.write(json.dumps(entry, sort_keys=True) + "\n")
        report.flush()
        os.fsync(report.fileno())


def record_gone(data_dir: Path, file: str, offset: int, losses: Iterable[Loss]) -> None:
    """Append to the report captures whose WARC records are gone with no damaged stretch left to set aside.

    Bytes cut out of a file on record boundaries take records without a trace (and a cut that
    splices the head of one record onto the rest of another leaves a record that reads whole).
    The entry (length 0, no copy) names the captures and their record ids, so a later repair or
    verify knows what is left of them (a metadata or conversion record) as theirs, not as new.
    `offset` is where the catalog had the first of them.
    """
    folder = quarantine_dir(data_dir)
    folder.mkdir(parents=True, exist_ok=True)
    reason = "records gone from the file (bytes cut out): nothing left to set aside"
    _append_entry(folder, file, offset, 0, "gone", reason, hashlib.sha256(b"").hexdigest(), None, losses)


def set_aside_regions(data_dir: Path) -> list[dict[str, object]]:
    """Return the report's entries: every stretch an earlier repair set aside."""
    report = quarantine_dir(data_dir) / REPORT
    if not report.exists():
        return []
    entries = []
    for line in report.read_text(encoding="utf-8").splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue  # a line cut by a kill as it was written: its region is simply set aside again
        if isinstance(entry, dict):
            entries.append(entry)
    return entries


def region_digest(path: Path, region: DamagedRegion) -> str:
    """Return the SHA-256 of a stretch of a file, read in bounded pieces."""
    return _copy_bytes(path, region, None)


def known_losses(entries: Iterable[dict[str, object]]) -> set[str]:
    """Return the WARC record ids of every capture the report says was lost to damage."""
    found: set[str] = set()
    for entry in entries:
        for capture in entry.get("captures") or []:  # type: ignore[attr-defined]
            found.update(str(i) for i in capture.get("record_ids") or [])
    return found


def _copy_bytes(source: Path, region: DamagedRegion, target: Path | None) -> str:
    digest = hashlib.sha256()
    with open(source, "rb") as handle:
        out = open(target, "wb") if target is not None else None  # noqa: SIM115 - closed below
        try:
            position = region.offset
            while position < region.end:
                chunk = os.pread(handle.fileno(), min(1 << 20, region.end - position), position)
                if not chunk:
                    break
                digest.update(chunk)
                if out is not None:
                    out.write(chunk)
                position += len(chunk)
            if out is not None:
                out.flush()
                os.fsync(out.fileno())
        finally:
            if out is not None:
                out.close()
    return digest.hexdigest()
