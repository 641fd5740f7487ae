"""The archive: WARC files, the SQL catalog, and the thin Scrapy adapters that feed them.

The Scrapy adapters (archive.crawl.pipeline, archive.crawl.replay, archive.crawl.progress) are named by
dotted path in settings.py and are not imported here, so the catalog and WARC tools
load without Scrapy.
"""

from __future__ import annotations

from archive.catalog.facade import AmbiguousId, Catalog, SearchHit
from archive.frontier.store import Frontier, FrontierError
from archive.layout import DataLayout
from archive.warc.reader import WarcReadError, read_payload
from archive.warc.sources import CaptureFailure, SkippedRecord, SourceError, SourceRef, find_sources, load_capture
from archive.warc.writer import WarcFileWriter

__all__ = [
    "AmbiguousId",
    "CaptureFailure",
    "Catalog",
    "DataLayout",
    "Frontier",
    "FrontierError",
    "SearchHit",
    "SkippedRecord",
    "SourceError",
    "SourceRef",
    "WarcFileWriter",
    "WarcReadError",
    "find_sources",
    "load_capture",
    "read_payload",
]
