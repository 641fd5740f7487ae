"""What the command families share: --data/--db, the record filters, opening the catalog, the run summary."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from archive.catalog.filters import SearchFilters
from archive.errors import UsageError
from archive.layout import DataLayout, data_root
from scraper.urls import redacted

if TYPE_CHECKING:
    from archive.catalog.facade import Catalog

__all__ = [
    "add_filters",
    "command",
    "db_url",
    "evidence_option",
    "filters_of",
    "open_catalog",
    "print_summary",
    "set_option",
    "settings_given",
]


def command(sub: Any, name: str, help_text: str, func: Any) -> argparse.ArgumentParser:
    cmd: argparse.ArgumentParser = sub.add_parser(name, help=help_text)
    cmd.add_argument(
        "--data", type=Path, default=data_root(), help="data directory (default: $SCRAPER_DATA, else ./data)"
    )
    cmd.add_argument("--db", help="catalog SQLAlchemy URL (default: $SCRAPER_DB, else SQLite in --data)")
    cmd.set_defaults(func=func)
    return cmd


def add_filters(cmd: argparse.ArgumentParser) -> None:
    """Add the record filters `query` and `stories` share (dest names as SearchFilters' fields)."""
    cmd.add_argument("--site")
    cmd.add_argument("--author")
    cmd.add_argument("--lang", dest="language")
    cmd.add_argument("--since", help="YYYY-MM-DD, publication date (capture date when none)")
    cmd.add_argument("--until", help="YYYY-MM-DD, inclusive")
    cmd.add_argument("--captured-since", help="YYYY-MM-DD, capture date")
    cmd.add_argument("--captured-until", help="YYYY-MM-DD, capture date, inclusive")
    cmd.add_argument("--crawl", help="only captures of this run (id or prefix; see `scraper crawls`)")


def filters_of(args: argparse.Namespace) -> SearchFilters:
    """Return the filters a command was given."""
    return SearchFilters(**{name: getattr(args, name) for name in SearchFilters.__slots__})


@contextmanager
def open_catalog(args: argparse.Namespace) -> Iterator[Catalog]:
    """Yield the catalog the command names, brought to the newest schema; close it after."""
    from archive.catalog.facade import Catalog

    catalog = Catalog(db_url(args))
    try:
        catalog.migrate()
        yield catalog
    finally:
        catalog.close()


def db_url(args: argparse.Namespace) -> str:
    return DataLayout(args.data).catalog_url(args.db)


def set_option(cmd: argparse.ArgumentParser) -> None:
    cmd.add_argument(
        "-s", "--set", action="append", default=[], metavar="NAME=VALUE", help="any Scrapy or ARCHIVE_ setting"
    )


def settings_given(args: argparse.Namespace) -> dict[str, str]:
    """Return the --set NAME=VALUE pairs; UsageError names the first one that is not."""
    given = {}
    for item in args.set:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise UsageError(f"--set wants NAME=VALUE, not {item!r}")
        given[name] = value
    return given


def evidence_option(cmd: argparse.ArgumentParser) -> None:
    cmd.add_argument(
        "--site-evidence",
        choices=("off", "text", "all"),
        default="text",
        help="drop lines a site repeats on 2+ other pages: in text captures (default), also HTML (all), or never",
    )


_EXCHANGES = {
    "error": "4xx/5xx answers",
    "other": "non-HTML bodies",
    "redirect": "redirects",
    "requisite": "requisites",
    "robots": "robots.txt",
    "truncated": "truncated bodies",
}


def print_summary(stats: dict[str, Any], args: argparse.Namespace, command: str = "replay") -> None:
    get = stats.get
    print(
        f"{command}: {get('archive/captures_read', 0)} captures read, {get('archive/records_written', 0)} records "
        f"written, {get('archive/unchanged', 0)} unchanged, {get('archive/failed', 0)} failed"
        + (f" ({get('archive/no_text')} of them archived raw with no main text)" if get("archive/no_text") else "")
    )
    print(
        f"extraction: {get('extraction/jobs', 1)} process(es), {get('extraction/in_workers', 0)} captures "
        f"extracted in workers, {get('extraction/worker_restarts', 0)} worker restarts"
    )
    if command == "crawl":
        requisites = get("archive/exchanges/requisite", 0)
        kept = {k.removeprefix("archive/exchanges/"): v for k, v in stats.items() if k.startswith("archive/exchanges/")}
        print(
            f"fetched: {get('downloader/response_count', 0)} responses, {get('archive/revisits', 0)} revisits, "
            f"{sum(kept.values()) - requisites} other exchanges archived, {requisites} requisites, "
            f"{get('crawl/skipped_not_html', 0)} not HTML, {get('crawl/robots_forbidden', 0)} forbidden by robots.txt, "
            f"{get('archive/resumed_from_warc', 0)} resumed from the archive, "
            f"{get('crawl/refused_address', 0)} refused by the network guard"
            + (f", {get('crawl/links_capped')} links over the per-page cap" if get("crawl/links_capped") else "")
        )
        if kept:  # what was archived with no catalog page, by why
            print("exchanges: " + ", ".join(f"{n} {_EXCHANGES.get(why, why)}" for why, n in sorted(kept.items())))
        if any(k.startswith("crawl/requisites") for k in stats):
            print(
                f"requisites: {requisites} archived, {get('crawl/requisites_capped', 0)} over the per-page cap, "
                f"{get('crawl/requisites_too_large', 0)} too large, {get('crawl/requisites_failed', 0)} failed, "
                f"{get('crawl/requisites_out_of_scope', 0)} out of scope"
            )
    if command == "reextract":
        print(
            f"re-extracted: {get('archive/reextracted', 0)} captures given a new extraction, "
            f"{get('archive/not_in_catalog', 0)} raw records the catalog does not point at (left alone)"
        )
    if get("frontier/worker"):
        print(
            f"frontier: worker {get('frontier/worker')}, {get('frontier/acknowledged', 0)} item(s) done, "
            f"{get('frontier/items_put_back', 0)} put back, {get('frontier/workers_reaped', 0)} dead worker(s) "
            f"reaped, {get('frontier/runs_finished', 0)} run(s) finished here"
        )
    for source, reason in get("archive/failures", []):
        print(f"  failed: {source}: {reason}", file=sys.stderr)
    for line in get("archive/dead_runs_closed", []):
        print(f"  interrupted: {line}", file=sys.stderr)
    skipped = {
        k.removeprefix("replay/warc_skipped/"): v for k, v in stats.items() if k.startswith("replay/warc_skipped/")
    }
    if skipped:
        print("skipped WARC records: " + ", ".join(f"{n} {kind}" for kind, n in sorted(skipped.items())))
    print(
        f"words: {get('archive/words_kept', 0):,} kept, "
        f"{get('archive/boilerplate_words_dropped', 0):,} boilerplate dropped"
    )
    files = get("archive/warc_files", [])
    print(f"warc: {len(files)} file(s), {get('archive/warc_bytes', 0):,} bytes in {DataLayout(args.data).warc}")
    for name in files:
        print(f"  {DataLayout(args.data).warc / name}")
    from archive.catalog.facade import Catalog

    catalog = Catalog(db_url(args))
    counts = catalog.count()
    catalog.close()
    print(
        f"catalog: {redacted(db_url(args))} ({counts['documents']} documents, "
        f"{counts['captures']} captures, crawl {get('archive/crawl_id') or ', '.join(get('archive/runs', [])) or '-'})"
    )
