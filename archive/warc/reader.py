"""Reading WARC files back: every complete record with its offsets, one payload at a known place."""

from __future__ import annotations

import os
import zlib
from collections.abc import Collection, Iterator
from pathlib import Path
from typing import IO

from warcio.archiveiterator import ArchiveIterator
from warcio.exceptions import ArchiveLoadFailed
from warcio.recordloader import ArcWarcRecord

from archive.errors import ArchiveError
from scraper import WarcLocation

__all__ = [
    "WARC_READ_ERRORS",
    "MalformedRecord",
    "TornRecord",
    "WarcReadError",
    "read_payload",
    "scan_records",
    "warc_records",
]


class WarcReadError(ArchiveError):
    """A WARC record could not be read back where the catalog says it is."""


class TornRecord(ArchiveError):
    """A WARC record stops before its Content-Length says it ends."""


class MalformedRecord(ArchiveError):
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
                payload: bytes = warc_record.raw_stream.read()
                return payload
    except OSError as exc:
        raise WarcReadError(f"{path}: {exc.strerror or exc}") from exc
    except WARC_READ_ERRORS as exc:
        raise WarcReadError(f"{path}@{location.offset}: {exc}") from exc
    raise WarcReadError(f"{path}@{location.offset}: no WARC record there")
