"""The record of a capture whose extraction failed: what the capture is, no main text, and why."""

from __future__ import annotations

from datetime import UTC, datetime

from scraper._text import sha256_hex
from scraper._version import __version__
from scraper.capture import Capture
from scraper.extract import identity, iso_utc
from scraper.record import Provenance, Record

__all__ = ["NO_TEXT_EXTRACTOR", "no_text_record"]

NO_TEXT_EXTRACTOR = "none"  # the extractor a record with no main text names


def no_text_record(capture: Capture, reason: str, *, crawl_id: str | None = None) -> Record:
    """Return the record of `capture` with no main text: its addresses, digests and provenance, and `reason`.

    Its raw records are archived like any capture's, so nothing fetched is lost; the catalog
    lists it without text (provenance `no_text`), and `scraper reextract` can try it again. Its
    id, like any record's, comes from its canonical URL and its bytes (`identity`).
    """
    return Record(
        **identity(capture, None),
        site_name=None,
        title=None,
        authors=(),
        published=None,
        language=None,
        tags=(),
        description=None,
        text="",
        word_count=0,
        text_sha256=sha256_hex(""),
        provenance=Provenance(
            source_kind=capture.source_kind,
            source_location=capture.source_location,
            captured_at=iso_utc(capture.captured_at or datetime.fromtimestamp(0, UTC)),
            media_type=capture.media_type,
            encoding=capture.charset,
            http_status=capture.http_status,
            http_headers=capture.http_headers,
            extractor=NO_TEXT_EXTRACTOR,
            project_version=__version__,
            crawl_id=crawl_id,
            source_record_id=capture.source_record_id,
            no_text=reason,
        ),
    )
