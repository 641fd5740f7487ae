"""`scraper export` (records with provenance as JSON lines, CSV or Parquet), `index` (CDXJ) and `wacz` (one run)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from archive.cli._common import command, format_option, need_archive, open_catalog, shown
from archive.errors import UsageError
from archive.layout import DataLayout

if TYPE_CHECKING:
    from archive.export.cdxj import FileDamage
    from archive.warc.reader import DamagedRegion

__all__ = ["add_commands"]


def add_commands(sub: Any) -> None:
    """Register `export`, `index` and `wacz` on the CLI's subcommand parser."""
    export = command(sub, "export", "export every record with its provenance", _export)
    format_option(export, "jsonl", "csv", "parquet")
    export.add_argument("--out", type=Path, help="file to write (default, or -: standard output; not for parquet)")

    index = command(sub, "index", "write a CDXJ index of the WARC files (for pywb and WACZ tools)", _index)
    index.add_argument("--out", type=Path, help="index file (default DATA/indexes/index.cdxj)")

    wacz = command(sub, "wacz", "package one run (its WARC files, index and pages) as a WACZ file", _wacz)
    wacz.add_argument("--crawl", default="latest", help="run id or prefix (default: the newest run)")
    wacz.add_argument("--out", type=Path, help="file to write (default DATA/wacz/RUN-ID.wacz)")
    wacz.add_argument("--title", help="title recorded in datapackage.json")


def _export(args: argparse.Namespace) -> int:
    from archive.export import output_file
    from archive.export.tables import EXPORT_FIELDS, write_parquet, write_table

    to_stdout = args.out is None or str(args.out) == "-"
    if args.format == "parquet" and to_stdout:
        raise UsageError("--format parquet cannot stream to standard output: give --out FILE")
    with open_catalog(args) as catalog:  # before the file is made: a catalog that does not open leaves none
        records = catalog.iter_records()
        if to_stdout:
            write_table(records, sys.stdout, args.format)
            return 0
        with output_file(args.out, text=args.format != "parquet") as out:
            if args.format == "parquet":
                written = write_parquet(records, out, EXPORT_FIELDS)
            else:
                written = write_table(records, out, args.format)
    print(f"exported {written} record(s) to {shown(args.out)}", file=sys.stderr)
    return 0


def _index(args: argparse.Namespace) -> int:
    from archive.export.cdxj import build_cdxj

    need_archive(args)
    layout = DataLayout(args.data)
    out = args.out or layout.index_file
    summary = build_cdxj(layout.warc, out, layout.warc_files(), make_parent=args.out is None)
    print(f"indexed {summary.lines} WARC record(s) into {shown(out)}")
    if summary.unresolved_revisits:
        print(
            f"warning: {summary.unresolved_revisits} 304 revisit(s) left out: the record they refer to is not "
            f"in {shown(layout.warc)}",
            file=sys.stderr,
        )
    return _left_out(args.data, summary.damaged)


def _wacz(args: argparse.Namespace) -> int:
    from archive.export.wacz import write_wacz

    if args.out is not None and str(args.out) == "-":
        raise UsageError("a WACZ file cannot stream to standard output: give --out FILE")
    with open_catalog(args) as catalog:
        summary = write_wacz(catalog, DataLayout(args.data), args.crawl, args.out, args.title)
    print(
        f"wrote {shown(summary.path)}: run {summary.crawl_id}, {len(summary.warc_files)} WARC file(s), "
        f"{summary.pages} page(s), {summary.index_lines} index line(s)"
    )
    return _left_out(args.data, summary.damaged)


def _left_out(data: Path, damaged: Sequence[FileDamage]) -> int:
    """Name each WARC file read in part or not at all, on a line of its own; return the exit status (1: any).

    Damaged stretches an earlier `scraper repair` set aside are known, as `verify` knows them:
    left out all the same, counted, and no reason for exit status 1.
    """
    from archive.integrity.damage import set_aside_regions

    aside = {(e.get("file"), e.get("offset"), e.get("length")): e.get("sha256") for e in set_aside_regions(data)}
    known, status = 0, 0
    for damage in damaged:
        new = tuple(r for r in damage.regions if not _set_aside(aside, damage.file, r))
        known += len(damage.regions) - len(new)
        if new or damage.unread:
            print(f"left out: {shown(replace(damage, regions=new).line())}", file=sys.stderr)
            status = 1
    if known:
        print(f"left out: {known} damaged stretch(es) `scraper repair` set aside (see quarantine/report.jsonl)")
    return status


def _set_aside(aside: dict[tuple[Any, Any, Any], Any], file: Path, region: DamagedRegion) -> bool:
    """Return whether `scraper repair` set this stretch of `file` aside, and its bytes are still the ones it did."""
    from archive.integrity.damage import region_digest

    key = (file.name, region.offset, region.length)
    return key in aside and aside[key] == region_digest(file, region)
