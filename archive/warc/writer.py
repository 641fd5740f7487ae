"""Writing WARC/1.1: one rolling file at a time, the exchange as transferred plus its derived records.

A capture is its raw record at the URL it came from (`response` with a `request` for a live
fetch, `resource` for a saved file) and two derived records addressed off that URL, so no
replay tool takes them for the page: the extracted text (`conversion`, `urn:text:URL`) and
the record as JSON (`metadata`, `urn:record:URL`), each naming the raw record it comes from.
"""

from __future__ import annotations

import base64
import fcntl
import io
import json
import os
import re
import socket
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from http import HTTPStatus
from importlib.metadata import version
from pathlib import Path
from typing import IO, Any

from warcio.recordloader import ArcWarcRecord
from warcio.statusandheaders import StatusAndHeaders, StatusAndHeadersParser
from warcio.timeutils import datetime_to_iso_date
from warcio.utils import Digester
from warcio.warcwriter import WARCWriter
from zlib_ng import zlib_ng

from archive.errors import ArchiveError
from scraper import Capture, Record, WarcLocation, __version__, iso_utc
from scraper.capture import PAGE_ARCHIVE_TYPES

__all__ = ["DEFAULT_MAX_SIZE", "WarcFileWriter", "WarcWriteFailed", "open_marker", "warc_record_id"]

WARC_VERSION = "WARC/1.1"
SOFTWARE = f"scraper-archive/{__version__} (warcio/{version('warcio')}; trafilatura/{version('trafilatura')})"
DEFAULT_MAX_SIZE = 1 << 30
# warcio compresses with zlib at level 9. zlib-ng at level 6 (gzip's own default) compresses the
# development set's 143 MB of pages 3.3 times as fast for 1.4% more bytes (zlib at 6: 1.6 times,
# 0.7% more), and its members are plain gzip any reader inflates. Like zlib, it lets other threads
# run while it works: at --jobs 1 the extraction thread goes on, at --jobs N it is a core's time.
GZIP_LEVEL = 6
_HOP_BY_HOP = ("transfer-encoding",)
TEXT_URN = "urn:text:"
RECORD_URN = "urn:record:"
_REVISIT_PROFILES = {
    "server-not-modified": "http://netpreserve.org/warc/1.1/revisit/server-not-modified",
    "identical-payload-digest": "http://netpreserve.org/warc/1.1/revisit/identical-payload-digest",
}


class _AsTransferred(StatusAndHeaders):  # type: ignore[misc]  # warcio has no type information
    """An HTTP head written as it crossed the connection, byte for byte.

    warcio's writer serializes a record's HTTP headers anew (`compute_headers_buffer`): names
    and values as parsed, one line each. This keeps the bytes instead: the start line, header
    names in their case and order, folded lines, whatever line ends were used.
    """

    def __init__(self, head: bytes) -> None:
        parsed = StatusAndHeadersParser([], verify=False).parse(io.BytesIO(head))
        super().__init__(parsed.statusline, parsed.headers, protocol=parsed.protocol)
        self.headers_buff = head

    def compute_headers_buffer(self, header_filter: Any = None) -> None:
        """Keep the head as it was transferred (warcio would rebuild it from the parsed headers)."""


class _Sha256Writer(WARCWriter):  # type: ignore[misc]  # warcio has no type information: WARCWriter is Any
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


class WarcWriteFailed(ArchiveError, OSError):
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
        """Append the conversion (text) and metadata (the record as JSON) records referring to its raw record.

        They are addressed `urn:text:TARGET` and `urn:record:TARGET` (browsertrix-crawler's
        convention for what it derives from a page): at TARGET itself, with a later date, every
        indexer would list them as newer captures of the page and replay would serve them.
        """
        raw = record.provenance.warc_raw
        assert raw is not None
        refers = {
            "WARC-Refers-To": raw.record_id,
            "WARC-Refers-To-Target-URI": target,
            "WARC-Refers-To-Date": _warc_date(_parse_utc(record.provenance.captured_at)),
            "WARC-Date": _warc_date(moment),
        }
        text = record.text.encode("utf-8")
        conversion = self._append(
            out, self._record(TEXT_URN + target, "conversion", text, "text/plain; charset=utf-8", refers)
        )
        located = record.with_provenance(warc_conversion=conversion)
        meta = json.dumps(located.to_dict(with_text=False), ensure_ascii=False, sort_keys=True).encode("utf-8")
        metadata = self._append(out, self._record(RECORD_URN + target, "metadata", meta, "application/json", refers))
        return located.with_provenance(warc_metadata=metadata)

    def write_exchange(self, capture: Capture) -> WarcLocation:
        """Write a live capture that becomes no record (a redirect, a raw non-HTML body): request and response."""
        return self._write_http(capture, "response", capture.payload, {})

    def write_revisit(self, capture: Capture, *, profile: str, original: Record) -> WarcLocation:
        """Write a revisit of `original` (the capture it repeats): its request, the revisit, and for a 304 the answer.

        `profile` "identical-payload-digest" (the same bytes fetched again): the revisit holds
        the response's status line and headers as transferred, without the payload.
        "server-not-modified" (a 304 to a conditional request): the revisit's block is empty,
        so replay tools serve the original's headers and payload (a block holding the 304's
        status line replays as an empty 304 in pywb), and the 304 as received is kept in a
        `metadata` record beside it (application/warc-fields, which indexers leave out).
        Either way the revisit names the original by record id, URI, date and payload digest.
        """
        raw = original.provenance.warc_raw
        headers = {
            "WARC-Profile": _REVISIT_PROFILES[profile],
            **({"WARC-Refers-To": raw.record_id} if raw is not None else {}),
            "WARC-Refers-To-Target-URI": original.source_url,
            "WARC-Refers-To-Date": _warc_date(_parse_utc(original.provenance.captured_at)),
            # The original's payload digest, so replay tools find it (pywb looks it up by URI and digest):
            # a record's payload_sha256 is over its payload as stored, which is what warcio digests.
            "WARC-Payload-Digest": "sha256:" + _base32_from_hex(original.payload_sha256),
        }
        out = self._current()
        with self._group(out):
            revisit_id = self.make_id()
            request = self._request(out, capture, revisit_id)
            headers.update({"WARC-Record-ID": revisit_id, "WARC-Date": _warc_date(self._when(capture))})
            headers.update(self._wire_headers(capture, request))
            if profile == "identical-payload-digest":
                return self._append(out, self._http_record(capture, "revisit", b"", headers))
            located = self._append(out, self._record(capture.url or "", "revisit", b"", "", headers))
            self._append(out, self._exchange_answer(capture, revisit_id))
            return located

    def _exchange_answer(self, capture: Capture, concurrent_to: str) -> ArcWarcRecord:
        """Return a `metadata` record holding a response's status line and headers, in order, as received."""
        if capture.http_head is not None:
            body = _head_fields(capture.http_head)
        else:
            status = capture.http_status or 0
            reason = capture.http_reason if capture.http_reason is not None else _reason(status)
            lines = [f"http-response-line: {capture.http_protocol} {status} {reason}".rstrip()]
            lines += [f"http-response-header: {name}: {value}" for name, value in capture.http_headers]
            body = "".join(f"{line}\r\n" for line in lines).encode("utf-8")
        headers = {"WARC-Concurrent-To": concurrent_to, "WARC-Date": _warc_date(self._when(capture))}
        return self._record(capture.url or "", "metadata", body, "application/warc-fields", headers)

    def _when(self, capture: Capture) -> datetime:
        return capture.captured_at or self.clock()

    def _write_http(self, capture: Capture, kind: str, payload: bytes, extra: dict[str, str]) -> WarcLocation:
        """Write a live capture's request record, then its `kind` record with `payload`; return the latter's place."""
        out = self._current()
        with self._group(out):
            raw_id = self.make_id()
            request = self._request(out, capture, raw_id)
            headers = {"WARC-Record-ID": raw_id, "WARC-Date": _warc_date(self._when(capture)), **extra}
            headers.update(self._wire_headers(capture, request))
            return self._append(out, self._http_record(capture, kind, payload, headers))

    def _request(self, out: _OpenFile, capture: Capture, response_id: str) -> WarcLocation | None:
        """Write the request record of a live capture (None for captures that have none).

        Its block is the request as written to the connection, when that was recorded: request
        line, header lines and body byte for byte. Else it is rebuilt from the parsed request.
        """
        wire = capture.request
        if wire is None:
            return None
        if wire.raw_head is not None:
            http: StatusAndHeaders = _AsTransferred(wire.raw_head)
        else:  # warcio splits a request line into protocol=method and statusline="target HTTP/1.1"
            http = StatusAndHeaders(
                f"{wire.method} {wire.target} {wire.protocol}", list(wire.headers), is_http_request=True
            )
        headers = {
            "WARC-Record-ID": self.make_id(),
            "WARC-Date": _warc_date(self._when(capture)),
            "WARC-Concurrent-To": response_id,
            **self._wire_headers(capture, None),
        }
        warc_record = self._builder.create_warc_record(
            capture.url or "",
            "request",
            payload=io.BytesIO(wire.body),
            length=len(wire.body),
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
        """Return a response (or revisit) record: the head as received, then `payload` (a revisit keeps none).

        With the head recorded (`capture.http_head`), the block is the response as it crossed the
        connection: that head byte for byte and the body as transferred, chunk framing and all
        (warcio and pywb de-chunk it as they read; the payload digest is over the bytes stored).
        Else the head is rebuilt from the parsed status and headers, less Transfer-Encoding (the
        body of such a capture was handed over de-chunked). A body cut short says so:
        `WARC-Truncated` with the reason.
        """
        if capture.http_head is not None:
            http: StatusAndHeaders = _AsTransferred(capture.http_head)
        else:
            status = capture.http_status or 200
            reason = capture.http_reason if capture.http_reason is not None else _reason(status)
            http = StatusAndHeaders(
                f"{status} {reason}".strip(),
                [(k, v) for k, v in capture.http_headers if k.lower() not in _HOP_BY_HOP],
                protocol=capture.http_protocol,
            )
        if capture.truncated and kind == "response":
            headers = {**headers, "WARC-Truncated": capture.truncated}
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
            open_marker(self.directory, done.name).unlink(missing_ok=True)
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
                marker = open(open_marker(self.directory, name), "xb")  # noqa: SIM115 - held open with the file
            except FileExistsError:
                continue
            fcntl.flock(marker, fcntl.LOCK_EX)
            try:
                fd = os.open(self.directory / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o644)
            except FileExistsError:
                open_marker(self.directory, name).unlink(missing_ok=True)
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
        body = "".join(f"{key}: {_one_line(str(value))}\r\n" for key, value in fields.items()).encode("utf-8")
        headers = {"WARC-Filename": name, "WARC-Date": _warc_date(self.clock())}
        return self._record("", "warcinfo", body, "application/warc-fields", headers)

    def _raw_record(self, capture: Capture, record: Record, raw_id: str, request: WarcLocation | None) -> ArcWarcRecord:
        headers = {"WARC-Record-ID": raw_id, "WARC-Date": _warc_date(_parse_utc(record.provenance.captured_at))}
        if capture.source_kind == "warc":  # read from another WARC file: the way back to the record it copies
            headers["Source-Location"] = capture.source_location
            if capture.source_record_id:
                headers["Source-Record-ID"] = capture.source_record_id
        if capture.http_status is None:
            charset = capture.charset or _codec_name(record.provenance.encoding)
            textual = capture.media_type not in PAGE_ARCHIVE_TYPES  # MHTML: its parts say their own charsets
            content_type = capture.media_type + (f"; charset={charset}" if charset and textual else "")
            return self._record(record.source_url, "resource", capture.payload, content_type, headers)
        headers.update(self._wire_headers(capture, request))
        return self._http_record(
            replace(capture, url=capture.url or record.source_url), "response", capture.payload, headers
        )

    def _record(self, uri: str, kind: str, body: bytes, content_type: str, headers: dict[str, str]) -> ArcWarcRecord:
        headers = {**headers, "Content-Type": content_type} if content_type else dict(headers)
        if "WARC-Record-ID" not in headers:
            headers["WARC-Record-ID"] = self.make_id()
        return self._builder.create_warc_record(
            uri, kind, payload=io.BytesIO(body), length=len(body), warc_headers_dict=headers
        )

    def _append(self, out: _OpenFile, warc_record: ArcWarcRecord) -> WarcLocation:
        buffer = io.BytesIO()
        _Sha256Writer(buffer, gzip=False, warc_version=WARC_VERSION).write_record(warc_record)
        data = gzip_member(buffer.getvalue())
        offset = out.size + len(out.pending)
        out.pending += data
        return WarcLocation(out.name, offset, len(data), warc_record.rec_headers.get_header("WARC-Record-ID"))


def gzip_member(data: bytes) -> bytes:
    """Return `data` as one gzip member (a record of a .warc.gz), deflated by zlib-ng at level GZIP_LEVEL."""
    compressor = zlib_ng.compressobj(GZIP_LEVEL, zlib_ng.DEFLATED, zlib_ng.MAX_WBITS | 16)
    return compressor.compress(data) + compressor.flush()


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def open_marker(directory: Path, name: str) -> Path:
    """Return the marker that says WARC file `name` is still being written (or was left open by a killed writer)."""
    return directory / f".{name}.open"


def _warc_date(moment: datetime) -> str:
    return str(datetime_to_iso_date(moment.astimezone(UTC).replace(tzinfo=None), use_micros=True))


def _codec_name(encoding: str | None) -> str | None:
    """Return a detected encoding usable as a charset label ("utf-8 (2 bad bytes...)" is not)."""
    return encoding if encoding and re.fullmatch(r"[\w.:-]+", encoding) else None


def _one_line(value: str) -> str:
    """Return a warcinfo value on one line (a field ends at its line's end)."""
    return " ".join(value.split())


def _head_fields(head: bytes) -> bytes:
    """Return an HTTP response head as warc-fields: its status line, then each header line as received.

    A folded header's continuation lines stay continuation lines (leading white space kept).
    """
    status, *lines = [line.removesuffix(b"\r") for line in head.split(b"\n")]
    fields = [b"http-response-line: " + status]
    for line in lines:
        if not line:
            break
        fields.append(line if line[:1] in (b" ", b"\t") else b"http-response-header: " + line)
    return b"".join(field + b"\r\n" for field in fields)


def _base32_from_hex(digest: str) -> str:
    """Return a hex SHA-256 digest in base32, as WARC digest fields write it."""
    return base64.b32encode(bytes.fromhex(digest)).decode("ascii")


def _parse_utc(moment: str) -> datetime:
    """Return a record's ISO 8601 time ("...Z") as an aware datetime."""
    return datetime.fromisoformat(moment.replace("Z", "+00:00"))


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


def _safe_host(hostname: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-." else "_" for ch in hostname)[:64] or "host"
