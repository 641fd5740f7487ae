"""A record's raw capture, read from the WARC file the catalog names, never from outside the data folder."""

from __future__ import annotations

from typing import TYPE_CHECKING

from archive.errors import NotFound
from archive.warc.reader import read_payload

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


def source_text(layout: DataLayout, record: Record) -> tuple[str, bool]:
    """Return the raw capture decoded as text for the source view, and whether it was cut at MAX_SOURCE_BYTES."""
    payload = raw_payload(layout, record)
    encoding = record.provenance.encoding or "utf-8"
    try:
        text = payload[:MAX_SOURCE_BYTES].decode(encoding, errors="replace")
    except LookupError:  # an encoding name Python does not know
        text = payload[:MAX_SOURCE_BYTES].decode("utf-8", errors="replace")
    return text, len(payload) > MAX_SOURCE_BYTES
