"""Reading the catalog: `scraper query` (search), `show` (one record), `history` (a URL's versions), `crawls` (runs)."""

from __future__ import annotations

import argparse
import difflib
import json
import re
import sys
from typing import TYPE_CHECKING, Any

from archive.catalog.filters import SORTS
from archive.cli._common import (
    MAX_LIMIT,
    add_filters,
    bounded,
    command,
    filters_of,
    format_option,
    open_catalog,
    shown,
    shown_text,
)
from archive.errors import NotFound, UsageError
from archive.layout import DataLayout

if TYPE_CHECKING:
    from archive.catalog.search import SearchHit
    from scraper import Record

__all__ = ["add_commands"]


def add_commands(sub: Any) -> None:
    """Register `query`, `show`, `history` and `crawls` on the CLI's subcommand parser."""
    query = command(sub, "query", "full-text and filtered search of the catalog", _query)
    query.add_argument("text", nargs="?", help="words to search for (all must match)")
    add_filters(query)
    query.add_argument("--versions", action="store_true", help="only URLs whose text changed at least once")
    query.add_argument(
        "--sort",
        choices=SORTS,
        default="relevance",
        help="best match (default; newest first without words), newest or oldest capture, or newest published",
    )
    query.add_argument("--limit", type=bounded(1, MAX_LIMIT), default=20, help="records per page (default 20)")
    query.add_argument("--page", type=bounded(1, MAX_LIMIT), default=1, help="page number, from 1")
    format_option(query, "table", "json", "jsonl", "csv")

    show = command(sub, "show", "show one record with its provenance", _show)
    show.add_argument("id", help="record id, or a unique prefix of 6+ hex digits")
    format_option(show, "text", "json")
    show.add_argument("--raw", action="store_true", help="write the original capture bytes, read from the WARC")

    history = command(sub, "history", "list the versions of a URL; --diff A B shows what changed", _history)
    history.add_argument("url", help="a URL fetched, its canonical form, or a saved file as replay named it")
    history.add_argument("--diff", nargs=2, type=int, metavar=("A", "B"), help="version numbers to compare")
    format_option(history, "table", "json")

    crawls = command(
        sub,
        "crawls",
        "list runs (crawls and replays) with their counts and outcome; with RUN, what that run met",
        _crawls,
    )
    crawls.add_argument(
        "run",
        nargs="?",
        metavar="RUN",
        help="a run's id (or 6+ hex digits of it, or latest): list its failures and HTTP errors",
    )
    crawls.add_argument("--limit", type=bounded(1, MAX_LIMIT), default=20, help="runs listed (default 20)")
    format_option(crawls, "table", "json")


def _query(args: argparse.Namespace) -> int:
    with open_catalog(args) as catalog:  # an older catalog is brought up to date before it is read
        hits = catalog.search(
            args.text,
            filters_of(args, catalog),
            versions=args.versions,
            sort=args.sort,
            limit=args.limit,
            offset=(max(1, args.page) - 1) * args.limit,
        )
    if args.format == "table":
        _print_table(hits)
    else:
        _print_rows(hits, args.format)
    return 0 if hits else 1


def _print_rows(hits: list[SearchHit], fmt: str) -> None:
    import csv

    from archive.export.tables import EXPORT_FIELDS, cell

    rows = [{**h.record.to_dict(with_text=False), "score": h.score, "snippet": h.snippet} for h in hits]
    if fmt == "csv":
        fields = [f for f in EXPORT_FIELDS if f != "text"] + ["score", "snippet"]
        writer = csv.DictWriter(sys.stdout, fieldnames=fields, extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: cell(row.get(k)) for k in fields})
    elif fmt == "json":
        print(json.dumps(rows, ensure_ascii=False, indent=2, sort_keys=True))
    else:
        for row in rows:
            print(json.dumps(row, ensure_ascii=False, sort_keys=True))


def _print_table(hits: list[SearchHit]) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    table = Table(show_lines=True)
    table.add_column("id", no_wrap=True)
    for column in ("site", "published", "title", "snippet"):
        table.add_column(column, overflow="fold")
    for hit in hits:
        record = hit.record
        no_text = record.provenance.no_text
        snippet = hit.snippet or (f"(no main text: {no_text})" if no_text is not None else record.text[:160])
        cells = (record.id, record.site or "-", record.published or "-", record.title or "-", snippet)
        # A cell is one run of words: a paragraph break would print as a literal \n (shown() escapes it).
        # A page's title is neither markup nor escapes.
        table.add_row(*(escape(shown(" ".join(cell.split()))) for cell in cells))
    Console(width=max(120, Console().width)).print(table)
    print(f"{len(hits)} record(s)")


def _show(args: argparse.Namespace) -> int:
    from archive.catalog.captures import missing

    with open_catalog(args) as catalog:
        record = catalog.get(args.id)
    if record is None:
        raise NotFound(missing(args.id))
    if args.raw:
        from archive.warc.reader import read_payload

        location = record.provenance.warc_raw
        if location is None:
            raise NotFound(f"record {record.id} has no raw WARC record")
        sys.stdout.buffer.write(read_payload(DataLayout(args.data).warc, location))
        sys.stdout.buffer.flush()
        return 0
    if args.format == "json":
        print(record.to_json())
        return 0
    _print_record(record)
    return 0


def _print_record(record: Record) -> None:
    prov = record.provenance
    lines = [
        f"id:          {record.id}",
        f"title:       {shown(record.title or '-')}",
        f"url:         {shown(record.source_url)}",
        f"canonical:   {shown(record.canonical_url)}",
        *(
            [f"claimed:     {shown(record.claimed_url)} (the URL the page gives for itself, on another site)"]
            if record.claimed_url
            else []
        ),
        f"site:        {shown(record.site or '-')}{_also_named(record)}",
        f"authors:     {shown(', '.join(record.authors) or '-')}",
        f"published:   {record.published or '-'}",
        f"language:    {record.language or '-'}",
        f"words:       {record.word_count} kept of {prov.input_word_count}"
        + (f"  (no main text: {prov.no_text}; raw capture archived)" if prov.no_text is not None else ""),
        f"sha256:      payload {record.payload_sha256}",
        f"             text    {record.text_sha256}",
        f"source:      {prov.source_kind} {shown(prov.source_location)}",
        f"captured:    {prov.captured_at}  archived: {prov.archived_at or '-'}",
        f"extractor:   {prov.extractor} {prov.extractor_version} (scraper-archive {prov.project_version})",
        f"crawl:       {prov.crawl_id or '-'}",
    ]
    roles = ("raw", "conversion", "metadata")
    located = [(role, loc) for role in roles if (loc := getattr(prov, f"warc_{role}")) is not None]
    for number, (role, loc) in enumerate(located):
        label = "warc:" if number == 0 else ""  # one column of roles under the label, as sha256's digests
        lines.append(f"{label:<13}{role:<11}{loc.file} @{loc.offset}+{loc.length} {loc.record_id}")
    print("\n".join(lines) + "\n\n" + shown_text(record.text))


def _also_named(record: Record) -> str:
    """Return the site's name in brackets when the record has one the site does not already say."""
    if not record.site_name or record.site_name == record.site:
        return ""
    return f" ({shown(record.site_name)})"


def _history(args: argparse.Namespace) -> int:
    from archive.catalog.captures import versions_of

    with open_catalog(args) as catalog:
        captures = catalog.history(args.url)
        revisits = catalog.revisits_of([record.id for record, _ in captures])
    if not captures:
        raise NotFound(f"no captures of {args.url}")
    numbered = versions_of(captures)
    versions: dict[int, Record] = {}  # each version's first capture
    for number, record in numbered:
        versions.setdefault(number, record)
    rows = [
        {
            "version": number,
            "id": record.id,
            "captured_at": record.provenance.captured_at,
            "words": record.word_count,
            "text_sha256": record.text_sha256,
            "replaces": previous,
            "revisits": [{"captured_at": at, "profile": profile} for at, profile in revisits.get(record.id, [])],
        }
        for (number, record), (_, previous) in zip(numbered, captures, strict=True)
    ]
    if args.diff:
        print(_diff(list(versions.values()), *args.diff))
    elif args.format == "json":
        print(json.dumps(rows, indent=2))
    else:
        for row, (_, record) in zip(rows, numbered, strict=True):
            print(f"v{row['version']}  {_to_the_second(str(row['captured_at']))}  {row['id']}  {row['words']} words")
            for at, profile in revisits.get(record.id, []):
                print(f"    seen again {_to_the_second(at)}  ({_REVISIT_KINDS.get(profile, profile)})")
    return 0


# What each revisit profile says of the visit, as history prints it.
_REVISIT_KINDS = {"identical-payload-digest": "the same bytes", "server-not-modified": "304 Not Modified"}


def _to_the_second(timestamp: str) -> str:
    """Return an ISO timestamp without its fraction of a second, as the other lists print times.

    A replayed file's capture time is its modification time, to the microsecond; `--format json` keeps it whole.
    """
    return re.sub(r"\.\d+(?=Z$|[+-]\d\d:\d\d$)", "", timestamp)


def _diff(versions: list[Record], a: int, b: int) -> str:
    """Return the unified diff of versions `a` and `b` (numbered from 1)."""
    if not (1 <= a <= len(versions) and 1 <= b <= len(versions)):
        raise UsageError(f"versions run from 1 to {len(versions)}")
    old, new = versions[a - 1], versions[b - 1]
    diff = difflib.unified_diff(
        old.text.splitlines(), new.text.splitlines(), f"version {a} ({old.id})", f"version {b} ({new.id})", lineterm=""
    )
    return "\n".join(diff)


def _crawls(args: argparse.Namespace) -> int:
    if args.run is not None:
        return _crawl_problems(args)
    with open_catalog(args) as catalog:
        runs = catalog.crawls(args.limit)
    if args.format == "json":
        print(json.dumps([run.to_dict() for run in runs], indent=2, ensure_ascii=False))
        return 0
    for run in runs:
        counts = run.counts
        job = run.args.get("job")
        done = (
            f"{counts.get('reextracted', 0)} re-extracted"
            if run.kind == "reextract"
            else f"{counts.get('records_written', 0)} written"
        )
        print(
            f"{run.id[:8]}  {run.kind:<9} {shown(job or '-')[:12]:<12} {run.status:<11} {run.started_at[:19]}  "
            f"{done}, {counts.get('unchanged', 0)} unchanged, "
            f"{counts.get('revisits', 0)} revisits, {counts.get('failed', 0)} failed"
            + (f", {counts['http_errors']} HTTP errors" if counts.get("http_errors") else "")
        )
    return 0


def _crawl_problems(args: argparse.Namespace) -> int:
    """Print one run, then each input that failed and each page answered with an HTTP error."""
    with open_catalog(args) as catalog:
        run = catalog.find_crawl(args.run)
        if run is None:
            raise NotFound(f"no run {shown(args.run)}")
        met = catalog.problems(run.id)
    if args.format == "json":
        print(json.dumps({**run.to_dict(), "problems": [p.to_dict() for p in met]}, indent=2, ensure_ascii=False))
        return 0
    failed = [p for p in met if p.kind == "failed"]
    errors = [p for p in met if p.kind == "http"]
    print(f"run {run.id} ({run.kind}, {run.status}, started {run.started_at[:19]})")
    print(f"{len(failed)} failed, {len(errors)} HTTP error(s)")
    for problem in failed:
        print(f"  failed: {shown(problem.source)}: {shown(problem.reason)}")
    for problem in sorted(errors, key=lambda p: p.status or 0):
        print(f"  HTTP {problem.status}: {shown(problem.source)}")
    return 0
