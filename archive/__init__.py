"""The archive: WARC files, the SQL catalog, the shared frontier, and the Scrapy adapters that feed them.

Subpackages, one per concern: warc/ (write, read, recover WARC files; saved captures as
sources), catalog/ (the SQL catalog), frontier/ (the shared Redis frontier), crawl/ (the
Scrapy adapters, named by dotted path in settings.py), integrity/ (verify, repair),
export/ (tables, CDXJ, WACZ), cli/ (the `scraper` command). layout.py says where a data
folder keeps its files; errors.py is the one error tree. Names below load on first use,
so importing `archive` costs nothing and never loads Scrapy.
"""

from __future__ import annotations

import typing

import scraper._lazy

if typing.TYPE_CHECKING:
    from archive.catalog.captures import AmbiguousId
    from archive.catalog.facade import Catalog
    from archive.catalog.filters import SearchFilters
    from archive.catalog.search import SearchHit
    from archive.errors import ArchiveError, NotFound, UsageError
    from archive.frontier.store import Frontier, FrontierError
    from archive.layout import DataLayout
    from archive.warc.reader import WarcReadError, read_payload
    from archive.warc.sources import CaptureFailure, SkippedRecord, SourceError, SourceRef, find_sources, load_capture
    from archive.warc.writer import WarcFileWriter

__all__ = [
    "AmbiguousId",
    "ArchiveError",
    "CaptureFailure",
    "Catalog",
    "DataLayout",
    "Frontier",
    "FrontierError",
    "NotFound",
    "SearchFilters",
    "SearchHit",
    "SkippedRecord",
    "SourceError",
    "SourceRef",
    "UsageError",
    "WarcFileWriter",
    "WarcReadError",
    "find_sources",
    "load_capture",
    "read_payload",
]

__getattr__ = scraper._lazy.lazy_exports(
    __name__,
    {
        "AmbiguousId": "archive.catalog.captures",
        "ArchiveError": "archive.errors",
        "CaptureFailure": "archive.warc.sources",
        "Catalog": "archive.catalog.facade",
        "DataLayout": "archive.layout",
        "Frontier": "archive.frontier.store",
        "FrontierError": "archive.frontier.store",
        "NotFound": "archive.errors",
        "SearchFilters": "archive.catalog.filters",
        "SearchHit": "archive.catalog.search",
        "SkippedRecord": "archive.warc.sources",
        "SourceError": "archive.warc.sources",
        "SourceRef": "archive.warc.sources",
        "UsageError": "archive.errors",
        "WarcFileWriter": "archive.warc.writer",
        "WarcReadError": "archive.warc.reader",
        "find_sources": "archive.warc.sources",
        "load_capture": "archive.warc.sources",
        "read_payload": "archive.warc.reader",
    },
)
