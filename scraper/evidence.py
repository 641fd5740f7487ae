"""Cross-capture evidence: a line that recurs on several pages of one site is that site's furniture.

Article text is written once; menus, footers, newsletter boxes and "about us" blurbs are
repeated on every page of a site. A line counts as recurring when it was seen on at least
MIN_OTHER_URLS other URLs of the same site. Lines are compared by a key: casefolded,
whitespace-normalized, every run of digits made "0" (so "496 shares" and "1,204 shares"
match), hashed to 16 hex characters so the catalog stores no page text twice.

The evidence depends on what was archived before, so the same capture can lose a few more
lines once its site is better known; the record's provenance says how many lines it lost.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Callable, Collection, Iterable
from typing import Protocol

from scraper._text import normalize_line
from scraper.urls import normalize_url, site_of

__all__ = [
    "MIN_OTHER_URLS",
    "LineCounts",
    "Lookup",
    "SiteEvidence",
    "evidence_scope",
    "line_key",
    "line_keys",
    "url_key",
]

MIN_OTHER_URLS = 2
_DIGITS = re.compile(r"\d+(?:[.,]\d+)*")


def line_key(line: str) -> str | None:
    """Return the key a line is compared by across captures, or None for a line without letters."""
    text = normalize_line(line).casefold()
    if not any(ch.isalpha() for ch in text):
        return None
    return hashlib.blake2b(_DIGITS.sub("0", text).encode("utf-8"), digest_size=8).hexdigest()


def line_keys(lines: Iterable[str]) -> tuple[str, ...]:
    """Return the distinct keys of `lines`, in order of first appearance."""
    return tuple(dict.fromkeys(k for k in map(line_key, lines) if k is not None))


def url_key(url: str) -> str:
    """Return the 16-hex-character key a page URL is counted under."""
    return hashlib.blake2b(url.encode("utf-8"), digest_size=8).hexdigest()


def evidence_scope(url: str | None) -> tuple[str, str] | None:
    """Return (site, canonical URL) a capture fetched from `url` is compared within, if it has a web URL."""
    if not url or not url.startswith(("http://", "https://")):
        return None
    canonical = normalize_url(url)
    site = site_of(canonical)
    return (site, canonical) if site else None


class SiteEvidence(Protocol):
    """What the archive knows about a site's pages: which of some line keys recur across them."""

    def recurring(self, site: str, url: str, keys: Collection[str]) -> Collection[str]:
        """Return the keys among `keys` seen on at least MIN_OTHER_URLS URLs of `site` other than `url`."""
        ...


Lookup = Callable[[Collection[str]], Collection[str]]


class LineCounts:
    """In-memory site evidence for one batch (the catalog keeps its own for archives)."""

    def __init__(self, min_other_urls: int = MIN_OTHER_URLS) -> None:
        self.min_other_urls = min_other_urls
        self._urls: dict[str, set[str]] = {}
        self._counts: dict[str, Counter[str]] = {}

    def add(self, site: str, url: str, keys: Iterable[str]) -> None:
        """Count the line keys of one page; a URL counts once however often it is captured."""
        urls = self._urls.setdefault(site, set())
        if url in urls:
            return
        urls.add(url)
        self._counts.setdefault(site, Counter()).update(set(keys))

    def recurring(self, site: str, url: str, keys: Collection[str]) -> Collection[str]:
        counts = self._counts.get(site)
        if not counts:
            return frozenset()
        needed = self.min_other_urls + (url in self._urls[site])
        return frozenset(k for k in keys if counts[k] >= needed)
