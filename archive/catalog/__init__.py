"""The SQL catalog: a thin `Catalog` facade over engine, schema (migrations), runs, captures, ingest,
site_lines, search and similarity, on SQLite (embedded) or PostgreSQL (shared).

Rows are not domain records: models.py maps them, and records and runs leave the catalog as
`scraper.Record` and `CrawlRun` values. Names below load on first use.
"""

from __future__ import annotations

import typing

import scraper._lazy

if typing.TYPE_CHECKING:
    from archive.catalog.captures import AmbiguousId
    from archive.catalog.facade import Catalog
    from archive.catalog.filters import SORTS, SearchFilters
    from archive.catalog.runs import CrawlRun
    from archive.catalog.search import SearchHit
    from archive.catalog.similarity import Similar, Story

__all__ = ["SORTS", "AmbiguousId", "Catalog", "CrawlRun", "SearchFilters", "SearchHit", "Similar", "Story"]

__getattr__ = scraper._lazy.lazy_exports(
    __name__,
    {
        "AmbiguousId": "archive.catalog.captures",
        "Catalog": "archive.catalog.facade",
        "CrawlRun": "archive.catalog.runs",
        "SORTS": "archive.catalog.filters",
        "SearchFilters": "archive.catalog.filters",
        "SearchHit": "archive.catalog.search",
        "Similar": "archive.catalog.similarity",
        "Story": "archive.catalog.similarity",
    },
)
