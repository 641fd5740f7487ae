"""`scraper frontier` (what a shared frontier holds, cancel a run) and `scraper reextract` (alone or across workers)."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from archive.cli._common import (
    bounded,
    command,
    comments_option,
    db_url,
    evidence_option,
    format_option,
    open_catalog,
    print_summary,
    set_option,
    settings_given,
)
from archive.cli.crawl import frontier_options, frontier_run, frontier_url
from archive.errors import NotFound, UsageError

if TYPE_CHECKING:
    from archive.frontier.store import Frontier

__all__ = ["add_commands"]


def add_commands(sub: Any) -> None:
    """Register `frontier` and `reextract` on the CLI's subcommand parser."""
    status = command(sub, "frontier", "show a shared frontier's runs and workers; cancel a run", _frontier)
    frontier_options(status, worker=False)
    status.add_argument("--cancel", metavar="RUN_ID", help="drop a run's queue; it ends once what is in flight is done")
    format_option(status, "table", "json")

    redo = command(sub, "reextract", "extract archived captures again from their raw WARC records", _reextract)
    redo.add_argument("files", nargs="*", metavar="FILE", help="WARC files (default: every file the catalog names)")
    redo.add_argument("--crawl", metavar="CRAWL_ID", help="only the captures of this run")
    redo.add_argument("--jobs", type=bounded(1, 1024), metavar="N", help="extraction processes (default: one per core)")
    redo.add_argument("--enqueue", action="store_true", help="with --frontier: queue the files for workers, and exit")
    set_option(redo)
    evidence_option(redo)
    comments_option(redo)
    frontier_options(redo, worker=True)


def _frontier(args: argparse.Namespace) -> int:
    from archive.frontier.store import Frontier, redacted

    if not frontier_url(args):
        raise UsageError("give --frontier redis://HOST:PORT/DB (or $SCRAPER_FRONTIER)")
    frontier = Frontier.connect(args.frontier, args.frontier_name or "scraper")
    if args.cancel:
        return _cancel(args, frontier)
    runs, workers = frontier.runs(), frontier.workers()
    if args.format == "json":
        print(json.dumps({"frontier": redacted(args.frontier), "runs": runs, "workers": workers}, indent=2))
        return 0
    print(f"frontier {redacted(args.frontier)} ({frontier.name}): {len(runs)} run(s), {len(workers)} worker(s)")
    for run in runs:
        counts = run["counts"]
        status = _STATUS.get(run["status"], run["status"]) if run["recorded"] else "drained (not yet in the catalog)"
        print(
            f"  {run['id'][:8]}  {run['kind']:<9} {(run.get('job') or '-')[:12]:<12} {status:<9} "
            f"{run['queued']} queued, {run['leased']} in flight, {run['pages_seen']} pages seen, "
            f"{counts.get('records_written', 0)} written, {counts.get('reextracted', 0)} re-extracted, "
            f"{counts.get('failed', 0)} failed"
        )
    now = time.time()
    for worker in workers:
        state = "alive" if worker["alive"] else "silent (its items go back when another worker beats)"
        age = now - float(worker.get("registered", now))
        print(
            f"  worker {worker['worker']}  {worker.get('kind', '?')}  {state}  {worker['in_flight']} in flight  "
            f"up {age:.0f} s  data {worker.get('data', '-')}"
        )
    return 0


def _cancel(args: argparse.Namespace, frontier: Frontier) -> int:
    run = frontier_run(frontier, args.cancel)
    cancelled = frontier.cancel(run)
    if cancelled is None:
        raise NotFound(f"run {run} is not running")
    dropped, ended = cancelled
    if ended:  # nothing in flight: it ends now
        from archive.crawl.runs import record_ended

        with open_catalog(args) as catalog:
            record_ended(frontier, catalog, run)
    print(f"run {run}: {dropped} queued item(s) dropped; {'ended' if ended else 'ends when in-flight items are'}")
    return 0


# How the frontier's statuses read: a drained run has ended (the catalog says "finished").
_STATUS = {"drained": "finished", "cancelled-drained": "cancelled", "cancelled": "ending"}


def _reextract(args: argparse.Namespace) -> int:
    from archive.layout import DataLayout
    from archive.runner import frontier_settings, recorded_paths, run_reextract

    overrides = {"ARCHIVE_SITE_EVIDENCE": args.site_evidence, "ARCHIVE_COMMENTS": args.comments, **settings_given(args)}
    if args.enqueue and not frontier_url(args):  # else a whole local re-extraction would run instead
        raise UsageError("--enqueue queues the files for a shared frontier's workers: give --frontier URL too")
    if frontier_url(args) and args.enqueue:
        return _enqueue_files(args)
    frontier = None
    paths: list[str] = []
    if frontier_url(args):
        frontier = frontier_settings(args.frontier, args.frontier_name, worker_id=args.worker_id, until_idle=True)
    else:
        paths = [str(Path(f)) for f in args.files] or [str(DataLayout(args.data).warc / f) for f in _files(args)]
        if not paths:
            raise NotFound("the catalog names no WARC file to re-extract")
    crawl_args = {"command": "reextract", "paths": recorded_paths(paths, overrides), "crawl": args.crawl}
    stats = run_reextract(
        paths,
        data_dir=args.data,
        db_url=db_url(args),
        jobs=args.jobs,
        crawl_args=crawl_args,
        frontier=frontier,
        overrides=overrides,
    )
    return print_summary(stats, args, "reextract")


def _files(args: argparse.Namespace) -> list[str]:
    """Return the WARC files holding raw records the catalog names (of one run, with --crawl)."""
    with open_catalog(args) as catalog:
        run = None
        if args.crawl:
            found = catalog.find_crawl(args.crawl)
            run = found.id if found else args.crawl
        return [Path(f).name for f in args.files] or catalog.raw_files(run)


def _enqueue_files(args: argparse.Namespace) -> int:
    from archive.frontier.store import Frontier, redacted
    from archive.runner import enqueue_files

    files = _files(args)
    frontier = Frontier.connect(args.frontier, args.frontier_name or "scraper")
    with open_catalog(args) as catalog:
        done = enqueue_files(frontier, catalog, files, args={"command": "reextract", "crawl": args.crawl})
    print(
        f"re-extraction {done.run}: {done.queued} WARC file(s) queued, frontier {redacted(args.frontier)} "
        f"({frontier.name}); start workers with `scraper reextract --frontier ...`"
    )
    return 0
