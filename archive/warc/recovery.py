"""Recovering WARC files a killed writer left open: cut the torn tail, hand the file on to be re-indexed."""

from __future__ import annotations

import fcntl
import os
from collections.abc import Callable
from pathlib import Path

from archive.warc.reader import WARC_READ_ERRORS, scan_records
from archive.warc.writer import open_marker

__all__ = ["cut_torn_tail", "open_files", "recover_open_files"]


def cut_torn_tail(path: Path) -> int:
    """Cut a WARC file back to the end of its last complete record; return how many bytes went.

    Only a tail is ever cut: the bytes of complete records are never touched.
    """
    end = 0
    with open(path, "rb") as handle:
        try:
            for _, record_end, _ in scan_records(handle, parse_http=False):
                end = record_end
        except WARC_READ_ERRORS:
            pass
    size = path.stat().st_size
    if end < size:
        with open(path, "r+b") as handle:
            handle.truncate(end)
            handle.flush()
            os.fsync(handle.fileno())
    return size - end


def recover_open_files(directory: Path, reindex: Callable[[Path], object] | None = None) -> list[tuple[str, int]]:
    """Repair files a killed writer left open (marked `.NAME.open`): [(file name, bytes cut)].

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
