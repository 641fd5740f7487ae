"""Seed files: one URL per line, `#` comments, and per-seed options.

    https://news.example/                      # a page: archived, links followed to --depth
    https://news.example/feed.xml  feed        # a marker: feed, sitemap, page or robots
    https://news.example/sitemap.xml sitemap depth=1 max-pages=500

Options are `depth=N` (link hops from this seed), `max-pages=N` (pages from this seed) and
`kind=K` (the same as a bare marker). Without a kind, the response decides: a sitemap or
sitemap index, an RSS or Atom feed, robots.txt (its Sitemap: lines), else an HTML page.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from archive.errors import ArchiveError
from scraper.urls import lower_case_host, redacted

__all__ = ["KINDS", "Seed", "SeedError", "parse_seed_lines", "read_seed_file", "seed_from_url", "stored_seed"]

KINDS = ("auto", "page", "feed", "sitemap", "robots")
_MAX_LINE = 8192


class SeedError(ArchiveError, ValueError):
    """A seed line that cannot be used, with the file and line it came from."""


@dataclass(frozen=True, slots=True)
class Seed:
    """Where a crawl starts, and how far it may go from there."""

    url: str
    kind: str = "auto"
    depth: int | None = None  # None: the crawl's --depth
    max_pages: int | None = None


def parse_seed_lines(lines: Iterable[str], source: str = "<seeds>") -> list[Seed]:
    """Return the seeds of a seed file's lines; SeedError names the first bad line."""
    seeds = []
    for number, raw in enumerate(lines, 1):
        where = f"{source}:{number}"
        if len(raw) > _MAX_LINE:
            raise SeedError(f"{where}: line longer than {_MAX_LINE} characters")
        line = _strip_comment(raw)
        if not line:
            continue
        url, *options = line.split()
        seeds.append(_seed(url, options, where))
    return seeds


def read_seed_file(path: Path) -> list[Seed]:
    """Return the seeds in a UTF-8 seed file."""
    try:
        text = path.read_text(encoding="utf-8-sig")  # a byte order mark (Windows editors write one) is no URL
    except UnicodeDecodeError as exc:
        raise SeedError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    except OSError as exc:
        raise SeedError(f"{path}: {exc.strerror or exc}") from exc
    return parse_seed_lines(text.splitlines(), str(path))


def seed_from_url(url: str, kind: str = "auto") -> Seed:
    """Return a seed for a URL given on the command line."""
    return _seed(url, [f"kind={kind}"], "command line")


def stored_seed(data: dict[str, Any], run: str) -> Seed:
    """Return a seed a crawl's record kept, checked again: one recorded before a check existed may be bad."""
    _seed(str(data.get("url", "")), [], f"crawl {run[:8]}'s seed (it cannot be resumed)")
    return Seed(**data)


def _strip_comment(raw: str) -> str:
    # A '#' in a URL is a fragment, not a comment: a comment starts after whitespace.
    text = raw.strip()
    if text.startswith("#"):
        return ""
    for at in range(1, len(text)):
        if text[at] == "#" and text[at - 1].isspace():
            return text[:at].strip()
    return text


def _seed(url: str, options: list[str], where: str) -> Seed:
    try:
        parts = urlsplit(url)
        host, _port = parts.hostname, parts.port  # .port: ValueError for :abc or :99999
    except ValueError as exc:  # an unbalanced "[" of an IPv6 host, found by fuzzing
        raise SeedError(f"{where}: not a URL: {redacted(url)!r} ({exc})") from exc
    if parts.scheme not in ("http", "https") or not host:
        raise SeedError(f"{where}: not an http(s) URL: {redacted(url)!r}")
    if parts.username is not None or parts.password is not None:  # fetched, it fails as "invalid hostname"
        raise SeedError(f"{where}: {redacted(url)!r}: a user or password in a seed URL cannot be sent: leave it out")
    url = lower_case_host(url)  # HTTP://Example.COM/Page is http://example.com/Page
    kind, depth, max_pages = "auto", None, None
    for option in options:
        key, sep, value = option.partition("=")
        key = key.lower()
        if not sep and key in KINDS:
            kind = key
        elif key == "kind" and value in KINDS:
            kind = value
        elif key in ("depth", "max-pages") and value.isdigit() and (key == "depth" or int(value) > 0):
            if key == "depth":
                depth = int(value)
            else:
                max_pages = int(value)
        else:
            raise SeedError(f"{where}: unknown option {option!r} (use {', '.join(KINDS)}, depth=N, max-pages=N from 1)")
    return Seed(url, kind, depth, max_pages)
