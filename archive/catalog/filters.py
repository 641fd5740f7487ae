"""What a search or a story listing is narrowed to: the filters `scraper query` and `scraper stories` share."""

from __future__ import annotations

import re
from dataclasses import dataclass, fields
from typing import Any

from sqlalchemy import ColumnElement

from archive.errors import UsageError

__all__ = ["MAX_FILTER_CHARS", "SORTS", "SearchFilters", "bounded", "checked", "id_prefix"]

SORTS = ("relevance", "newest", "oldest", "published")
# Longer than any site name (253), author, language or run id: a longer value is a mistake or an attack.
MAX_FILTER_CHARS = 256
_OPTIONS = {"language": "lang"}  # the CLI options whose names differ from the fields'
_HEX = re.compile(r"[0-9a-f]*", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class SearchFilters:
    """Conditions every capture found must meet; None means "any".

    `site` takes subdomains too; `author` is part of one author's name, any case; `since`/`until`
    are YYYY-MM-DD publication dates (the capture date where none is known), both ends inclusive;
    `captured_since`/`captured_until` are capture dates; `crawl` is a run id or its prefix.
    """

    site: str | None = None
    author: str | None = None
    language: str | None = None
    since: str | None = None
    until: str | None = None
    captured_since: str | None = None
    captured_until: str | None = None
    crawl: str | None = None


def checked(filters: SearchFilters) -> SearchFilters:
    """Return `filters` when every value is of a sane length; UsageError names the first that is not."""
    for field in fields(filters):
        value = getattr(filters, field.name)
        if value is not None:
            bounded(value, "--" + _OPTIONS.get(field.name, field.name).replace("_", "-"))
    return filters


def bounded(value: str, what: str, *, hex_only: bool = False) -> str:
    """Return `value` when it is at most MAX_FILTER_CHARS long (and hex, if `hex_only`); else UsageError."""
    if len(value) > MAX_FILTER_CHARS:
        raise UsageError(f"{what} is {len(value):,} characters long: at most {MAX_FILTER_CHARS} are allowed")
    if hex_only and not _HEX.fullmatch(value):
        raise UsageError(f"{what} {value!r} is not hexadecimal: ids are made of 0-9 and a-f")
    return value


def id_prefix(column: Any, prefix: str, what: str = "run id") -> ColumnElement[bool]:
    """Return the condition that `column` starts with `prefix`, taken literally (LIKE's % and _ escaped)."""
    return column.startswith(bounded(prefix, what), autoescape=True)  # type: ignore[no-any-return]
