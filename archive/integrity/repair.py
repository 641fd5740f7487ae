"""Repair an archive: cut torn tails of files killed runs left open, set damage aside, re-index what the catalog lacks.

Nothing here deletes a complete WARC record, or any byte of a closed file. A file a killed
writer left open loses only its torn tail (what follows its last complete record). In every
other file, damage is read past (`scan_resync`), copied to `quarantine/` with a report of what
it held (`damage.set_aside`) and left in place: offsets in the catalog, in the metadata records,
in CDXJ indexes and WACZ packages keep pointing at the same bytes. The catalog gains rows for
complete captures it lacks, each pointing at records read back whole, and loses the rows of
captures whose records are damaged or gone (listed as not mended).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from archive.catalog.facade import Catalog
from archive.catalog.runs import died_line
from archive.integrity.damage import (
    FileScan,
    Loss,
    RegionFinding,
    known_losses,
    mark_set_aside,
    record_gone,
    scan_file,
    set_aside,
    set_aside_regions,
    unreadable_reason,
)
from archive.integrity.verify import Report, verify
from archive.layout import DataLayout
from archive.warc.recovery import open_files, recover_open_files
from scraper import Record, WarcLocation, iso_utc

__all__ = ["RepairReport", "orphaned_records", "reindex_file", "repair"]

_BATCH = 200
_KEPT = ("conversion", "metadata")  # the records a capture is rebuilt from
_ROLES = ("warc_request", "warc_raw", "warc_conversion", "warc_metadata")  # a capture's records, in provenance


@dataclass
class RepairReport:
    """What `repair` did (with `dry_run`: would do): torn tails cut, damage set aside, captures re-indexed, dropped."""

    dry_run: bool = False
    files: int = 0
    cut: dict[str, int] = field(default_factory=dict)
    reindexed: int = 0
    revisits: int = 0  # revisit records the catalog's revisits table did not name (a killed run's, older ones)
    quarantined: list[str] = field(default_factory=list)  # damaged stretches set aside now, one line each
    quarantined_bytes: int = 0
    set_aside_earlier: int = 0  # damaged stretches an earlier repair set aside
    relocated: int = 0  # captures whose records moved in their file (bytes cut out or inserted before them)
    forgotten: list[str] = field(default_factory=list)  # captures whose WARC records were lost (damaged or gone)
    unmendable: list[str] = field(default_factory=list)
    interrupted: list[str] = field(default_factory=list)  # runs whose process died, marked interrupted


@dataclass
class _Orphans:
    records: list[Record] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    losses: list[tuple[int, Loss]] = field(default_factory=list)  # (offset in a damaged stretch, the capture)


def orphaned_records(path: Path, catalog: Catalog, scan: FileScan | None = None) -> tuple[list[Record], list[str]]:
    """Return the complete captures in WARC file `path` that the catalog lacks, and why others could not be read.

    A capture is complete when its metadata record (our JSON of the record) and the
    conversion and raw records it names were all read back whole at the places it names.
    """
    found = _orphans(scan or scan_file(path, keep=_KEPT), catalog)
    damaged = [f"{path.name}@{offset}: capture {loss}: a record it names is damaged" for offset, loss in found.losses]
    return found.records, found.problems + damaged


def _orphans(scan: FileScan, catalog: Catalog, lost: set[str] | frozenset[str] = frozenset()) -> _Orphans:
    """Return the complete captures of `scan` the catalog lacks, the others' problems, and their losses.

    A capture that cannot be rebuilt and that names a record of `lost` (the record ids of
    captures an earlier repair reported lost) is what is left of it: no new problem.
    """
    name = scan.path.name
    found = {r.record_id: WarcLocation(name, r.offset, r.end - r.offset, r.record_id) for r in scan.records}
    texts = {r.record_id: r.block.decode("utf-8", "replace") for r in scan.records if r.rec_type == "conversion"}
    candidates: dict[str, tuple[dict[str, object], WarcLocation]] = {}
    for kept in scan.records:
        meta = _record_json(kept.block) if kept.rec_type == "metadata" else None
        if meta is not None:
            candidates[str(meta["id"])] = (meta, found[kept.record_id])
    known = catalog.known_captures(list(candidates))
    anchors = {record_id: offset for meta, _ in candidates.values() for record_id, offset in _named(meta).items()}
    result = _Orphans()
    for capture_id, (meta, where) in sorted(candidates.items()):
        if capture_id in known:
            continue
        record, why = _rebuild(meta, where, found, texts)
        if record is not None:
            result.records.append(record)
            continue
        damaged = _damaged_place(meta, scan, anchors)
        if damaged is None and lost.isdisjoint(_named(meta)):
            result.problems.append(f"{name}@{where.offset}: capture {capture_id}: {why}")
        elif damaged is not None:
            result.losses.append((damaged, Loss(capture_id, str(meta.get("source_url", "")), tuple(_named(meta)))))
    return result


def reindex_file(path: Path, catalog: Catalog, scan: FileScan | None = None) -> tuple[int, list[str]]:
    """Put the captures of `path` the catalog lacks into it, and name its revisits; return (how many, problems)."""
    scan = scan or scan_file(path, keep=_KEPT)
    records, problems = orphaned_records(path, catalog, scan)
    added = _add(catalog, records)
    catalog.add_revisits(unnamed_revisits(scan, catalog))
    return added, problems


def unnamed_revisits(scan: FileScan, catalog: Catalog) -> list[dict[str, object]]:
    """Return the rows of the revisits in `scan` that the catalog's revisits table lacks and whose original it holds.

    A run killed before its commit, or one made before the table was, left revisit records no
    row names: replayed again, their visits would be written again.
    """
    visits = [found for found in scan.records if found.visit is not None]
    originals = catalog.captures_of_raw_records({found.visit[3] for found in visits if found.visit is not None})
    named = {
        (capture_id, at) for capture_id, seen in catalog.revisits_of(set(originals.values())).items() for at, _ in seen
    }
    rows: dict[tuple[str, str], dict[str, object]] = {}
    for found in visits:
        assert found.visit is not None
        url, date, profile, refers = found.visit
        capture_id, when = originals.get(refers), _iso_time(date)
        if capture_id is None or when is None or (capture_id, when) in named:
            continue
        rows[(url, when)] = {
            "capture_id": capture_id,
            "url": url,
            "captured_at": when,
            "crawl_id": None,  # the record names no run (its file's warcinfo does, as its isPartOf)
            "profile": profile.rstrip("/").rsplit("/", 1)[-1] or "identical-payload-digest",
            "record_id": found.record_id,
        }
    return list(rows.values())


def _iso_time(date: str) -> str | None:
    """Return a WARC-Date as the catalog writes a time (iso_utc), or None when it is no date."""
    try:
        return iso_utc(datetime.fromisoformat(date.replace("Z", "+00:00")))
    except ValueError:
        return None


def _add(catalog: Catalog, records: list[Record]) -> int:
    catalog.ensure_crawls(r.provenance.crawl_id for r in records if r.provenance.crawl_id)
    added = 0
    for start in range(0, len(records), _BATCH):
        added += catalog.add_records(records[start : start + _BATCH])
    return added


def repair(data_dir: Path, catalog: Catalog, *, dry_run: bool = False) -> RepairReport:
    """Repair every WARC file under `data_dir` that no live process is writing; return what was done.

    With `dry_run`, nothing changes (no file, no catalog row, no quarantine): the report says
    what a repair would do.
    """
    report = RepairReport(dry_run=dry_run)
    directory = DataLayout(data_dir).warc

    def mend(path: Path) -> None:
        added, problems = reindex_file(path, catalog)
        report.reindexed += added
        report.unmendable.extend(problems)

    done: set[str] = set()
    for name, cut in recover_open_files(directory, None if dry_run else mend, dry_run=dry_run):
        report.files += 1  # a file a killed writer left open: its torn tail cut, its captures re-indexed
        done.add(name)
        if cut:
            report.cut[name] = cut
    live = set(open_files(directory)) - done
    scans: dict[str, FileScan] = {}
    losses: dict[str, list[tuple[int, Loss]]] = {}
    entries = set_aside_regions(data_dir)
    lost_before = known_losses(entries)
    for path in DataLayout(data_dir).warc_files():
        if path.name in live:
            continue
        try:
            scans[path.name] = scan = scan_file(path, keep=_KEPT)
        except OSError as exc:  # verify (below) names it; its captures stay as they are
            report.unmendable.append(f"{path.name}: cannot be read: {unreadable_reason(exc)}")
            continue
        mark_set_aside(scan, entries)  # bytes set aside before that still parse stay set aside
        if path.name in done and not dry_run:
            continue
        report.files += path.name not in done
        found = _orphans(scan, catalog, lost_before)
        report.reindexed += len(found.records) if dry_run else _add(catalog, found.records)
        unnamed = unnamed_revisits(scan, catalog)
        report.revisits += len(unnamed)
        if not dry_run:
            catalog.add_revisits(unnamed)
        report.unmendable.extend(found.problems)
        losses[path.name] = found.losses
    checked = verify(data_dir, catalog, scans)
    moved = _relocated(catalog, checked.dangling, scans)
    report.relocated = len(moved)
    _set_damage_aside(data_dir, checked, losses, report, {record.id for record in moved})
    # What the catalog points at and is not there whole any more leaves the catalog; a capture
    # whose records all read whole at other offsets (bytes cut out or inserted before them) is
    # put back pointing at them.
    lost = checked.dangling - {record.id for record in moved}
    if not dry_run:
        _record_gone(data_dir, catalog, checked, lost)
        catalog.forget_captures(checked.dangling)
        _add(catalog, moved)
    report.forgotten = sorted(lost)
    # Last, with the captures re-indexed: a run whose process died is counted from what it archived.
    report.interrupted = [died_line(run) for run in catalog.close_dead_crawls(dry_run=dry_run)]
    return report


def _record_gone(data_dir: Path, catalog: Catalog, checked: Report, lost: set[str]) -> None:
    """Report the lost captures no damaged stretch holds (their records cut out), one entry per file."""
    held = {loss.capture_id for finding in checked.regions for loss in finding.captures}
    gone: dict[str, list[tuple[int, Loss]]] = {}
    for capture_id in sorted(lost - held):
        record = catalog.get(capture_id)
        if record is None:
            continue
        places = [p for p in (getattr(record.provenance, role) for role in _ROLES) if p is not None]
        if not places:
            continue
        first = min(places, key=lambda p: (p.file, p.offset))
        loss = Loss(capture_id, record.source_url, tuple(p.record_id for p in places))
        gone.setdefault(first.file, []).append((first.offset, loss))
    for file, losses in sorted(gone.items()):
        record_gone(data_dir, file, min(offset for offset, _ in losses), [loss for _, loss in losses])


def _relocated(catalog: Catalog, dangling: set[str], scans: dict[str, FileScan]) -> list[Record]:
    """Return the dangling captures whose every WARC record reads whole elsewhere, pointing there."""
    where = {
        r.record_id: WarcLocation(name, r.offset, r.end - r.offset, r.record_id)
        for name, scan in scans.items()
        for r in scan.records
    }
    moved = []
    for capture_id in sorted(dangling):
        record = catalog.get(capture_id)
        if record is None:
            continue
        named = {role: getattr(record.provenance, role) for role in _ROLES}
        now = {role: where.get(place.record_id) for role, place in named.items() if place is not None}
        if all(place is not None and place.file == named[role].file for role, place in now.items()):
            moved.append(record.with_provenance(**now))
    return moved


def _set_damage_aside(
    data_dir: Path, checked: Report, losses: dict[str, list[tuple[int, Loss]]], report: RepairReport, moved: set[str]
) -> None:
    """Set each damaged stretch found for the first time aside, and list it (with its captures) as not mended."""
    for finding in checked.regions:
        if finding.set_aside:
            report.set_aside_earlier += 1
            continue
        if finding.torn_tail:
            continue  # a live writer's file, or (dry run) a killed one's tail, which is cut and not kept
        finding.captures = [c for c in finding.captures if c.capture_id not in moved]
        _add_losses(finding, losses.get(finding.file, []))
        if not report.dry_run:
            set_aside(data_dir, finding)
        report.quarantined.append(finding.line())
        report.quarantined_bytes += finding.region.length
        report.unmendable.append(finding.line())


def _add_losses(finding: RegionFinding, losses: list[tuple[int, Loss]]) -> None:
    held = {c.capture_id for c in finding.captures}
    for offset, loss in losses:
        if finding.region.offset <= offset < finding.region.end and loss.capture_id not in held:
            finding.captures.append(loss)
            held.add(loss.capture_id)


def _damaged_place(meta: dict[str, object], scan: FileScan, anchors: dict[str, int]) -> int | None:
    """Return the offset (now) of a damaged stretch holding a record this metadata names, if one does."""
    for offset in _named(meta).values():
        region = scan.region_of(anchors, offset)
        if region is not None:
            return region.offset
    return None


def _named(meta: dict[str, object]) -> dict[str, int]:
    """Return the records a metadata record names, with the offsets they had: record id -> offset."""
    provenance = meta.get("provenance")
    places = (
        [provenance.get(role) for role in ("warc_request", "warc_raw", "warc_conversion")]
        if isinstance(provenance, dict)
        else []
    )
    return {
        str(p["record_id"]): p["offset"] for p in places if isinstance(p, dict) and isinstance(p.get("offset"), int)
    }


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
    """Return the record a metadata record describes, if every record it names is here whole.

    A record found whole by its id at another offset than the metadata names (bytes were cut
    out of the file or inserted before it) is taken where it is now.
    """
    provenance = meta["provenance"]
    assert isinstance(provenance, dict)
    places: dict[str, WarcLocation] = {}
    for role in ("warc_request", "warc_raw", "warc_conversion"):
        named = provenance.get(role)
        if named is None:
            if role == "warc_request":
                continue
            return None, f"its metadata names no {role[5:]} record"
        located = found.get(str(named.get("record_id"))) if isinstance(named, dict) else None
        if located is None:
            return None, f"its {role[5:]} record is not where its metadata says"
        places[role] = located
    conversion = provenance["warc_conversion"]
    assert isinstance(conversion, dict)
    text = texts.get(str(conversion["record_id"]))
    if text is None or hashlib.sha256(text.encode("utf-8")).hexdigest() != meta.get("text_sha256"):
        return None, "its conversion record's text does not match the text digest of its metadata"
    try:
        record = Record.from_dict(dict(meta), text=text)
    except (TypeError, ValueError) as exc:
        return None, f"its metadata does not describe a record: {exc}"
    return record.with_provenance(warc_metadata=where, **places), ""
