"""The archive: WARC files, the SQL catalog, and the thin Scrapy adapters that feed them.

The Scrapy adapters (archive.crawl.pipeline, archive.crawl.replay, archive.crawl.progress) are named by
dotted path in settings.py and are not imported here, so the catalog and WARC tools
load without Scrapy.
"""

from __future__ import annotations

from archive.catalog.facade import AmbiguousId, Catalog, SearchHit, default_db_url
from archive.frontier.store import Frontier, FrontierError
from archive.warc.sources import CaptureFailure, SkippedRecord, SourceError, SourceRef, find_sources, load_capture
from archive.warc.writer import WarcFileWriter, WarcReadError, read_payload

__all__ = [
    "AmbiguousId",
    "CaptureFailure",
    "Catalog",
    "Frontier",
    "FrontierError",
    "SearchHit",
    "SkippedRecord",
    "SourceError",
    "SourceRef",
    "WarcFileWriter",
    "WarcReadError",
    "default_db_url",
    "find_sources",
    "load_capture",
    "read_payload",
]
