"""What a run's WARC files say about its pages: the captures it extracted, and those it saw unchanged (revisits).

A WACZ lists its pages in pages/pages.jsonl; this module reads them from the run's own WARC
files, so the list describes what the package holds: each extraction (its `metadata` record,
the record as JSON, and its `conversion` record, the text) names the raw record it comes from
by `WARC-Refers-To`, and that raw record's URI and date are where and when a replay tool finds
the page. Revisits are read here too; the captures they repeat come from the catalog.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from warcio.archiveiterator import ArchiveIterator

from archive.warc.reader import WARC_READ_ERRORS, DamagedRegion, digest_damage, scan_resync
from scraper import Record

__all__ = ["Extraction", "Revisit", "RunRecords", "extraction_row", "instant", "read_run", "revisit_row"]

_BODIES = ("conversion", "metadata")  # the records whose block read_run reads: the text, the record as JSON


@dataclass(slots=True)
class Extraction:
    """One extraction a run wrote: the record as JSON (without its text), the text, and the raw record's address."""

    record: dict[str, Any] = field(default_factory=dict)
    text: str | None = None
    refers_to_uri: str | None = None  # WARC-Refers-To-Target-URI, else (older archives) WARC-Target-URI
    refers_to_date: str | None = None  # WARC-Refers-To-Date, when written

    def raw_location(self) -> dict[str, Any] | None:
        """Return the raw record's place (file, offset, length, record_id) as the record names it."""
        location = self.record.get("provenance", {}).get("warc_raw")
        return location if isinstance(location, dict) else None


@dataclass(frozen=True, slots=True)
class Revisit:
    """A revisit record: the capture seen again, and the earlier capture it repeats."""

    record_id: str
    url: str
    date: str
    refers_to: str | None
    refers_to_uri: str
    refers_to_date: str


@dataclass(slots=True)
class RunRecords:
    """The extractions (by the raw record they refer to, in file order) and revisits of a run's WARC files."""

    extractions: dict[str, Extraction] = field(default_factory=dict)
    revisits: list[Revisit] = field(default_factory=list)

    def raw_files(self) -> set[str]:
        """Return the names of the WARC files holding the raw records the extractions refer to."""
        return {str(loc["file"]) for e in self.extractions.values() if (loc := e.raw_location()) and loc.get("file")}


def read_run(files: Iterable[Path]) -> RunRecords:
    """Return the extractions and revisits WARC `files` hold, in their complete records (damage is read past)."""
    found = RunRecords()
    for path in files:
        with open(path, "rb") as handle:
            for item in scan_resync(handle, check_digests=True, strict=True, keep=_BODIES):
                if not isinstance(item, DamagedRegion) and digest_damage(*item) is None:
                    _take(found, item[2])
    return found


def _take(found: RunRecords, record: Any) -> None:
    headers = record.rec_headers
    kind = record.rec_type
    if kind == "revisit":
        found.revisits.append(
            Revisit(
                record_id=headers.get_header("WARC-Record-ID") or "",
                url=headers.get_header("WARC-Target-URI") or "",
                date=headers.get_header("WARC-Date") or "",
                refers_to=headers.get_header("WARC-Refers-To"),
                refers_to_uri=headers.get_header("WARC-Refers-To-Target-URI") or "",
                refers_to_date=headers.get_header("WARC-Refers-To-Date") or "",
            )
        )
        return
    raw_id = headers.get_header("WARC-Refers-To")
    media = (headers.get_header("Content-Type") or "").split(";")[0].strip()
    if kind not in ("conversion", "metadata") or not raw_id or (kind == "metadata" and media != "application/json"):
        return
    extraction = found.extractions.setdefault(raw_id, Extraction())
    extraction.refers_to_uri = headers.get_header("WARC-Refers-To-Target-URI") or headers.get_header("WARC-Target-URI")
    extraction.refers_to_date = headers.get_header("WARC-Refers-To-Date") or extraction.refers_to_date
    body = record.block.decode("utf-8", "replace")
    if kind == "conversion":
        extraction.text = body
        return
    try:
        loaded = json.loads(body)
    except ValueError:
        loaded = None
    extraction.record = loaded if isinstance(loaded, dict) else {}  # not our record JSON: no page


def extraction_row(extraction: Extraction, warc_dir: Path) -> dict[str, Any] | None:
    """Return the page row of an extraction: at the raw record's URI and date, with the record's id, title and text."""
    record = extraction.record
    if not record.get("id"):
        return None  # a conversion without its metadata record: no record to name
    url, date = _raw_address(extraction, warc_dir)
    if not url or not date:
        return None
    return _row(str(record["id"]), url, date, record.get("title"), extraction.text)


def revisit_row(revisit: Revisit, original: Record) -> dict[str, Any]:
    """Return the page row of a revisit: its own URI, date and record id, the original capture's title and text."""
    row_id = revisit.record_id.strip("<>").removeprefix("urn:uuid:").replace("-", "")
    return _row(row_id, revisit.url, revisit.date, original.title, original.text)


def _row(row_id: str, url: str, ts: str, title: str | None, text: str | None) -> dict[str, Any]:
    # ReplayWeb.page shows the title and searches the text; py-wacz uses the URL when there is no title.
    return {"id": row_id, "url": url, "ts": ts, "title": title or url, "text": text or ""}


def _raw_address(extraction: Extraction, warc_dir: Path) -> tuple[str | None, str | None]:
    """Return the raw record's WARC-Target-URI and WARC-Date: read at its place, else as the extraction names them."""
    location = extraction.raw_location()
    if location is not None:
        found = _headers_at(warc_dir / str(location.get("file", "")), int(location.get("offset", -1)))
        if found is not None and found.get_header("WARC-Record-ID") == location.get("record_id"):
            return found.get_header("WARC-Target-URI"), found.get_header("WARC-Date")
    captured_at = extraction.record.get("provenance", {}).get("captured_at")
    return extraction.refers_to_uri, extraction.refers_to_date or captured_at


def _headers_at(path: Path, offset: int) -> Any:
    """Return the WARC headers of the record at `offset` of `path`, or None when there is none to read."""
    if offset < 0 or not path.is_file():
        return None
    try:
        with open(path, "rb") as handle:
            handle.seek(offset)
            for record in ArchiveIterator(handle):
                return record.rec_headers
    except WARC_READ_ERRORS:  # damaged there: the address the extraction names is used
        return None
    return None


def instant(value: str | None) -> datetime | None:
    """Return a WARC or ISO date as a datetime (any precision), or None when it is not one."""
    if not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
