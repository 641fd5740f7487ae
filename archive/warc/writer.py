"""WARC/1.1 output: one rolling file at a time, three records per capture, SHA-256 digests."""

from __future__ import annotations

import base64
import fcntl
import hashlib
import io
import json
import os
import re
import socket
import uuid
import zlib
from collections.abc import Callable, Collection, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from http import HTTPStatus
from importlib.metadata import version
from pathlib import Path
from typing import IO, Any

from warcio.archiveiterator import ArchiveIterator
from warcio.exceptions import ArchiveLoadFailed
from warcio.recordloader import ArcWarcRecord
from warcio.statusandheaders import StatusAndHeaders
from warcio.timeutils import datetime_to_iso_date
from warcio.utils import Digester
from warcio.warcwriter import WARCWriter

from scraper import Capture, Record, WarcLocation, __version__, iso_utc

__all__ = [
    "WARC_READ_ERRORS",
    "MalformedRecord",
    "TornRecord",
    "WarcFileWriter",
    "WarcReadError",
    "WarcWriteFailed",
    "cut_torn_tail",
    "read_payload",
    "recover_open_files",
    "scan_records",
    "warc_record_id",
    "warc_records",
]

WARC_VERSION = "WARC/1.1"
SOFTWARE = f"scraper-archive/{__version__} (warcio/{version('warcio')}; trafilatura/{version('trafilatura')})"
DEFAULT_MAX_SIZE = 1 << 30
_HOP_BY_HOP = ("transfer-encoding",)
_REVISIT_PROFILES = {
    "server-not-modified": "http://netpreserve.org/warc/1.1/revisit/server-not-modified",
    "identical-payload-digest": "http://netpreserve.org/warc/1.1/revisit/identical-payload-digest",
}


class WarcReadError(Exception):
    """A WARC record could not be read back where the catalog says it is."""


class _Sha256Writer(WARCWriter):
    """warcio's writer with SHA-256 block and payload digests instead of SHA-1."""

    @staticmethod
    def _create_digester() -> Digester:
        return Digester("sha256")


def warc_record_id() -> str:
    """Return a fresh WARC-Record-ID (a UUID URN in angle brackets)."""
    return f"<urn:uuid:{uuid.uuid4()}>"


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(slots=True)
class _OpenFile:
    name: str
    fd: int
    marker: IO[bytes]  # `.NAME.open`, locked while this process writes the file
    size: int = 0  # bytes on disk: every one of them belongs to a whole group of records
    pending: bytearray = field(default_factory=bytearray)  # the group being built, not yet written


class WarcWriteFailed(OSError):
    """Writing to a WARC file failed (disk full, read-only, I/O error); the file still ends whole."""


class WarcFileWriter:
    """Appends captures to `<prefix>-<UTC timestamp>-<serial>-<host>[-<worker>].warc.gz`, rolling by size.

    The records of one capture (request, response, conversion, metadata) are built in memory
    and written with one call; if the write fails (disk full, I/O error) the file is cut back
    to where the group began, so it never ends in half a capture while this process lives.
    A file keeps its `.NAME.open` marker until `settle()` says the catalog holds its records:
    after a kill, recovery knows which files may end torn or hold records no row points at.
    """

    def __init__(
        self,
        directory: Path,
        *,
        prefix: str = "scraper",
        max_size: int = DEFAULT_MAX_SIZE,
        info: Mapping[str, Any] | None = None,
        hostname: str | None = None,
        worker: str | None = None,
        clock: Callable[[], datetime] = _utcnow,
        make_id: Callable[[], str] = warc_record_id,
    ) -> None:
        self.directory = directory
        self.prefix = prefix
        self.max_size = max_size
        self.info = dict(info or {})
        self.hostname = hostname or socket.gethostname()
        self.worker = worker  # a frontier worker's id: in file names and warcinfo beside the host
        self.clock = clock
        self.make_id = make_id
        self.files: list[str] = []
        self.bytes_written = 0
        self._serial = 0
        self._file: _OpenFile | None = None
        self._unsettled: list[_OpenFile] = []  # closed, markers kept until the catalog holds their records
        self._builder = _Sha256Writer(io.BytesIO(), gzip=True, warc_version=WARC_VERSION)

    def write_capture(self, capture: Capture, record: Record) -> Record:
        """Write the (request,) raw, conversion and metadata records; return `record` with their locations."""
        out = self._current()
        with self._group(out):
            return self._capture_group(out, capture, record)

    def _capture_group(self, out: _OpenFile, capture: Capture, record: Record) -> Record:
        archived_at = self.clock()
        raw_id = self.make_id()
        request = self._request(out, capture, raw_id)
        raw = self._append(out, self._raw_record(capture, record, raw_id, request))
        target = record.source_url if capture.http_status is None else (capture.url or record.source_url)
        located = record.with_provenance(archived_at=iso_utc(archived_at), warc_request=request, warc_raw=raw)
        return self._extraction_records(out, located, target, archived_at)

    def write_extraction(self, record: Record) -> Record:
        """Write a new extraction of a capture archived before: conversion and metadata records only.

        They refer to the capture's raw record where it already is (`record.provenance.warc_raw`);
        return `record` with the new records' locations.
        """
        raw = record.provenance.warc_raw
        if raw is None:
            raise ValueError(f"record {record.id} names no raw WARC record to refer to")
        out = self._current()
        with self._group(out):
            return self._extraction_records(out, record, record.source_url, self.clock())

    def _extraction_records(self, out: _OpenFile, record: Record, target: str, moment: datetime) -> Record:
        """Append the conversion (text) and metadata (the record as JSON) records referring to its raw record."""
        assert record.provenance.warc_raw is not None
        refers = {"WARC-Refers-To": record.provenance.warc_raw.record_id, "WARC-Date": _warc_date(moment)}
        text = record.text.encode("utf-8")
        conversion = self._append(out, self._record(target, "conversion", text, "text/plain; charset=utf-8", refers))
        located = record.with_provenance(warc_conversion=conversion)
        meta = json.dumps(located.to_dict(with_text=False), ensure_ascii=False, sort_keys=True).encode("utf-8")
        metadata = self._append(out, self._record(target, "metadata", meta, "application/json", refers))
        return located.with_provenance(warc_metadata=metadata)

    def write_exchange(self, capture: Capture) -> WarcLocation:
        """Write a live capture that becomes no record (a redirect, a raw non-HTML body): request and response."""
        return self._write_http(capture, "response", capture.payload, {})

    def write_revisit(self, capture: Capture, *, profile: str, refers_to_uri: str, refers_to_date: str) -> WarcLocation:
        """Write a revisit: the response's status and headers without its payload, pointing at the capture it repeats.

        `profile` is "server-not-modified" (a 304) or "identical-payload-digest" (same bytes again).
        """
        headers = {
            "WARC-Profile": _REVISIT_PROFILES[profile],
            "WARC-Refers-To-Target-URI": refers_to_uri,
            "WARC-Refers-To-Date": refers_to_date,
        }
        if profile == "identical-payload-digest":
            headers["WARC-Payload-Digest"] = "sha256:" + _base32_sha256(capture.payload)
        return self._write_http(capture, "revisit", b"", headers)

    def _write_http(self, capture: Capture, kind: str, payload: bytes, extra: dict[str, str]) -> WarcLocation:
        """Write a live capture's request record, then its `kind` record with `payload`; return the latter's place."""
        out = self._current()
        with self._group(out):
            raw_id = self.make_id()
            request = self._request(out, capture, raw_id)
            when = capture.captured_at or self.clock()
            headers = {"WARC-Record-ID": raw_id, "WARC-Date": _warc_date(when), **extra}
            headers.update(self._wire_headers(capture, request))
            return self._append(out, self._http_record(capture, kind, payload, headers))

    def _request(self, out: _OpenFile, capture: Capture, response_id: str) -> WarcLocation | None:
        """Write the request record of a live capture (None for captures that have none)."""
        wire = capture.request
        if wire is None:
            return None
        # warcio splits a request line into protocol=method and statusline="target HTTP/1.1".
        http = StatusAndHeaders(
            f"{wire.method} {wire.target} {wire.protocol}", list(wire.headers), is_http_request=True
        )
        when = capture.captured_at or self.clock()
        headers = {
            "WARC-Record-ID": self.make_id(),
            "WARC-Date": _warc_date(when),
            "WARC-Concurrent-To": response_id,
            **self._wire_headers(capture, None),
        }
        warc_record = self._builder.create_warc_record(
            capture.url or "",
            "request",
            payload=io.BytesIO(b""),
            length=0,
            warc_headers_dict=headers,
            http_headers=http,
        )
        return self._append(out, warc_record)

    @staticmethod
    def _wire_headers(capture: Capture, request: WarcLocation | None) -> dict[str, str]:
        """Return WARC-IP-Address when known, and WARC-Concurrent-To the request record, if any."""
        headers = {"WARC-IP-Address": capture.ip_address} if capture.ip_address else {}
        if request is not None:
            headers["WARC-Concurrent-To"] = request.record_id
        return headers

    def _http_record(self, capture: Capture, kind: str, payload: bytes, headers: dict[str, str]) -> ArcWarcRecord:
        status = capture.http_status or 200
        reason = capture.http_reason if capture.http_reason is not None else _reason(status)
        http = StatusAndHeaders(
            f"{status} {reason}".strip(),
            [(k, v) for k, v in capture.http_headers if k.lower() not in _HOP_BY_HOP],
            protocol=capture.http_protocol,
        )
        return self._builder.create_warc_record(
            capture.url or "",
            kind,
            payload=io.BytesIO(payload),
            length=len(payload),
            warc_headers_dict=headers,
            http_headers=http,
        )

    def flush(self) -> None:
        """Make everything written so far durable on disk."""
        if self._file is not None:
            os.fsync(self._file.fd)

    def settle(self) -> None:
        """Drop the markers of closed files: the catalog now holds every record they carry."""
        for done in self._unsettled:
            _open_marker(self.directory, done.name).unlink(missing_ok=True)
            done.marker.close()
        self._unsettled.clear()

    def close(self, *, settled: bool = True) -> None:
        """Flush and close the open file, if any; with `settled`, drop every marker too.

        `settled=False` (the catalog could not take the last records) keeps the markers, so
        the next run re-indexes what the files hold.
        """
        if self._file is not None:
            self._retire()
        if settled:
            self.settle()
        else:
            for done in self._unsettled:
                done.marker.close()  # the lock goes; the marker stays for recovery
            self._unsettled.clear()

    def _retire(self) -> None:
        """Make the open file durable and close it; its marker stays (locked) until `settle()`."""
        assert self._file is not None
        done, self._file = self._file, None
        try:
            os.fsync(done.fd)
        finally:
            os.close(done.fd)
            self._unsettled.append(done)

    @contextmanager
    def _group(self, out: _OpenFile) -> Iterator[None]:
        """Build a group of records in `out.pending`, then write it whole, or cut the file back."""
        out.pending.clear()
        try:
            yield
        except BaseException:
            out.pending.clear()
            raise
        data, start = bytes(out.pending), out.size
        out.pending.clear()
        try:
            _write_all(out.fd, data)
        except OSError as exc:
            self._cut_back(out, start)
            raise WarcWriteFailed(exc.errno, f"{exc.strerror or exc} ({self.directory / out.name})") from exc
        out.size = start + len(data)
        self.bytes_written += len(data)

    def _cut_back(self, out: _OpenFile, start: int) -> None:
        """Cut a failed write off; if even that fails, give the file up to recovery (its marker stays)."""
        try:
            os.ftruncate(out.fd, start)
            if start == 0:  # not even its warcinfo record made it: a new file is tried next time
                raise OSError("empty file")
        except OSError:
            os.close(out.fd)
            out.marker.close()
            self._file = None

    def _current(self) -> _OpenFile:
        if self._file is not None and self._file.size >= self.max_size:
            self._retire()
        if self._file is None:
            self._file = self._open_next()
        return self._file

    def _open_next(self) -> _OpenFile:
        self.directory.mkdir(parents=True, exist_ok=True)
        while True:
            self._serial += 1
            stamp = self.clock().astimezone(UTC).strftime("%Y%m%d%H%M%S%f")[:17]
            worker = f"-{_safe_host(self.worker)}" if self.worker else ""
            name = f"{self.prefix}-{stamp}-{self._serial:05d}-{_safe_host(self.hostname)}{worker}.warc.gz"
            # While the file is open, a marker says so and this process holds a lock on it: after
            # a kill (the lock goes with the process), recover_open_files() cuts whatever
            # half-written record the file ends with and re-indexes what no row points at;
            # while the lock is held, it leaves the file be. The marker comes first, so no
            # file is ever without one while records may be written to it.
            try:
                marker = open(_open_marker(self.directory, name), "xb")  # noqa: SIM115 - held open with the file
            except FileExistsError:
                continue
            fcntl.flock(marker, fcntl.LOCK_EX)
            try:
                fd = os.open(self.directory / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o644)
            except FileExistsError:
                _open_marker(self.directory, name).unlink(missing_ok=True)
                marker.close()
                continue
            except OSError:
                marker.close()
                raise
            opened = _OpenFile(name, fd, marker)
            self.files.append(name)
            self._file = opened
            with self._group(opened):
                self._append(opened, self._warcinfo(name))
            return opened

    def _warcinfo(self, name: str) -> ArcWarcRecord:
        fields = {
            "software": SOFTWARE,
            "format": "WARC File Format 1.1",
            "conformsTo": "https://iipc.github.io/warc-specifications/specifications/warc-format/warc-1.1/",
            "hostname": self.hostname,
            **({"worker": self.worker} if self.worker else {}),
            **{k: v for k, v in self.info.items() if v not in (None, "")},
        }
        body = "".join(f"{key}: {value}\r\n" for key, value in fields.items()).encode("utf-8")
        headers = {"WARC-Filename": name, "WARC-Date": _warc_date(self.clock())}
        return self._record("", "warcinfo", body, "application/warc-fields", headers)

    def _raw_record(self, capture: Capture, record: Record, raw_id: str, request: WarcLocation | None) -> ArcWarcRecord:
        when = datetime.fromisoformat(record.provenance.captured_at.replace("Z", "+00:00"))
        headers = {"WARC-Record-ID": raw_id, "WARC-Date": _warc_date(when)}
        if capture.http_status is None:
            charset = capture.charset or _codec_name(record.provenance.encoding)
            content_type = capture.media_type + (f"; charset={charset}" if charset else "")
            return self._record(record.source_url, "resource", capture.payload, content_type, headers)
        headers.update(self._wire_headers(capture, request))
        return self._http_record(
            replace(capture, url=capture.url or record.source_url), "response", capture.payload, headers
        )

    def _record(self, uri: str, kind: str, body: bytes, content_type: str, headers: dict[str, str]) -> ArcWarcRecord:
        headers = {**headers, "Content-Type": content_type}
        if "WARC-Record-ID" not in headers:
            headers["WARC-Record-ID"] = self.make_id()
        return self._builder.create_warc_record(
            uri, kind, payload=io.BytesIO(body), length=len(body), warc_headers_dict=headers
        )

    def _append(self, out: _OpenFile, warc_record: ArcWarcRecord) -> WarcLocation:
        buffer = io.BytesIO()
        _Sha256Writer(buffer, gzip=True, warc_version=WARC_VERSION).write_record(warc_record)
        data = buffer.getvalue()
        offset = out.size + len(out.pending)
        out.pending += data
        return WarcLocation(out.name, offset, len(data), warc_record.rec_headers.get_header("WARC-Record-ID"))


class TornRecord(Exception):
    """A WARC record stops before its Content-Length says it ends."""


class MalformedRecord(Exception):
    """warcio failed on a record in a way of its own (a missing header it assumes, say): the record is unreadable."""


# What reading a damaged WARC file raises: ours, warcio's, and the gzip and I/O layers'.
WARC_READ_ERRORS = (TornRecord, MalformedRecord, ArchiveLoadFailed, EOFError, OSError, ValueError, zlib.error)


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
    Raises TornRecord, or warcio's and zlib's errors, at the first damaged record.
    """
    records = ArchiveIterator(handle, check_digests=check_digests, no_record_parse=not parse_http)
    # Each record is held back until the next one reads whole: only then is its gzip member
    # known to have ended whole. The last one's member is checked directly.
    held: tuple[int, int, ArcWarcRecord] | None = None
    try:
        for warc_record in warc_records(records):
            stream, read, kept = warc_record.raw_stream, 0, []
            while chunk := stream.read(1 << 16):  # before get_record_offset: asked first, it empties the stream
                read += len(chunk)
                if warc_record.rec_type in keep:
                    kept.append(chunk)
            warc_record.block = b"".join(kept)
            offset = records.get_record_offset()
            length = warc_record.rec_headers.get_header("Content-Length")
            if warc_record.rec_type is None or length is None:  # a member cut in its header reads as an empty record
                raise TornRecord(f"record at offset {offset} has no complete header")
            declared = int(length)
            # Unparsed, the whole block was read here; parsed, the HTTP headers were read apart
            # from it, and the stream's own count of what it still owed tells.
            short = declared - read if not parse_http else int(getattr(stream, "limit", 0) or 0)
            if short > 0:
                raise TornRecord(f"record at offset {offset} is cut short by {short} bytes")
            records.read_to_end(warc_record)
            if held is not None:
                yield held
            held = (offset, offset + records.get_record_length(), warc_record)
    except WARC_READ_ERRORS:
        if held is not None and _member_complete(handle, held[0], held[1]):
            yield held
        raise
    if held is not None:
        if not _member_complete(handle, held[0], held[1]):
            raise TornRecord(f"record at offset {held[0]} has lost the end of its gzip member")
        yield held


def _member_complete(handle: IO[bytes], start: int, end: int) -> bool:
    """Return whether bytes start..end of a gzip file are one whole member (an uncompressed file: True).

    A cut in the member's last bytes (the CRC and size trailer) loses no content, so the record
    reads whole; but a member appended after it would be read as the rest of its trailer.
    """
    fd = handle.fileno()
    if os.pread(fd, 2, start) != b"\x1f\x8b":
        return True
    reader = zlib.decompressobj(31)
    position = start
    while position < end and not reader.eof:
        chunk = os.pread(fd, min(1 << 20, end - position), position)
        if not chunk:
            break
        reader.decompress(chunk)
        position += len(chunk)
    return reader.eof


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
    for marker in sorted(directory.glob(".*.open")):
        name = marker.name[1 : -len(".open")]
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


def read_payload(directory: Path, location: WarcLocation) -> bytes:
    """Return the payload of the WARC record at `location`, as it was archived."""
    path = directory / location.file
    try:
        with open(path, "rb") as handle:
            handle.seek(location.offset)
            for warc_record in warc_records(ArchiveIterator(handle)):
                found = warc_record.rec_headers.get_header("WARC-Record-ID")
                if found != location.record_id:
                    raise WarcReadError(f"{path}@{location.offset}: found record {found}, not {location.record_id}")
                return warc_record.raw_stream.read()
    except OSError as exc:
        raise WarcReadError(f"{path}: {exc.strerror or exc}") from exc
    except WARC_READ_ERRORS as exc:
        raise WarcReadError(f"{path}@{location.offset}: {exc}") from exc
    raise WarcReadError(f"{path}@{location.offset}: no WARC record there")


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _open_marker(directory: Path, name: str) -> Path:
    return directory / f".{name}.open"


def _warc_date(moment: datetime) -> str:
    return str(datetime_to_iso_date(moment.astimezone(UTC).replace(tzinfo=None), use_micros=True))


def _codec_name(encoding: str | None) -> str | None:
    """Return a detected encoding usable as a charset label ("utf-8 (2 bad bytes...)" is not)."""
    return encoding if encoding and re.fullmatch(r"[\w.:-]+", encoding) else None


def _base32_sha256(data: bytes) -> str:
    return base64.b32encode(hashlib.sha256(data).digest()).decode("ascii")


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


def _safe_host(hostname: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-." else "_" for ch in hostname)[:64] or "host"
