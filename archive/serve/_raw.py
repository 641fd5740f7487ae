"""A record's raw capture, read from the WARC file the catalog names, never from outside the data folder."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from archive.errors import NotFound
from archive.warc.reader import read_payload
from archive.warc.sources import SourceError, decode_content
from scraper.capture import dechunk, is_chunked

if TYPE_CHECKING:
    from archive.layout import DataLayout
    from scraper import Record

__all__ = ["MAX_SOURCE_BYTES", "raw_payload", "source_text"]

MAX_SOURCE_BYTES = 2 * 1024 * 1024  # the source view shows this much; the download has it all


def raw_payload(layout: DataLayout, record: Record) -> bytes:
    """Return the capture's bytes as the source sent them; NotFound: no raw record, or one outside the WARC folder."""
    location = record.provenance.warc_raw
    if location is None:
        raise NotFound(f"record {record.id} has no raw WARC record")
    name = location.file
    folder = layout.warc.resolve()
    inside = (folder / name).resolve()
    # The catalog's file names are bare names in warc/: any other form is refused before a file is opened.
    if "/" in name or "\\" in name or name in ("", ".", "..") or inside.parent != folder:
        raise NotFound(f"record {record.id}: its WARC file {name[:80]!r} is not in the data folder's warc/")
    return read_payload(layout.warc, location)


def _as_sent_for_reading(payload: bytes, headers: Iterable[tuple[str, str]]) -> bytes:
    """Return an HTTP body without its chunk framing and Content-Encoding; as it is, when they cannot be undone."""
    headers = list(headers)
    if is_chunked(headers):
        payload = dechunk(payload)
    coding = next((v for k, v in reversed(headers) if k.lower() == "content-encoding"), None)
    try:
        return decode_content(payload, coding)
    except SourceError:
        return payload


def source_text(layout: DataLayout, record: Record) -> tuple[str, bool]:
    """Return the raw capture decoded as text for the source view, and whether it was cut at MAX_SOURCE_BYTES.

    The body as transferred is read as the page: its chunk framing and its Content-Encoding
    (gzip, deflate, br) undone, as most live captures need; one that does not decode is shown as stored.
    """
    payload = _as_sent_for_reading(raw_payload(layout, record), record.provenance.http_headers)
    encoding = record.provenance.encoding or "utf-8"
    try:
        text = payload[:MAX_SOURCE_BYTES].decode(encoding, errors="replace")
    except LookupError:  # an encoding name Python does not know
        text = payload[:MAX_SOURCE_BYTES].decode("utf-8", errors="replace")
    return text, len(payload) > MAX_SOURCE_BYTES
