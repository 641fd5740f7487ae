"""`scraper verify` and `scraper repair`: check an archive end to end; mend what a kill, a full disk or bit rot left."""

from __future__ import annotations

import argparse
import json
from typing import Any

from archive.cli._common import command, format_option, open_catalog, shown

__all__ = ["add_commands"]


def add_commands(sub: Any) -> None:
    """Register `verify` and `repair` on the CLI's subcommand parser."""
    check = command(sub, "verify", "check WARC records, digests and catalog pointers; exit 1 on a problem", _verify)
    format_option(check, "table", "json")
    mend = command(
        sub,
        "repair",
        "cut torn tails of files killed runs left open, set damaged bytes aside, re-index what the catalog lacks;"
        " exit 1 when something could not be mended (deletes no record)",
        _repair,
    )
    format_option(mend, "table", "json")
    mend.add_argument("--dry-run", action="store_true", help="say what repair would do; change nothing")


def _verify(args: argparse.Namespace) -> int:
    from archive.integrity.verify import verify

    with open_catalog(args) as catalog:
        report = verify(args.data, catalog)
    if args.format == "json":
        fields = {"files": report.files, "records": dict(report.records), "digests_checked": report.digests_checked}
        fields.update(pointers=report.pointers, superseded=report.superseded, remains=report.remains)
        fields["set_aside"] = [finding.line() for finding in report.set_aside]
        print(json.dumps({**fields, "problems": report.problems}, indent=2))
    else:
        kinds = ", ".join(f"{n} {kind}" for kind, n in sorted(report.records.items())) or "none"
        print(f"WARC: {report.files} file(s), {sum(report.records.values())} records ({kinds})")
        print(f"digests: {report.digests_checked} checked; catalog: {report.pointers} pointers read back")
        if report.superseded:
            print(f"superseded copies: {report.superseded} (captures the catalog holds at other records)")
        if report.set_aside:
            print(f"damage set aside by repair: {len(report.set_aside)} stretch(es), see quarantine/report.jsonl")
            for finding in report.set_aside:
                print(f"  {shown(finding.line())}")
        if report.remains:
            print(f"records left of captures lost to that damage: {report.remains} conversion record(s)")
        print(f"problems: {len(report.problems)}")
        for problem in report.problems:
            print(f"  {shown(problem)}")
    return 0 if report.ok else 1


def _repair(args: argparse.Namespace) -> int:
    from archive.integrity.repair import repair

    with open_catalog(args) as catalog:
        report = repair(args.data, catalog, dry_run=args.dry_run)
    if args.format == "json":
        print(json.dumps(report.__dict__, indent=2))
    else:
        would = "would be " if report.dry_run else ""
        if report.dry_run:
            print("dry run: nothing was changed; this is what repair would do")
        cut = sum(report.cut.values())
        print(f"WARC: {report.files} file(s) read; {len(report.cut)} torn tail(s) {would}cut ({cut} bytes)")
        print(
            f"catalog: {report.reindexed} capture(s) {would}re-indexed from the WARC files,"
            f" {report.revisits} revisit(s) {would}named"
        )
        print(
            f"damage: {len(report.quarantined)} stretch(es) {would}set aside in quarantine/ ({report.quarantined_bytes}"
            f" bytes, left in place in their files); {report.set_aside_earlier} set aside earlier"
        )
        if report.forgotten:
            dropped = f"catalog: {len(report.forgotten)} capture(s) {would}dropped"
            print(f"{dropped}, their WARC records lost (archive them again):")
            for capture_id in report.forgotten:
                print(f"  {shown(capture_id)}")
        for line in report.interrupted:
            print(f"interrupted: {shown(line)}" if not report.dry_run else f"would mark interrupted: {shown(line)}")
        print(f"not mended: {len(report.unmendable)}")
        for problem in report.unmendable:
            print(f"  {shown(problem)}")
    return 0 if not report.unmendable else 1
