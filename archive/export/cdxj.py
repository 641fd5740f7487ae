"""A CDXJ index of WARC files, for pywb and the WACZ tools: every line under a page's URL replays the page.

cdxj-indexer (the Webrecorder indexer pywb and py-wacz use) reads the records; two things it
would list are changed, so a replay tool given the index serves what was captured:

- Derived records (`conversion`: the extracted text, `metadata`: the record as JSON) are listed
  only under their own `urn:` address (`urn:text:URL`, `urn:record:URL`, as this archive writes
  them and browsertrix-crawler writes its own). Older archives wrote them at the page's URL with
  a later date, where every indexer lists them as newer captures of the page and replay serves
  the JSON instead of the page: there they are left out of the index (they stay in the WARC).
- A `server-not-modified` revisit whose block holds the 304 status line (older archives) replays
  as an empty 304 (pywb returns a 3xx revisit as it is). Its line points at the original
  response instead (file, offset, length, media type, status and digest of the record the
  revisit refers to) at the revisit's own time, so the page is served at that time too.
  Revisits with an empty block, or with the 200 headers of identical bytes, are listed as they
  are: replay tools resolve them to the original themselves.

Request records are not listed (cdxj-indexer leaves them out too); with post_append a POST
or PUT response is keyed by its method and body, which is what pywb looks a POST up by.

Each file is read first by the archive's own reader (`archive.warc.reader.scan_resync`, as
`scraper verify` reads it): cdxj-indexer is then given only the stretches of complete records,
so damage (bad bytes, a file cut short, a record whose digest fails) gets no line and costs no
line after it. What was left out, and the files that could not be read, come back as FileDamage.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from cdxj_indexer.main import CDXJIndexer, SortingWriter
from warcio.limitreader import LimitReader
from warcio.timeutils import iso_date_to_timestamp

from archive.export import output_file
from archive.export._pages import instant
from archive.warc.reader import WARC_READ_ERRORS, DamagedRegion, digest_damage, scan_resync

__all__ = ["FileDamage", "IndexSummary", "build_cdxj", "write_cdxj"]

_INDEXED = frozenset({"response", "revisit", "resource", "metadata", "conversion"})
_DERIVED = frozenset({"metadata", "conversion"})
_NOT_MODIFIED = "/revisit/server-not-modified"
# What cdxj-indexer may raise on a record the archive's reader read whole: the record is left out.
# (An OSError is no record's fault: reading the file, or spilling the sort to disk, failed.)
_UNINDEXABLE = tuple(error for error in WARC_READ_ERRORS if not issubclass(error, OSError))


@dataclass(frozen=True, slots=True)
class FileDamage:
    """A WARC file read in part: the damaged stretches left out; or, `unread`, why none of it was read."""

    file: Path
    regions: tuple[DamagedRegion, ...] = ()
    unread: str = ""  # "cannot be read: Permission denied", say

    def line(self) -> str:
        """Return the one line naming the file and what is wrong: each stretch (offset, length, why), or the reason."""
        if self.unread:
            return f"{self.file}: {self.unread}"
        stretches = "; ".join(f"offset {r.offset}, {r.length} bytes: {r.kind}: {r.reason}" for r in self.regions)
        return f"{self.file}: {stretches}"


@dataclass(frozen=True, slots=True)
class IndexSummary:
    """What an index holds: its lines, the revisits whose original was not among the files, what was left out."""

    lines: int
    redirected_revisits: int
    unresolved_revisits: int
    damaged: tuple[FileDamage, ...] = ()  # files indexed in part (damaged stretches left out), or not at all


def build_cdxj(warc_dir: Path, out: Path, files: Iterable[Path], *, make_parent: bool = False) -> IndexSummary:
    """Index WARC `files` (under `warc_dir`) into a sorted CDXJ file at `out`; return what it holds.

    `filename` in each line is relative to `warc_dir`; `offset` and `length` are those of the
    record's gzip member. The file is replaced only when complete (archive.export.output_file);
    its folder is made only when `make_parent`.
    """
    with output_file(out, text=True, make_parent=make_parent) as handle:
        return write_cdxj(files, handle, warc_dir)


def write_cdxj(files: Iterable[Path], out: IO[str], warc_dir: Path) -> IndexSummary:
    """Write the sorted CDXJ lines of WARC `files` (names relative to `warc_dir`) to `out`; return what it holds."""
    names = sorted(str(p) for p in files)
    counted = _CountingWriter(out)
    if not names:
        return IndexSummary(0, 0, 0)
    sorter = SortingWriter(counted)
    indexer = _ReplayIndexer(sorter, names, str(warc_dir))
    try:
        indexer.process_all()
    finally:
        indexer.close()
    redirected = 0
    for line in indexer.redirected_revisits():
        sorter.write(line)
        redirected += 1
    sorter.flush()
    return IndexSummary(counted.lines, redirected, indexer.unresolved, tuple(indexer.damaged))


class _CountingWriter:
    """A text sink that counts the lines written through it."""

    def __init__(self, out: IO[str]) -> None:
        self.out = out
        self.lines = 0

    def write(self, line: str) -> None:
        self.out.write(line)
        self.lines += 1

    def flush(self) -> None:
        self.out.flush()


@dataclass(frozen=True, slots=True)
class _PendingRevisit:
    """A 304 revisit that must point at its original: where to list it and what it refers to."""

    urlkey: str
    timestamp: str
    url: str
    refers_to: str | None
    refers_to_uri: str | None
    refers_to_date: datetime | None


class _ReplayIndexer(CDXJIndexer):  # type: ignore[misc]  # cdxj-indexer has no type information
    """cdxj-indexer with derived records kept off page URLs and 304 revisits pointed at their originals."""

    def __init__(self, output: SortingWriter, inputs: list[str], dir_root: str) -> None:
        super().__init__(output=output, inputs=inputs, post_append=True, dir_root=dir_root)
        self._raw_by_id: dict[str, dict[str, str]] = {}
        self._raw_by_capture: dict[tuple[str, datetime], dict[str, str]] = {}
        self._pending: list[_PendingRevisit] = []
        self.unresolved = 0
        self.damaged: list[FileDamage] = []

    def process_all(self) -> None:
        """Index the complete records of each file, a stretch at a time; note what was left out, and why."""
        for name in self.inputs:
            try:
                handle = open(name, "rb")  # noqa: SIM115 - closed below, after its stretches are indexed
            except OSError as exc:
                self.damaged.append(FileDamage(Path(name), unread=f"cannot be read: {exc.strerror or exc}"))
                continue
            with handle:
                self._index_file(handle, name)

    def _index_file(self, handle: IO[bytes], name: str) -> None:
        try:
            stretches, regions = _intact(handle)
        except OSError as exc:  # an I/O error part way: nothing of the file is indexed
            self.damaged.append(FileDamage(Path(name), unread=f"cannot be read: {exc.strerror or exc}"))
            return
        for start, end in stretches:
            try:
                self.process_one(_Stretch(handle, start, end), self.output, name)
            except _UNINDEXABLE as exc:
                regions.append(DamagedRegion(start, end - start, f"cdxj-indexer cannot read it ({type(exc).__name__})"))
        if regions:
            self.damaged.append(FileDamage(Path(name), tuple(sorted(regions, key=lambda r: r.offset))))

    def close(self) -> None:
        """Close the spool cdxj-indexer opens to digest a record that names no payload digest (it never does)."""
        if self.writer is not None:
            self.writer.out.close()

    def filter_record(self, record: Any) -> bool:
        """Return whether a record gets a line: captures, and derived records at their own urn: address."""
        kind = record.rec_type
        if kind not in _INDEXED:
            return False
        headers = record.rec_headers
        if kind != "revisit" and headers.get_header("Content-Type") == "application/warc-fields":
            return False  # a 304's own headers, crawl logs: about a capture, not one
        if kind in _DERIVED:
            return bool((headers.get_header("WARC-Target-URI") or "").startswith("urn:"))
        return True

    def _write_line(self, out: Any, index: dict[str, str], record: Any, filename: str) -> None:
        headers = record.rec_headers
        if record.rec_type in ("response", "resource"):
            self._remember(index, headers)
        elif record.rec_type == "revisit" and _replays_as_its_own_status(record):
            url = index.get("url") or headers.get_header("WARC-Target-URI")
            self._pending.append(
                _PendingRevisit(
                    urlkey=getattr(record, "urlkey", None) or self.get_url_key(url),
                    timestamp=iso_date_to_timestamp(headers.get_header("WARC-Date")),
                    url=url,
                    refers_to=headers.get_header("WARC-Refers-To"),
                    refers_to_uri=headers.get_header("WARC-Refers-To-Target-URI"),
                    refers_to_date=instant(headers.get_header("WARC-Refers-To-Date")),
                )
            )
            return
        super()._write_line(out, index, record, filename)

    def _remember(self, index: dict[str, str], headers: Any) -> None:
        entry = dict(index)
        record_id = headers.get_header("WARC-Record-ID")
        if record_id:
            self._raw_by_id[record_id] = entry
        when = instant(headers.get_header("WARC-Date"))
        if when is not None:
            self._raw_by_capture[(headers.get_header("WARC-Target-URI"), when)] = entry

    def redirected_revisits(self) -> Iterator[str]:
        """Yield a line for each 304 revisit: its URL and time, the original record's place and fields."""
        for pending in self._pending:
            original = self._original(pending)
            if original is None:
                self.unresolved += 1  # left out: the capture before it stays the one replayed
                continue
            fields = {"url": pending.url, **{k: v for k, v in original.items() if k != "url"}}
            yield f"{pending.urlkey} {pending.timestamp} {json.dumps(fields)}\n"

    def _original(self, pending: _PendingRevisit) -> dict[str, str] | None:
        if pending.refers_to and pending.refers_to in self._raw_by_id:
            return self._raw_by_id[pending.refers_to]
        if pending.refers_to_uri and pending.refers_to_date:
            return self._raw_by_capture.get((pending.refers_to_uri, pending.refers_to_date))
        return None


def _intact(handle: IO[bytes]) -> tuple[list[tuple[int, int]], list[DamagedRegion]]:
    """Return where a WARC file's complete records lie (start, end; neighbours merged) and its damaged stretches.

    Read as `scraper verify` reads it: a record whose digests fail is a damaged stretch too.
    """
    stretches: list[tuple[int, int]] = []
    regions: list[DamagedRegion] = []
    for item in scan_resync(handle, check_digests=True, strict=True):
        if isinstance(item, DamagedRegion):
            regions.append(item)
            continue
        start, end, record = item
        if (damage := digest_damage(start, end, record)) is not None:
            regions.append(damage)
        elif stretches and stretches[-1][1] == start:
            stretches[-1] = (stretches[-1][0], end)
        else:
            stretches.append((start, end))
    return stretches, regions


class _Stretch(LimitReader):  # type: ignore[misc]  # warcio has no type information
    """Bytes start..end of an open WARC file, read from `start`; tell() counts from the file's start, as offsets do."""

    def __init__(self, handle: IO[bytes], start: int, end: int) -> None:
        handle.seek(start)
        super().__init__(handle, end - start)
        self.start = start

    def tell(self) -> int:
        return self.start + int(super().tell())


def _replays_as_its_own_status(record: Any) -> bool:
    """Return whether a revisit is a server-not-modified one whose block holds a 3xx status line."""
    profile = record.rec_headers.get_header("WARC-Profile") or ""
    if not profile.endswith(_NOT_MODIFIED) or record.http_headers is None:
        return False
    return bool(record.http_headers.get_statuscode().startswith("3"))
