"""Saved captures on disk: find them (files, directories, globs, WARC records) and load them."""

from __future__ import annotations

import dataclasses
import glob
import os
import re
import struct
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePath
from typing import Any
from urllib.parse import quote

import brotli
from warcio.archiveiterator import ArchiveIterator

from archive.errors import ArchiveError
from archive.warc._disk import (
    NAME_SAFE,
    Refusal,
    escaped_name,
    expand,
    open_regular,
    read_bounded,
    regular_file,
    walk,
)
from archive.warc.mhtml import MHTML_SUFFIXES, MHTML_TYPES, read_mhtml
from archive.warc.reader import (
    ARC_SUFFIXES,
    ARC_VERSION_UNREAD,
    MANY_RECORDS_IN_A_MEMBER,
    WARC_READ_ERRORS,
    DamagedRegion,
    scan_resync,
    short_reason,
    warc_records,
)
from scraper import Capture, WireRequest, media_kind
from scraper.capture import dechunk, is_chunked
from scraper.urls import is_robots_txt

__all__ = [
    "DEFAULT_MAX_CAPTURE_BYTES",
    "CaptureFailure",
    "SkippedRecord",
    "SourceError",
    "SourceRef",
    "decode_content",
    "escaped_name",
    "file_urn",
    "find_sources",
    "load_capture",
]

DEFAULT_MAX_CAPTURE_BYTES = 64 * 1024 * 1024
# What replay turns into records; other WARC payloads (sitemaps, feeds, images, PDFs) are skipped.
PAGE_TYPES = frozenset({"text/html", "application/xhtml+xml", "text/plain"})
TEXT_SUFFIXES = (".txt", ".text")
HTML_SUFFIXES = (".html", ".htm", ".xhtml", ".html.gz", ".htm.gz", ".xhtml.gz")
WARC_SUFFIXES = (".warc", ".warc.gz")
WACZ_SUFFIX = ".wacz"  # a zip package of WARC files (archive/), their index and pages: read in place
REPLAYED_WARC_TYPES = ("response", "resource")
FILE_URN = "urn:file:"  # what a saved file is addressed as: it names where it was read, not a fetch
_RECOMPRESS = "`warcio recompress FILE NEW.warc.gz` rewrites it so each record can be read"
_PACKED = "compressed or encrypted in the zip, not stored as WACZ stores WARC files"
_PAGE_SCHEMES = frozenset({"http", "https", "ftp", "file"})
_SCHEME = re.compile(r"[a-z][a-z0-9+-]*")  # a URI scheme, without the dots a host name has


class SourceError(ArchiveError):
    """A saved capture that cannot be read; the message says why."""


@dataclass(frozen=True, slots=True)
class SourceRef:
    """One capture to load: a file, or a record at an offset in a WARC file.

    `name` is how the archive names the file: relative to the folder given to replay (its
    own name first: `seeds/html/page.html`), never the host's absolute path unless asked.
    It is the name as os.fsdecode gives it; `location` is it escaped for output (escaped_name).
    A WARC response's `request_offset` is where its request record is, if the file has one;
    a WARC revisit names the capture it repeats (`revisit`: profile, target URI, date).
    """

    path: Path
    kind: str  # "text" | "html" | "warc" | "arc" (a record in an ARC file)
    offset: int | None = None
    name: str = ""
    request_offset: int | None = None
    revisit: tuple[str, str, str] | None = None

    @property
    def location(self) -> str:
        """Return how provenance names this source: the file's name, plus `#offset` in a WARC file."""
        name = escaped_name(self.name or str(self.path))
        return f"{name}#{self.offset}" if self.offset is not None else name

    @property
    def shown(self) -> str:
        """Return how messages name this source: its path as the user gave it, plus `#offset` in a WARC file."""
        return _shown(self.path, self.offset)


@dataclass(frozen=True, slots=True)
class CaptureFailure:
    """An input that produced no record, and why (one line for the user)."""

    source: str
    reason: str
    crawl_id: str | None = None  # the shared-frontier run it belongs to, if any


@dataclass(frozen=True, slots=True)
class SkippedRecord:
    """A WARC record replay does not turn into a capture (request, revisit, metadata...)."""

    source: str
    record_type: str


def find_sources(paths: list[str], *, absolute: bool = False) -> Iterator[SourceRef | CaptureFailure | SkippedRecord]:
    """Yield every capture under `paths` (files, directories recursively, globs), in order.

    Captures are named relative to what was given (see SourceRef.name); `absolute` names
    them by their absolute paths instead. Every path given or found that is not read is
    named in a CaptureFailure with why: unreadable, not a regular file, a symlink loop...
    """
    for given in paths:
        base, matched = _base(given), False
        for path in expand(given):
            matched = True
            if isinstance(path, Refusal):
                yield _refused(path)
                continue
            for found in _from_path(path):
                yield _named(found, base, absolute)
        if not matched:
            yield CaptureFailure(escaped_name(given), "no such file or directory")


def file_urn(name: str) -> str:
    """Return the URI a saved file is archived under: `urn:file:` and its name (not a fetch it never had).

    The name is percent-encoded from its raw bytes, so a name UTF-8 cannot decode is kept too.
    """
    return FILE_URN + quote(os.fsencode(name), safe=NAME_SAFE)


def _base(given: str) -> Path:
    """Return the folder names are relative to: the given path's parent (a glob's: before its first wildcard)."""
    if os.path.lexists(given) or not glob.has_magic(given):
        return Path(given).parent
    parts = PurePath(given).parts
    fixed = next(i for i, part in enumerate(parts) if glob.has_magic(part))
    return Path(*parts[:fixed]) if fixed else Path()


def _named(found: SourceRef | CaptureFailure | SkippedRecord, base: Path, absolute: bool) -> Any:
    if not isinstance(found, SourceRef):
        return found
    if absolute:
        return _replace(found, name=str(found.path.resolve()))
    try:
        name = found.path.relative_to(base).as_posix() if base != Path() else found.path.as_posix()
    except ValueError:
        name = found.path.name
    return _replace(found, name=name.lstrip("/") or found.path.name)


def _replace(ref: SourceRef, **changes: Any) -> SourceRef:
    return dataclasses.replace(ref, **changes)


def _from_path(path: Path) -> Iterator[SourceRef | CaptureFailure | SkippedRecord]:
    """Yield the captures at `path` as given or matched: a folder walked, a file checked, or why not."""
    found = regular_file(path)
    if found == "is a directory":
        yield from _from_folder(path)
    elif not _kind(path):  # never opened: a FIFO or device named so is refused unread
        yield _failure(path, f"unsupported file type {_suffix(path) or '(no extension)'!r}")
    elif isinstance(found, str):
        yield _failure(path, found)
    else:
        yield from _guarded(path)


def _from_folder(folder: Path) -> Iterator[SourceRef | CaptureFailure | SkippedRecord]:
    captures = 0
    refused = False
    for path in walk(folder, lambda name: _kind(Path(name)) is not None):
        if isinstance(path, Refusal):
            refused = True
            yield _refused(path)
            continue
        found = regular_file(path)
        if isinstance(found, str):
            yield _failure(path, found)
            continue
        captures += 1
        yield from _guarded(path)
    if not captures and not refused:
        kinds = ".txt, .html, .htm, .mhtml, .warc, .warc.gz, .arc, .arc.gz, .wacz"
        yield _failure(folder, f"directory holds no captures ({kinds})")


def _failure(path: Path, reason: str) -> CaptureFailure:
    return CaptureFailure(_shown(path), reason)


def _refused(refusal: Refusal) -> CaptureFailure:
    return _failure(refusal.path, refusal.reason)


def _shown(path: Path, offset: int | None = None) -> str:
    """Return how a message names a path: as the user gave it (undecodable bytes percent-encoded), `#offset`."""
    shown = escaped_name(str(path))
    return f"{shown}#{offset}" if offset is not None else shown


def _guarded(path: Path) -> Iterator[SourceRef | CaptureFailure | SkippedRecord]:
    """Yield what one file holds; a reader's error on it (a format's case no reader foresaw) is its failure.

    What the file gave before the error is kept, and the batch goes on with the next file: one
    odd file must not stop a replay, or end it saying nothing failed.
    """
    try:
        yield from _from_file(path)
    except Exception as exc:  # any reader error on one file is that file's failure
        yield _failure(path, f"unreadable: {type(exc).__name__}: {short_reason(exc)}")


def _from_file(path: Path) -> Iterator[SourceRef | CaptureFailure | SkippedRecord]:
    kind = _kind(path)
    if kind == "wacz":
        yield from _from_wacz(path)
    elif kind == "warc":
        yield from _from_warc(path)
    else:
        yield SourceRef(path, str(kind))


def _from_wacz(path: Path) -> Iterator[SourceRef | CaptureFailure | SkippedRecord]:
    """Yield the records of a WACZ package's WARC files, each read in place in the package.

    WACZ stores its WARC files (`archive/`) uncompressed in the zip, so a record is addressed
    by its offset in the package, as ReplayWeb.page reads it. A WARC file the zip compressed or
    encrypted cannot be read so: it is named as a failure, and the package's other files are read.
    """
    spans: list[tuple[tuple[int, int], str]] = []
    problems: list[CaptureFailure] = []
    try:
        fd, status = open_regular(path)
        with os.fdopen(fd, "rb") as handle:
            members = [
                member
                for member in zipfile.ZipFile(handle).infolist()
                if member.filename.startswith("archive/") and member.filename.lower().endswith(WARC_SUFFIXES)
            ]
            for member in members:
                where = escaped_name(member.filename)
                start = _member_start(handle, member)
                if isinstance(start, str):
                    problems.append(_failure(path, f"{where}: {start}"))
                elif member.compress_type != zipfile.ZIP_STORED or member.flag_bits & 0x1:
                    problems.append(_failure(path, f"{where}: {_PACKED}"))
                elif start + member.compress_size > status.st_size:
                    short = start + member.compress_size - status.st_size
                    problems.append(_failure(path, f"{where}: the package ends {short} bytes before it does"))
                else:
                    spans.append(((start, start + member.compress_size), where))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, struct.error) as exc:  # not a zip, or cut short
        yield _failure(path, f"not a readable WACZ package (not a zip file, or cut short): {short_reason(exc)}")
        return
    except (OSError, ValueError, NotImplementedError) as exc:  # a name not in the encoding it claims...
        yield _failure(path, f"not a readable WACZ package: {short_reason(exc)}")
        return
    if not members:
        yield _failure(path, "a WACZ package with no WARC file in its archive/ folder")
    yield from problems
    for span, stored in sorted(spans):
        yield from _from_warc(path, span, stored)


def _member_start(handle: Any, member: zipfile.ZipInfo) -> int | str:
    """Return where a zip member's bytes start (past its local header, name and extra field), or why not."""
    handle.seek(member.header_offset)
    header = handle.read(30)
    if len(header) < 30 or not header.startswith(b"PK\x03\x04"):
        return f"no zip entry header at offset {member.header_offset}"
    name_length, extra_length = int.from_bytes(header[26:28], "little"), int.from_bytes(header[28:30], "little")
    return int(member.header_offset) + 30 + name_length + extra_length


def _from_warc(
    path: Path, span: tuple[int, int] | None = None, name: str | None = None
) -> Iterator[SourceRef | CaptureFailure | SkippedRecord]:
    """Yield the records of a WARC (or ARC) file: the whole of `path`, or its bytes `span` (start, end) in a package.

    `name` is the stored file's name in a package (else `path`'s): it tells the format when bit
    rot struck the file's first bytes.
    """
    size = 0
    start = end = span[0] if span else 0
    found: list[SourceRef | SkippedRecord] = []
    links: dict[int, tuple[str, ...]] = {}  # position in `found` -> the response's own id and its concurrent request's
    requests: dict[str, int] = {}  # request record offsets by their own id and by the record they answer
    failure = None
    damaged: list[CaptureFailure] = []  # each stretch no record reads whole from; the scan goes on past it
    try:
        fd, status = open_regular(path)
        size = span[1] if span else status.st_size
        with os.fdopen(fd, "rb") as handle:
            for scanned in scan_resync(handle, span=span, name=name or path.name):
                if isinstance(scanned, DamagedRegion):
                    damaged.append(_failure(path, _damage(scanned)))
                    end = scanned.end
                    continue
                offset, record_end, record = scanned
                end = record_end
                ids = tuple(
                    v for k in ("WARC-Record-ID", "WARC-Concurrent-To") if (v := record.rec_headers.get_header(k))
                )
                if record.rec_type == "request":
                    for key in ids:
                        requests.setdefault(key, offset)
                item = _classified(path, offset, record)
                if isinstance(item, SourceRef) and record.rec_type == "response":
                    links[len(found)] = ids
                found.append(item)
    except OSError as exc:
        failure = _failure(path, short_reason(exc)) if end == start and not found else None
        failure = failure or _failure(path, f"corrupt or truncated WARC at offset {end}: {short_reason(exc)}")
    except (*WARC_READ_ERRORS, SourceError) as exc:
        failure = _failure(path, f"corrupt or truncated WARC at offset {end}: {short_reason(exc)}")
    carried = {position: next((requests[i] for i in ids if i in requests), None) for position, ids in links.items()}
    kept_requests = {_shown(path, offset) for offset in carried.values() if offset is not None}
    for position, item in enumerate(found):
        if isinstance(item, SkippedRecord) and item.source in kept_requests:
            continue  # a request record carried with its response, not left behind
        request = carried.get(position)
        yield _replace(item, request_offset=request) if isinstance(item, SourceRef) and request is not None else item
    yield from damaged
    if failure is not None:
        yield failure
        return
    if size == start:
        yield _failure(path, "empty file (no records)" if span is None else f"{name}: empty file (no records)")
    if end < size:
        yield _failure(path, f"corrupt or truncated WARC: {size - end} unreadable bytes at offset {end}")


def _damage(region: DamagedRegion) -> str:
    """Return why a stretch of a WARC or ARC file gave no record, as its failure says it."""
    if region.reason == MANY_RECORDS_IN_A_MEMBER:  # sound bytes, in a shape no offset reads
        where = f"{region.length} bytes at offset {region.offset}"
        return f"{where} gzipped as one stream, not a member per record: {_RECOMPRESS}"
    if region.reason.startswith(ARC_VERSION_UNREAD):
        return region.reason
    return f"corrupt or truncated WARC at offset {region.offset}: {region.length} bytes {region.kind}: {region.reason}"


def _classified(path: Path, offset: int, record: Any) -> SourceRef | SkippedRecord:
    """Return what replay makes of one WARC record: a capture to load, or a record it counts and leaves."""
    where = _shown(path, offset)
    headers = record.rec_headers
    status = record.http_headers.get_statuscode() if record.http_headers else ""
    media = _record_media(record)
    target = headers.get_header("WARC-Target-URI") or ""
    if record.rec_type == "revisit" and headers.get_header("WARC-Refers-To-Target-URI"):
        profile = (headers.get_header("WARC-Profile") or "").rstrip("/").rsplit("/", 1)[-1]
        refers = (
            profile,
            headers.get_header("WARC-Refers-To-Target-URI"),
            headers.get_header("WARC-Refers-To-Date") or "",
        )
        return SourceRef(path, "warc", offset, revisit=refers)
    if record.rec_type not in REPLAYED_WARC_TYPES:
        return SkippedRecord(where, record.rec_type)
    scheme = _not_a_page(target)
    if scheme is not None:
        return SkippedRecord(where, f"{scheme} {record.rec_type}")  # what a tool noted of its crawl
    if record.format == "arc" and record.http_headers is None:  # an ftp:// file, or a fetch that got nothing
        return SkippedRecord(where, "ARC record without HTTP headers")  # warcio drops the media type it gave
    if headers.get_header("WARC-Truncated"):
        return SkippedRecord(where, f"truncated {record.rec_type}")  # cut short: not the page it would have been
    if is_robots_txt(target) and target.startswith(("http://", "https://")):
        return SkippedRecord(where, "robots.txt")  # what a crawler read for politeness, not a page
    if record.rec_type == "response" and status and not status.startswith("2"):
        return SkippedRecord(where, f"HTTP {status} response")  # a redirect, an error
    saved_page = record.rec_type == "resource" and media in MHTML_TYPES  # a page saved with its images
    if media and media not in PAGE_TYPES and not saved_page:
        return SkippedRecord(where, f"{media} {record.rec_type}")  # a sitemap, an image, a stylesheet
    return SourceRef(path, "arc" if record.format == "arc" else "warc", offset)  # an ARC record has no id of its own


def _not_a_page(target: str) -> str | None:
    """Return the scheme of a record's address that names no page ("dns:", "urn:text:"), else None.

    A page is addressed by http(s), ftp or file, or by `urn:file:` (a saved file, as this archive
    names it). Other schemes name what a tool wrote of its crawl: Heritrix's `dns:` lookups,
    wget's `metadata://` arguments and log, Browsertrix's `urn:text:` copy of a page's text (the
    page itself is its response record) and `urn:pageinfo:`. An address without a scheme, or a
    host and port written without one ("localhost:8080/"), is left to be read as a page.
    """
    scheme, colon, rest = target.partition(":")
    scheme = scheme.lower()
    if not colon or not _SCHEME.fullmatch(scheme) or scheme in _PAGE_SCHEMES or rest[:1].isdigit():
        return None
    if target.startswith(FILE_URN):
        return None
    if scheme == "urn":
        return f"urn:{rest.partition(':')[0].lower()}:"
    return f"{scheme}://" if rest.startswith("//") else f"{scheme}:"


def _record_media(record: Any) -> str | None:
    """Return the media type of a response's body or a resource record's block, if it says."""
    headers = record.http_headers if record.rec_type == "response" else None
    value = headers.get_header("Content-Type") if headers is not None else record.rec_headers.get_header("Content-Type")
    return media_kind(value)[0] if value else None


def load_capture(ref: SourceRef, *, max_bytes: int = DEFAULT_MAX_CAPTURE_BYTES) -> Capture:
    """Return the capture `ref` points at; raise SourceError when it cannot be read."""
    try:
        if ref.kind in ("warc", "arc"):
            return _load_warc_record(ref, max_bytes)
        return _load_file(ref, max_bytes)
    except SourceError:
        raise
    except WARC_READ_ERRORS as exc:
        raise SourceError(short_reason(exc)) from exc


def _load_file(ref: SourceRef, max_bytes: int) -> Capture:
    try:
        data, status = read_bounded(ref.path, max_bytes)
    except ValueError as exc:
        raise SourceError(str(exc)) from exc
    if ref.path.name.lower().endswith(".gz"):
        data = _gunzip(data, max_bytes)
    mtime = datetime.fromtimestamp(status.st_mtime, UTC)
    name = ref.name or ref.path.name
    url = Path(name).as_uri() if Path(name).is_absolute() else file_urn(name)
    common: dict[str, Any] = {
        "source_kind": "file",
        "source_location": escaped_name(name),
        "url": url,
        "captured_at": mtime,
    }
    if ref.kind == "mhtml":
        return _saved_page(data, "multipart/related", common)
    return Capture(payload=data, media_type="text/html" if ref.kind == "html" else "text/plain", **common)


def _saved_page(data: bytes, media: str, common: dict[str, Any]) -> Capture:
    """Return the capture of a page saved as MHTML: the file archived as it is, its page's HTML extracted.

    The page's address is the one the browser saved it from, and its time when it saved it
    (else the file's or the record's own).
    """
    if not data.strip():  # extraction names it empty, as any empty capture
        return Capture(payload=data, media_type=media, **common)
    try:
        page = read_mhtml(data)
    except ValueError as exc:
        raise SourceError(str(exc)) from exc
    saved = {"captured_at": page.saved_at} if page.saved_at else {}
    return Capture(
        payload=data, content=page.html, media_type=media, charset=page.charset, saved_from=page.url, **common | saved
    )


def _load_warc_record(ref: SourceRef, max_bytes: int) -> Capture:
    fd, _ = open_regular(ref.path)
    with os.fdopen(fd, "rb") as handle:
        handle.seek(ref.offset or 0)
        record = next(iter(warc_records(ArchiveIterator(handle, check_digests=False, arc2warc=True))), None)
        if record is None:
            raise SourceError("no WARC record at this offset")
        payload = record.raw_stream.read(max_bytes + 1)
        if len(payload) > max_bytes:
            raise SourceError(f"too large: WARC record payload over the {max_bytes}-byte limit")
        headers = record.http_headers
        date = record.rec_headers.get_header("WARC-Date")
        common = {
            "source_kind": "warc",
            "source_location": ref.location,
            "url": record.rec_headers.get_header("WARC-Target-URI"),
            "captured_at": datetime.fromisoformat(date.replace("Z", "+00:00")) if date else None,
            "ip_address": record.rec_headers.get_header("WARC-IP-Address"),
            "source_record_id": None if ref.kind == "arc" else record.rec_headers.get_header("WARC-Record-ID"),
        }
        if ref.request_offset is not None:
            common["request"] = _load_request(handle, ref.request_offset)
        if record.rec_type in ("response", "revisit") and headers is not None:
            media, charset = media_kind(headers.get_header("Content-Type"))
            status, _, reason = headers.statusline.partition(" ")
            return Capture(
                payload=payload,
                content=None if ref.revisit else _content(payload, headers, max_bytes),
                http_head=headers.to_bytes(),  # as warcio reads the record's head: Transfer-Encoding too
                media_type=media or "application/octet-stream",
                charset=charset,
                http_status=int(status) if status.isdigit() else None,
                http_reason=reason,
                http_headers=tuple((k, v) for k, v in headers.headers),
                http_protocol=headers.protocol or "HTTP/1.1",
                **common,
            )
        media, charset = media_kind(record.rec_headers.get_header("Content-Type"))
        if media in MHTML_TYPES:
            return _saved_page(payload, media, common)
        return Capture(payload=payload, media_type=media or "application/octet-stream", charset=charset, **common)


def _load_request(handle: Any, offset: int) -> WireRequest | None:
    """Return the request a WARC request record holds (method, target, protocol, headers), if it reads."""
    handle.seek(offset)
    record = next(iter(warc_records(ArchiveIterator(handle, check_digests=False))), None)
    http = record.http_headers if record is not None else None
    if http is None or not http.statusline:
        return None
    target, _, protocol = http.statusline.partition(" ")  # warcio: protocol=method, statusline="target HTTP/x"
    return WireRequest(http.protocol, target, tuple((k, v) for k, v in http.headers), protocol or "HTTP/1.1")


def _content(payload: bytes, headers: Any, max_bytes: int) -> bytes | None:
    """Return an HTTP body as extraction reads it, when that differs from the payload stored.

    A body archived as transferred in chunks keeps its chunk framing in the record: undone here,
    then the Content-Encoding.
    """
    body = dechunk(payload) if is_chunked(headers.headers) else payload
    decoded = _decoded(body, headers.get_header("Content-Encoding"), max_bytes)
    if decoded is not None:
        return decoded
    return body if body != payload else None


def decode_content(payload: bytes, encoding: str | None, max_bytes: int = DEFAULT_MAX_CAPTURE_BYTES) -> bytes:
    """Return an HTTP body without its Content-Encoding; SourceError when it cannot be undone."""
    decoded = _decoded(payload, encoding, max_bytes)
    return payload if decoded is None else decoded


def _decoded(payload: bytes, encoding: str | None, max_bytes: int) -> bytes | None:
    if not encoding or encoding.strip().lower() in ("identity", ""):
        return None
    if encoding.strip().lower() in ("gzip", "x-gzip", "deflate"):
        return _gunzip(payload, max_bytes, wbits=47)
    if encoding.strip().lower() == "br":
        return _unbrotli(payload, max_bytes)
    raise SourceError(f"unsupported Content-Encoding {encoding!r}")


def _unbrotli(data: bytes, max_bytes: int) -> bytes:
    """Return brotli `data` decompressed, a piece at a time, refusing output over `max_bytes`."""
    decompressor = brotli.Decompressor()
    pieces, size = [], 0
    try:
        piece = decompressor.process(data, output_buffer_limit=1 << 20)
        while piece:
            size += len(piece)
            if size > max_bytes:
                raise SourceError(f"too large: decompresses to over the {max_bytes}-byte limit")
            pieces.append(piece)
            piece = decompressor.process(b"", output_buffer_limit=1 << 20) if not decompressor.is_finished() else b""
    except brotli.error as exc:
        raise SourceError(f"corrupt brotli data: {exc}") from exc
    if not decompressor.is_finished():
        raise SourceError("corrupt brotli data: truncated stream")
    return b"".join(pieces)


def _gunzip(data: bytes, max_bytes: int, wbits: int = 31) -> bytes:
    """Return `data` decompressed, refusing output over `max_bytes` (a decompression bomb)."""
    pieces, size, rest = [], 0, data
    while True:  # a gzip stream may hold several members, one after another
        decompressor = zlib.decompressobj(wbits)
        try:
            piece = decompressor.decompress(rest, max_bytes + 1 - size)
        except zlib.error as exc:
            raise SourceError(f"corrupt gzip data: {exc}") from exc
        size += len(piece)
        if size > max_bytes:
            raise SourceError(f"too large: decompresses to over the {max_bytes}-byte limit")
        if not decompressor.eof:
            raise SourceError("corrupt gzip data: truncated stream")
        pieces.append(piece)
        rest = decompressor.unused_data
        if rest[:2] != b"\x1f\x8b":  # no further member (trailing padding is ignored, as gzip does)
            return b"".join(pieces)


def _kind(path: Path) -> str | None:
    name = path.name.lower()
    if name.endswith((*WARC_SUFFIXES, *ARC_SUFFIXES)):
        return "warc"
    if name.endswith(WACZ_SUFFIX):
        return "wacz"
    if name.endswith(HTML_SUFFIXES):
        return "html"
    if name.endswith(MHTML_SUFFIXES):
        return "mhtml"
    if name.endswith(TEXT_SUFFIXES):
        return "text"
    return None


def _suffix(path: Path) -> str:
    return "".join(path.suffixes[-2:]) if path.name.lower().endswith(".gz") else path.suffix
