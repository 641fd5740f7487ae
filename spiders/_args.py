"""Spider arguments as `scrapy crawl NAME -a KEY=VALUE` gives them: text, read as what `scraper` would pass.

`scraper crawl` and `scraper replay` hand the spiders typed values; Scrapy's own command hands
every argument over as a string. A string is read here the way the CLI reads the option (a
list: comma- or space-separated; a number: digits; a switch: true/false), and a value that
cannot be read is refused with the argument's name, never taken character by character.
"""

from __future__ import annotations

from collections.abc import Sequence

from archive.crawl.seeds import Seed, seed_from_url
from archive.errors import UsageError

__all__ = ["as_flag", "as_list", "as_number", "as_seeds"]

_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off", "")


def as_seeds(value: Sequence[Seed] | str) -> list[Seed]:
    """Return seeds: as given, or read from URLs separated by commas or spaces (`-a seeds=URL,URL`)."""
    if isinstance(value, str):
        return [seed_from_url(url) for url in value.replace(",", " ").split()]
    return list(value)


def as_list(value: Sequence[str] | str) -> list[str]:
    """Return a list of strings: as given, or split on commas (`-a allow_domains=a.example,b.example`)."""
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return list(value)


def as_number(name: str, value: int | str | None) -> int | None:
    """Return a whole number (or None): as given, or read from digits (`-a depth=2`)."""
    if not isinstance(value, str):
        return value
    if not value.strip().isdigit():
        raise UsageError(f"spider argument {name}={value!r}: not a whole number")
    return int(value)


def as_flag(name: str, value: bool | str) -> bool:
    """Return a switch: as given, or read from true/false, yes/no, on/off, 1/0 (`-a requisites=true`)."""
    if not isinstance(value, str):
        return bool(value)
    word = value.strip().lower()
    if word in _TRUE or word in _FALSE:
        return word in _TRUE
    raise UsageError(f"spider argument {name}={value!r}: not true or false")
