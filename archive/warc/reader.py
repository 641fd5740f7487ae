"""Reading WARC files back: every complete record with its offsets, damaged stretches between them, one payload.

A reader never trusts a record because the one before it read whole: each record is read on
its own, inside the bounds of its own gzip member (.warc.gz) or of the file (.warc), so bad
bytes cost the record that holds them and no other. After damage the reader resynchronizes
at the next record: the next gzip member that inflates whole and holds one complete WARC
record, or in an uncompressed file the next `WARC/1.0` / `WARC/1.1` line that starts one.
Every inflation is bounded: output is taken in slices of `_INFLATE_SLICE` bytes and dropped.
"""

from __future__ import annotations

import io
import os
import re
import zlib
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from warcio.archiveiterator import ArchiveIterator
from warcio.exceptions import ArchiveLoadFailed
from warcio.recordloader import ArcWarcRecord

from archive.errors import ArchiveError
from archive.warc._disk import os_reason
from scraper import WarcLocation

__all__ = [
    "ARC_SUFFIXES",
    "ARC_VERSION_UNREAD",
    "MANY_RECORDS_IN_A_MEMBER",
    "WARC_READ_ERRORS",
    "DamagedRegion",
    "MalformedRecord",
    "TornRecord",
    "WarcReadError",
    "digest_damage",
    "read_payload",
    "scan_records",
    "scan_resync",
    "short_reason",
    "warc_records",
]


class WarcReadError(ArchiveError):
    """A WARC record could not be read back where the catalog says it is."""


class TornRecord(ArchiveError):
    """A WARC record stops before its Content-Length says it ends."""


class MalformedRecord(ArchiveError):
    """warcio failed on a record in a way of its own (a missing header it assumes, say): the record is unreadable."""


# What reading a damaged WARC file raises: ours, warcio's, and the gzip and I/O layers'.
_MAX_REASON = 160  # characters of a reason: an exception's own text may quote a whole line of the input
WARC_READ_ERRORS = (TornRecord, MalformedRecord, ArchiveLoadFailed, EOFError, OSError, ValueError, zlib.error)

_GZIP_MAGIC = b"\x1f\x8b\x08"
# A .warc.gz gzipped whole (`gzip file.warc`) rather than a member per record: sound, but no record
# can be read at its offset without inflating all before it.
MANY_RECORDS_IN_A_MEMBER = "its gzip member holds more than one record"
_WARC_LINES = (b"WARC/1.0\r\n", b"WARC/1.1\r\n")
# An ARC file (the format WARC replaced) opens with its filedesc:// record; each record's first
# line is its URL and four fields more, and a newline follows its content.
_ARC_OPENING = b"filedesc://"
_ARC_LINES = (b"\nhttp://", b"\nhttps://", b"\ndns:", b"\nftp://")
ARC_SUFFIXES = (".arc", ".arc.gz")
_ARC_HEAD = 1024  # enough of an ARC file's opening to hold its filedesc line and version
ARC_VERSION_UNREAD = "ARC version"  # a version other than 1: named, not read
_TOKEN = r"[!#$%&'*+.^_`|~0-9A-Za-z-]+"  # a field name (RFC 9110, 5.6.2)
_FIELD_NAME = re.compile(_TOKEN)
_FIELD_LINE = re.compile(_TOKEN.encode() + b":")  # a field's line, or a folded one (space, tab)
_HEADER_MOST = 1 << 16
_RECORD_ID = re.compile(r"<[!-;=?-~]+>")  # printable ASCII, no space, "<" or ">" inside (a URI)
_INFLATE_SLICE = 1 << 20  # the most a gzip member may inflate to at once while its end is sought
_READ = 1 << 16


@dataclass(frozen=True)
class DamagedRegion:
    """Bytes offset..offset+length of a WARC file that hold no complete record.

    `cut_short`: the file ends inside a record (its end is missing, the bytes there are
    sound); otherwise the bytes themselves are bad (bit rot, a cut-out, inserted garbage).
    """

    offset: int
    length: int
    reason: str
    cut_short: bool = False

    @property
    def end(self) -> int:
        return self.offset + self.length

    @property
    def kind(self) -> str:
        return "cut short" if self.cut_short else "damaged (bad bytes)"


ScanItem = tuple[int, int, ArcWarcRecord] | DamagedRegion


def digest_damage(start: int, end: int, record: ArcWarcRecord) -> DamagedRegion | None:
    """Return the record scan_resync read whole at start..end as a damaged stretch when its digests fail, else None."""
    if record.digest_checker.passed is not False:
        return None
    why = "; ".join(map(str, record.digest_checker.problems)) or "digest mismatch"
    return DamagedRegion(start, end - start, f"record {record.rec_headers.get_header('WARC-Record-ID') or ''}: {why}")


def warc_records(iterator: ArchiveIterator) -> Iterator[ArcWarcRecord]:
    """Yield warcio's records; any error of warcio's own on a malformed record becomes a WARC read error."""
    while True:
        try:
            record = next(iterator)
        except StopIteration:
            return
        except WARC_READ_ERRORS:
            raise
        except Exception as exc:  # warcio trips over headers it takes for granted (AttributeError, TypeError...)
            raise MalformedRecord(f"malformed record: {type(exc).__name__}: {exc}") from exc
        yield record


def scan_records(
    handle: IO[bytes], *, check_digests: bool = False, parse_http: bool = True, keep: Collection[str] = ()
) -> Iterator[tuple[int, int, ArcWarcRecord]]:
    """Yield (offset, end offset, record) for each complete record, reading every payload to its end.

    With `check_digests`, each record's `digest_checker.passed` says whether its digests
    matched (None: it carries none). `parse_http=False` leaves blocks unparsed (no
    `http_headers`), so their bytes can be counted against Content-Length: the full check.
    Records whose type is in `keep` carry their block (after any HTTP headers) as `.block`.
    Raises TornRecord (the file ends inside a record) or MalformedRecord (bad bytes) at the
    first damaged record; `scan_resync` reads on past damage instead.
    """
    for item in _scan(handle, check_digests=check_digests, parse_http=parse_http, keep=keep, resync=False):
        if isinstance(item, DamagedRegion):
            error = TornRecord if item.cut_short else MalformedRecord
            raise error(f"record at offset {item.offset}: {item.reason}")
        yield item


def scan_resync(
    handle: IO[bytes],
    *,
    check_digests: bool = False,
    parse_http: bool = True,
    keep: Collection[str] = (),
    strict: bool = False,
    span: tuple[int, int] | None = None,
    name: str = "",
) -> Iterator[ScanItem]:
    """Yield, in file order, each complete record as (offset, end, record) and each damaged stretch as a DamagedRegion.

    The options are scan_records'. Damage never stops the scan: it resumes at the next
    record that reads whole, so every intact record is yielded. A record whose digest fails
    is yielded as a record (its `digest_checker` says so): its bounds are sound. With
    `strict` (files this archive wrote), a header line that is no field (`_fields_only`)
    or a WARC-Record-ID that is no <URI> makes a record malformed, and a plain record whose
    digest fails ends where a whole record starts inside it (`record_inside`). `span`, a
    (start, end) of the file, scans a WARC file stored within another (a WACZ package's);
    offsets stay the file's own. `name`, the file's (or the stored file's) name, tells its
    format when bit rot struck its first bytes; by default the handle's name.
    """
    return _scan(
        handle,
        check_digests=check_digests,
        parse_http=parse_http,
        keep=keep,
        resync=True,
        strict=strict,
        span=span,
        name=name,
    )


def _scan(
    handle: IO[bytes],
    *,
    check_digests: bool,
    parse_http: bool,
    keep: Collection[str],
    resync: bool,
    strict: bool = False,
    span: tuple[int, int] | None = None,
    name: str = "",
) -> Iterator[ScanItem]:
    fd = handle.fileno()
    position, size = span or (0, os.fstat(fd).st_size)
    name = name or (str(getattr(handle, "name", "")) if span is None else "")
    reader = _RecordReader(
        fd,
        size,
        check_digests=check_digests,
        parse_http=parse_http,
        keep=keep,
        name=name,
        strict=strict,
        first=position,
    )
    while position < size:
        found = reader.record_at(position)
        if not isinstance(found, str):
            inner = reader.record_inside(found) if resync and strict else None
            if inner is not None:  # the bad record's Content-Length reached into the record after it
                why = "its digests fail, and a whole record starts inside it (bytes cut out of it)"
                yield DamagedRegion(position, inner[0] - position, f"record {_record_id(found[2])}: {why}")
                found = inner
            yield found
            position = found[1]
            continue
        after = reader.next_record(position + 1) if resync else None
        if after is None:
            yield DamagedRegion(position, size - position, found.removeprefix(_CUT), found.startswith(_CUT))
            return
        yield DamagedRegion(position, after[0] - position, found.removeprefix(_CUT))
        yield after
        position = after[1]


_CUT = "cut short: "  # a reason that starts so: the file ended before the record did


class _RecordReader:
    """Reads one record at a time from an open WARC file, each within its own bounds."""

    def __init__(
        self,
        fd: int,
        size: int,
        *,
        check_digests: bool,
        parse_http: bool,
        keep: Collection[str],
        name: str = "",
        strict: bool = False,
        first: int = 0,
    ) -> None:
        self.fd, self.size = fd, size  # the WARC file's bytes are first..size of the file
        self.check_digests, self.parse_http, self.keep = check_digests, parse_http, keep
        self.gzip = _gzipped(fd, size, name, first)
        self.arc_version = _arc(fd, size, name, first, self.gzip)
        self.arc = self.arc_version is not None  # read with warcio's ARC-to-WARC headers
        self.strict = strict  # scan_resync's strict reading

    def record_at(self, start: int) -> tuple[int, int, ArcWarcRecord] | str:
        """Return (start, end, record) for the complete record at `start`, or why there is none there."""
        if self.arc_version not in (None, "", "1"):  # its header lines have fields warcio does not read
            return f"{ARC_VERSION_UNREAD} {self.arc_version}: only version 1 is read"
        if not self.gzip:
            return self._record_in(start, self.size)
        end = member_end(self.fd, start, self.size)
        if isinstance(end, str):
            return end
        return self._record_in(start, end)

    def record_inside(self, found: tuple[int, int, ArcWarcRecord]) -> tuple[int, int, ArcWarcRecord] | None:
        """Return a whole record (digests not failing) starting inside `found`, a plain record whose digest fails.

        Bytes cut out of a plain record make its Content-Length reach into the records after
        it: read so, it swallows them. (A gzip member ends where it ends: never so.)
        """
        start, end, record = found
        if self.gzip or not self.check_digests or record.digest_checker.passed is not False:
            return None
        for candidate in _occurrences(self.fd, start + 1, end, _WARC_LINES):
            inner = self.record_at(candidate)
            if not isinstance(inner, str) and inner[2].digest_checker.passed is not False:
                return inner
        return None

    def _fields_only(self, start: int, record: ArcWarcRecord) -> bool:
        """Return whether every line of the record's WARC header is a field whose name is a token.

        warcio takes any line holding a colon for a field and drops lines without one, so
        bad bytes before a record's first line would read as part of it. A plain record's
        header is read here as it lies in the file (a gzip member's bytes have their CRC).
        """
        if not all(_FIELD_NAME.fullmatch(name) for name, _ in record.rec_headers.headers):
            return False
        if self.gzip:
            return True
        head = os.pread(self.fd, _HEADER_MOST, start)
        if b"\r\n\r\n" not in head:
            return True  # a header this long is warcio's to judge
        lines = head.split(b"\r\n\r\n", 1)[0].split(b"\n")[1:]  # after the version line
        return all(line[:1] in (b" ", b"\t") or _FIELD_LINE.match(line) for line in lines)

    def next_record(self, start: int) -> tuple[int, int, ArcWarcRecord] | None:
        """Return the first complete record at or after `start` (as record_at does), or None."""
        marks = (_GZIP_MAGIC,) if self.gzip else _ARC_LINES if self.arc else _WARC_LINES
        for candidate in _occurrences(self.fd, start, self.size, marks):
            candidate += 1 if self.arc and not self.gzip else 0  # past the newline that ends the record before
            found = self.record_at(candidate)
            if not isinstance(found, str):
                return found
        return None

    def _record_in(self, start: int, limit: int) -> tuple[int, int, ArcWarcRecord] | str:
        window = _Window(self.fd, start, limit)
        records = ArchiveIterator(
            window, check_digests=self.check_digests, no_record_parse=not self.parse_http, arc2warc=self.arc
        )
        try:
            warc_record = next(warc_records(records), None)
            if warc_record is None:
                return "no WARC record here"
            if self.strict and not self._fields_only(start, warc_record):
                return "a WARC header line is no field (bad bytes in the header)"
            if self.strict and not _RECORD_ID.fullmatch(_record_id(warc_record) or "<>"):
                return "its WARC-Record-ID is no <URI> (bad bytes in the header)"
            stream, read, kept = warc_record.raw_stream, 0, []
            while chunk := stream.read(_READ):
                read += len(chunk)
                if warc_record.rec_type in self.keep:
                    kept.append(chunk)
            length = warc_record.rec_headers.get_header("Content-Length")
            if warc_record.rec_type is None or length is None or not length.strip().isdigit():
                return "no complete WARC header"
            # Unparsed, the whole block was read here; parsed, the HTTP headers were read apart
            # from it, and the stream's own count of what it still owed tells.
            short = int(length) - read if not self.parse_http else int(getattr(stream, "limit", 0) or 0)
            if self.arc and not self.parse_http:  # an ARC length counts the lines warcio read as headers
                short -= warc_record.rec_headers.total_len
            consumed = window.tell() - records.reader.rem_length()
            trailer = records.reader.read(8) if self.gzip else os.pread(self.fd, 4, start + consumed)
        except WARC_READ_ERRORS as exc:
            return f"unreadable record: {short_reason(exc)}"
        ends_file = not self.gzip and start + consumed + len(trailer) >= self.size
        if short > 0:
            return f"{_CUT if ends_file else ''}the record ends {short} bytes before its Content-Length"
        if self.gzip and trailer.strip():
            return MANY_RECORDS_IN_A_MEMBER
        end = limit if self.gzip else self._closed(start + consumed, trailer, ends_file)
        if isinstance(end, str):
            return end
        if self.arc:
            warc_record.format = "arc"  # warcio calls a converted record "warc"; its id is made up on reading
        warc_record.block = b"".join(kept)
        return start, end, warc_record

    def _closed(self, after: int, trailer: bytes, ends_file: bool) -> int | str:
        """Return where a plain record ends past what closes it (WARC: two CRLFs; ARC: a newline), or why not.

        `after` is where its block ends, `trailer` the bytes that follow.
        """
        if self.arc:
            if trailer[:1] not in (b"\n", b""):  # the last record may end the file without its newline
                return "the record is not followed by the newline that closes it (a wrong length?)"
            end = after + len(trailer[:1])
            rest = os.pread(self.fd, _ARC_HEAD, end) if self.size - end <= _ARC_HEAD else b"x"
            return end if rest.strip() else self.size  # blank lines ending the file are no damage
        if trailer != b"\r\n\r\n":
            if ends_file and b"\r\n\r\n".startswith(trailer):
                return f"{_CUT}the file ends before the blank lines that close the record"
            return "the record is not followed by the blank lines that close it (a wrong Content-Length?)"
        return after + 4


def _gzipped(fd: int, size: int, name: str = "", first: int = 0) -> bool:
    """Return whether a WARC file is gzipped, a member per record (.warc.gz), or plain (.warc).

    Its first bytes say so, unless bit rot struck there: then its name does (`name`, the
    file's path or name, if known), else which comes first after them, a gzip member that
    inflates whole or a WARC version line. Were the first bytes alone to decide, one bad byte
    would make a .warc.gz read as a plain file that holds no record. The WARC file starts at `first`.
    """
    head = os.pread(fd, 5, first)
    if head.startswith(_GZIP_MAGIC) or head in (b"WARC/", _ARC_OPENING[:5]):
        return head.startswith(_GZIP_MAGIC)
    name = name.lower()
    if name.endswith((".warc.gz", ".warc", *ARC_SUFFIXES)):
        return name.endswith(".gz")
    for candidate in _occurrences(fd, first + 1, size, (_GZIP_MAGIC, *_WARC_LINES)):
        if os.pread(fd, 3, candidate) != _GZIP_MAGIC:
            return False
        if not isinstance(member_end(fd, candidate, size), str):
            return True
    return False


def _arc(fd: int, size: int, name: str, first: int, gzip: bool) -> str | None:
    """Return an ARC file's version ("1", "2"; "" when its filedesc:// record is rotted or missing), else None.

    An ARC file opens with its filedesc:// record, whose second line starts with the version;
    with that record rotted or missing, the file's name says whether it is one.
    """
    head = os.pread(fd, _ARC_HEAD, first)
    if gzip:
        try:
            head = zlib.decompressobj(31).decompress(os.pread(fd, _READ, first), _ARC_HEAD)
        except zlib.error:
            head = b""
    if head.startswith(_ARC_OPENING):
        lines = head.split(b"\n", 2)
        return lines[1][:1].decode("ascii", "replace") if len(lines) > 2 else ""
    if head.startswith(b"WARC/") or not name.lower().endswith(ARC_SUFFIXES):
        return None
    return ""


def member_end(fd: int, start: int, size: int) -> int | str:
    """Return where the gzip member at `start` ends, inflating it in bounded slices; or why it does not end whole."""
    head = os.pread(fd, 3, start)
    if head != _GZIP_MAGIC:
        if head and start + len(head) >= size and _GZIP_MAGIC.startswith(head):  # the file ends in a member's magic
            return f"{_CUT}the file ends inside a gzip member"
        return "no gzip member starts here"
    inflater = zlib.decompressobj(31)
    position = start
    try:
        while not inflater.eof:
            chunk = os.pread(fd, min(_READ, size - position), position)
            if not chunk:
                return f"{_CUT}the file ends inside a gzip member"
            position += len(chunk)
            pending = chunk
            while pending and not inflater.eof:
                inflater.decompress(pending, _INFLATE_SLICE)  # the output is not kept: only where it ends counts
                pending = inflater.unconsumed_tail
    except zlib.error as exc:
        return f"bad gzip data: {exc}"
    return position - len(inflater.unused_data)


def _occurrences(fd: int, start: int, size: int, marks: tuple[bytes, ...]) -> Iterator[int]:
    """Yield, in order, each offset at or after `start` where one of `marks` begins."""
    overlap = max(map(len, marks)) - 1
    position = start
    while position < size:
        chunk = os.pread(fd, min(1 << 20, size - position), position)
        hits = sorted({position + i for mark in marks for i in _find_all(chunk, mark)})
        yield from hits
        if position + len(chunk) >= size:
            return
        position += len(chunk) - overlap


def _find_all(data: bytes, mark: bytes) -> Iterator[int]:
    at = data.find(mark)
    while at >= 0:
        yield at
        at = data.find(mark, at + 1)


def _record_id(record: ArcWarcRecord) -> str:
    return str(record.rec_headers.get_header("WARC-Record-ID") or "")


def short_reason(exc: BaseException) -> str:
    """Return an exception as a short, printable, one-line reason: no bytes of the input it choked on."""
    if isinstance(exc, OSError) and exc.strerror:
        return os_reason(exc)
    text = (str(exc).strip() or type(exc).__name__).splitlines()[0]
    if isinstance(exc, ArchiveLoadFailed) and ", first line:" in text:  # warcio quotes the line, bytes and all
        text = text.split(", first line:")[0].lower() + " (not a WARC record header)"
    text = "".join(ch if ch.isprintable() and ord(ch) < 0x7F else "?" for ch in text)
    return text if len(text) <= _MAX_REASON else text[: _MAX_REASON - 1] + "…"


class _Window(io.RawIOBase):
    """Bytes start..end of a file as a stream of their own (offsets count from start), read with pread."""

    def __init__(self, fd: int, start: int, end: int) -> None:
        self._fd, self._start, self._end, self._position = fd, start, end, start

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        count = min(len(buffer), self._end - self._position)
        if count <= 0:
            return 0
        data = os.pread(self._fd, count, self._position)
        buffer[: len(data)] = data
        self._position += len(data)
        return len(data)

    def tell(self) -> int:
        return self._position - self._start


def read_payload(directory: Path, location: WarcLocation) -> bytes:
    """Return the payload of the WARC record at `location`, as it was archived."""
    path = directory / location.file
    try:
        with open(path, "rb") as handle:
            fd = handle.fileno()
            size = os.fstat(fd).st_size
            # A gzip member starts at the record (a .warc.gz), or the record is plain: the file's
            # first bytes, which bit rot may have struck, do not decide.
            gzipped_here = os.pread(fd, 3, location.offset) == _GZIP_MAGIC
            end = member_end(fd, location.offset, size) if gzipped_here else size
            if isinstance(end, str):
                raise WarcReadError(f"{path}@{location.offset}: {end.removeprefix(_CUT)}")
            for warc_record in warc_records(ArchiveIterator(_Window(fd, location.offset, end))):
                found = warc_record.rec_headers.get_header("WARC-Record-ID")
                if found != location.record_id:
                    raise WarcReadError(f"{path}@{location.offset}: found record {found}, not {location.record_id}")
                payload: bytes = warc_record.raw_stream.read()
                return payload
    except OSError as exc:
        raise WarcReadError(f"{path}: {exc.strerror or exc}") from exc
    except WARC_READ_ERRORS as exc:
        raise WarcReadError(f"{path}@{location.offset}: {exc}") from exc
    raise WarcReadError(f"{path}@{location.offset}: no WARC record there")
