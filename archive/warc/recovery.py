"""Recovering WARC files a killed writer left open: cut the torn tail, hand the file on to be re-indexed.

Only a file marked open (`.NAME.open`) may lose bytes, and only its torn tail: what follows its
last complete record. Damage anywhere else, and in every closed file, is read past
(`reader.scan_resync`) and left in place for `archive.integrity` to set aside and report.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Callable
from pathlib import Path

from archive.warc.reader import DamagedRegion, scan_resync
from archive.warc.writer import open_marker

__all__ = ["cut_torn_tail", "open_files", "recover_open_files", "torn_tail"]


def torn_tail(path: Path) -> DamagedRegion | None:
    """Return the damaged stretch a WARC file ends with (after its last complete record), or None."""
    last = None
    with open(path, "rb") as handle:
        for item in scan_resync(handle, parse_http=False):
            last = item
    return last if isinstance(last, DamagedRegion) else None


def cut_torn_tail(path: Path, *, dry_run: bool = False) -> int:
    """Cut a WARC file back to the end of its last complete record; return how many bytes went (would go).

    Only a tail is ever cut: damage before the last complete record is read past and kept,
    and the bytes of complete records are never touched. Call it only on a file a killed
    writer left open: a closed file's damaged end is set aside, not cut (archive.integrity).
    """
    tail = torn_tail(path)
    if tail is None:
        return 0
    size, end = path.stat().st_size, tail.offset
    if end < size and not dry_run:
        with open(path, "r+b") as handle:
            handle.truncate(end)
            handle.flush()
            os.fsync(handle.fileno())
    return size - end


def recover_open_files(
    directory: Path, reindex: Callable[[Path], object] | None = None, *, dry_run: bool = False
) -> list[tuple[str, int]]:
    """Repair files a killed writer left open (marked `.NAME.open`): [(file name, bytes cut)].

    With `dry_run`, nothing changes: the list says what would be cut, and `reindex` is not called.

    Each file is cut back to its last complete record, then handed to `reindex` (which puts
    what no catalog row points at into the catalog); only when that succeeds does the marker
    go. A file another live process is writing (its marker is locked) is left alone; a file
    that holds nothing at all (the writer died before its first record) is removed.
    """
    repaired = []
    for name, marker in sorted(open_files(directory).items()):
        try:
            handle = open(marker, "rb")  # noqa: SIM115 - closed below, after the unlink
        except FileNotFoundError:  # its writer closed it meanwhile
            continue
        with handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue
            target = directory / name
            if dry_run:
                if target.exists():
                    repaired.append((name, cut_torn_tail(target, dry_run=True)))
                continue
            if target.exists():
                repaired.append((name, cut_torn_tail(target)))
                if target.stat().st_size == 0:
                    target.unlink()
                elif reindex is not None:
                    reindex(target)
            marker.unlink(missing_ok=True)
    return repaired


def open_files(directory: Path) -> dict[str, Path]:
    """Return the WARC files in `directory` marked open (being written, or left by a killed writer): name -> marker."""
    markers = {marker.name[1 : -len(".open")]: marker for marker in directory.glob(".*.open")}
    return {name: marker for name, marker in markers.items() if open_marker(directory, name) == marker}
