"""`scraper replay` (archive saved captures with no network) and `scraper extract` (extract only, archive nothing)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING, Any

from archive.cli._common import (
    bounded,
    command,
    comments_option,
    db_url,
    evidence_option,
    format_option,
    print_summary,
    set_option,
    settings_given,
    shown,
    shown_text,
)

if TYPE_CHECKING:
    from scraper import Record

__all__ = ["add_commands"]


def add_commands(sub: Any) -> None:
    """Register `replay` and `extract` on the CLI's subcommand parser."""
    replay = command(
        sub, "replay", "archive saved captures (text, HTML, MHTML, WARC, ARC, WACZ) with no network", _replay
    )
    replay.add_argument("paths", nargs="+", metavar="PATH", help="files, directories (recursive) or globs")
    replay.add_argument("--operator", help="who runs the archive, for the warcinfo record")
    replay.add_argument(
        "--max-capture-bytes",
        type=bounded(1, 2**40),
        help="refuse captures larger than this (default 64 MiB, after gunzip)",
    )
    replay.add_argument(
        "--jobs",
        type=bounded(1, 1024),
        metavar="N",
        help="extraction processes (default: one per core; 1: in this process)",
    )
    _paths_option(replay)
    set_option(replay)
    evidence_option(replay)
    replay.set_defaults(site_evidence=None)  # not given: -s ARCHIVE_SITE_EVIDENCE, else settings.py's (text)
    comments_option(replay)

    extract = sub.add_parser("extract", help="extract text and metadata only; archive nothing")
    extract.add_argument("paths", nargs="+", metavar="FILE", help="files, directories (recursive) or globs")
    format_option(extract, "text", "json", "jsonl")
    _paths_option(extract)
    evidence_option(extract)
    comments_option(extract)
    extract.set_defaults(func=_extract)


def _paths_option(cmd: argparse.ArgumentParser) -> None:
    cmd.add_argument(
        "--absolute-paths",
        action="store_true",
        help="name saved files by their absolute paths (default: relative to the folder given, no host path)",
    )


def _replay(args: argparse.Namespace) -> int:
    from archive.runner import run_replay

    overrides: dict[str, object] = dict(settings_given(args))  # an option given wins over its setting
    if args.comments is not None:
        overrides["ARCHIVE_COMMENTS"] = args.comments
    if args.absolute_paths:
        overrides["ARCHIVE_ABSOLUTE_PATHS"] = True
    stats = run_replay(
        args.paths,
        data_dir=args.data,
        db_url=db_url(args),
        operator=args.operator,
        max_capture_bytes=args.max_capture_bytes,
        site_evidence=args.site_evidence,
        jobs=args.jobs,
        overrides=overrides,
    )
    return print_summary(stats, args)


def _extract(args: argparse.Namespace) -> int:
    from archive.warc.sources import CaptureFailure, SourceError, SourceRef, find_sources, load_capture
    from scraper import CaptureError, LineCounts, build_record, evidence_scope

    failed = 0
    results: list[dict[str, Any]] = []
    evidence = LineCounts() if args.site_evidence != "off" else None  # what this batch shows of each site
    for found in find_sources(args.paths, absolute=args.absolute_paths):
        if not isinstance(found, SourceRef):
            if isinstance(found, CaptureFailure):
                failed += 1
                print(f"error: {shown(found.source)}: {shown(found.reason)}", file=sys.stderr)
            continue
        try:
            capture = load_capture(found)
            record = build_record(
                capture, evidence=evidence, evidence_for_html=args.site_evidence == "all", comments=bool(args.comments)
            )
        except (SourceError, CaptureError) as exc:
            failed += 1
            print(f"error: {shown(found.shown)}: {shown(exc)}", file=sys.stderr)
            continue
        scope = evidence_scope(capture.url)
        if evidence is not None and scope is not None:
            evidence.add(*scope, record.line_keys)
        result = {"path": found.location, **record.to_dict()}
        if args.format == "jsonl":
            print(json.dumps(result, ensure_ascii=False, sort_keys=True))
        elif args.format == "json":
            results.append(result)
        else:
            print(f"== {shown(found.location)}\n{shown_text(_heading(record))}\n{shown_text(record.text)}\n")
    if args.format == "json":
        print(json.dumps(results, ensure_ascii=False, indent=2, sort_keys=True))
    return 1 if failed else 0


def _heading(record: Record) -> str:
    parts = [record.title or "(no title)"]
    if record.authors:
        parts.append("by " + ", ".join(record.authors))
    if record.published:
        parts.append(record.published)
    return " | ".join(parts)
