"""The library: captures in, normalized records out. Imports neither scrapy nor sqlalchemy."""

from __future__ import annotations

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
