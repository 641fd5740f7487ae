"""What a search or a story listing is narrowed to: the filters `scraper query` and `scraper stories` share."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["SORTS", "SearchFilters"]

SORTS = ("relevance", "newest", "oldest", "published")


@dataclass(frozen=True, slots=True)
class SearchFilters:
    """Conditions every capture found must meet; None means "any".

    `site` takes subdomains too; `since`/`until` are YYYY-MM-DD publication dates (the capture
    date where none is known), both ends inclusive; `captured_since`/`captured_until` are
    capture dates; `crawl` is a run id or its prefix.
    """

    site: str | None = None
    author: str | None = None
    language: str | None = None
    since: str | None = None
    until: str | None = None
    captured_since: str | None = None
    captured_until: str | None = None
    crawl: str | None = None
