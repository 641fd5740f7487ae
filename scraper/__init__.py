"""The library: captures in, normalized records out. Imports neither scrapy nor sqlalchemy."""

from __future__ import annotations

import typing

import scraper._lazy

if typing.TYPE_CHECKING:
    from scraper._version import __version__
    from scraper.capture import Capture, WireRequest, media_kind
    from scraper.errors import CaptureError
    from scraper.evidence import LineCounts, SiteEvidence, evidence_scope
    from scraper.extract import build_record, iso_utc, record_id
    from scraper.record import Provenance, Record, WarcLocation
    from scraper.strip import StrippedText, strip_boilerplate
    from scraper.urls import normalize_url, site_of

__all__ = [
    "Capture",
    "CaptureError",
    "LineCounts",
    "Provenance",
    "Record",
    "SiteEvidence",
    "StrippedText",
    "WarcLocation",
    "WireRequest",
    "__version__",
    "build_record",
    "evidence_scope",
    "iso_utc",
    "media_kind",
    "normalize_url",
    "record_id",
    "site_of",
    "strip_boilerplate",
]

__getattr__ = scraper._lazy.lazy_exports(
    __name__,
    {
        "Capture": "scraper.capture",
        "CaptureError": "scraper.errors",
        "LineCounts": "scraper.evidence",
        "Provenance": "scraper.record",
        "Record": "scraper.record",
        "SiteEvidence": "scraper.evidence",
        "StrippedText": "scraper.strip",
        "WarcLocation": "scraper.record",
        "WireRequest": "scraper.capture",
        "__version__": "scraper._version",
        "build_record": "scraper.extract",
        "evidence_scope": "scraper.evidence",
        "iso_utc": "scraper.extract",
        "media_kind": "scraper.capture",
        "normalize_url": "scraper.urls",
        "record_id": "scraper.extract",
        "site_of": "scraper.urls",
        "strip_boilerplate": "scraper.strip",
    },
)
