"""What every catalog command shares: its data/db options and opening the catalog."""

from __future__ import annotations

import argparse
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from archive.catalog import FILTERS, Catalog, default_db_url

__all__ = ["FILTERS", "add_filters", "command", "db_url", "filters_of", "open_catalog"]


def command(sub: Any, name: str, help_text: str, func: Any) -> argparse.ArgumentParser:
    cmd: argparse.ArgumentParser = sub.add_parser(name, help=help_text)
    cmd.add_argument("--data", type=Path, default=Path(os.environ.get("SCRAPER_DATA", "data")), help="data directory")
    cmd.add_argument("--db", help="catalog SQLAlchemy URL (default: $SCRAPER_DB, else SQLite in --data)")
    cmd.set_defaults(func=func)
    return cmd


def add_filters(cmd: argparse.ArgumentParser) -> None:
    """Add the record filters `query` and `stories` share (dest names as in FILTERS)."""
    cmd.add_argument("--site")
    cmd.add_argument("--author")
    cmd.add_argument("--lang", dest="language")
    cmd.add_argument("--since", help="YYYY-MM-DD, publication date (capture date when none)")
    cmd.add_argument("--until", help="YYYY-MM-DD, inclusive")
    cmd.add_argument("--captured-since", help="YYYY-MM-DD, capture date")
    cmd.add_argument("--captured-until", help="YYYY-MM-DD, capture date, inclusive")
    cmd.add_argument("--crawl", help="only captures of this run (id or prefix; see `scraper crawls`)")


def filters_of(args: argparse.Namespace) -> dict[str, str | None]:
    """Return the filter values a command was given."""
    return {name: getattr(args, name) for name in FILTERS}


@contextmanager
def open_catalog(args: argparse.Namespace) -> Iterator[Catalog]:
    """Yield the catalog the command names, brought to the newest schema; close it after."""
    catalog = Catalog(db_url(args))
    try:
        catalog.migrate()
        yield catalog
    finally:
        catalog.close()


def db_url(args: argparse.Namespace) -> str:
    return str(args.db or default_db_url(args.data))
