"""`scraper verify` and `scraper repair`: check an archive end to end, and mend what a kill or a full disk left."""

from __future__ import annotations

import argparse
import json
from typing import Any

from archive.cli._common import command, open_catalog

__all__ = ["add_commands"]


def add_commands(sub: Any) -> None:
    """Register `verify` and `repair` on the CLI's subcommand parser."""
    check = command(sub, "verify", "check WARC records, digests and catalog pointers; exit 1 on a problem", _verify)
    check.add_argument("--format", choices=("table", "json"), default="table")
    mend = command(
        sub, "repair", "cut torn WARC tails, re-index complete captures the catalog lacks (deletes no record)", _repair
    )
    mend.add_argument("--format", choices=("table", "json"), default="table")


def _verify(args: argparse.Namespace) -> int:
    from archive.integrity.verify import verify

    with open_catalog(args) as catalog:
        report = verify(args.data, catalog)
    if args.format == "json":
        fields = {"files": report.files, "records": dict(report.records), "digests_checked": report.digests_checked}
        fields.update(pointers=report.pointers, superseded=report.superseded)
        print(json.dumps({**fields, "problems": report.problems}, indent=2))
    else:
        kinds = ", ".join(f"{n} {kind}" for kind, n in sorted(report.records.items())) or "none"
        print(f"WARC: {report.files} file(s), {sum(report.records.values())} records ({kinds})")
        print(f"digests: {report.digests_checked} checked; catalog: {report.pointers} pointers read back")
        if report.superseded:
            print(f"superseded copies: {report.superseded} (captures the catalog holds at other records)")
        print(f"problems: {len(report.problems)}")
        for problem in report.problems:
            print(f"  {problem}")
    return 0 if report.ok else 1


def _repair(args: argparse.Namespace) -> int:
    from archive.integrity.repair import repair

    with open_catalog(args) as catalog:
        report = repair(args.data, catalog)
    if args.format == "json":
        fields = {"files": report.files, "cut": report.cut, "reindexed": report.reindexed}
        print(json.dumps({**fields, "forgotten": report.forgotten, "unmendable": report.unmendable}, indent=2))
    else:
        cut = sum(report.cut.values())
        print(f"WARC: {report.files} file(s) read; {len(report.cut)} torn tail(s) cut ({cut} bytes)")
        print(f"catalog: {report.reindexed} capture(s) re-indexed from the WARC files")
        if report.forgotten:
            print(f"catalog: {len(report.forgotten)} capture(s) dropped, their WARC records lost (archive them again):")
            for capture_id in report.forgotten:
                print(f"  {capture_id}")
        print(f"not mended: {len(report.unmendable)}")
        for problem in report.unmendable:
            print(f"  {problem}")
    return 0 if not report.unmendable else 1
