"""`scraper export` (records with provenance as JSON lines, CSV or Parquet), `index` (CDXJ) and `wacz` (one run)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import IO, Any

from archive.cli._common import command, format_option, need_archive, open_catalog, shown
from archive.errors import UsageError
from archive.layout import DataLayout

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
    from archive.export.tables import EXPORT_FIELDS, write_parquet, write_table

    to_stdout = args.out is None or str(args.out) == "-"
    if args.format == "parquet":
        if to_stdout:
            raise UsageError("--format parquet cannot stream to standard output: give --out FILE")
        _writable(args.out)
        with open_catalog(args) as catalog:
            written = write_parquet(catalog.iter_records(), args.out, EXPORT_FIELDS)
        print(f"exported {written} record(s) to {shown(args.out)}", file=sys.stderr)
        return 0
    with open_catalog(args) as catalog:  # before the file is made: a catalog that does not open leaves none
        out: IO[str] = sys.stdout if to_stdout else _opened(args.out)
        try:
            written = write_table(catalog.iter_records(), out, args.format)
        finally:
            if not to_stdout:
                out.close()
    if not to_stdout:
        print(f"exported {written} record(s) to {shown(args.out)}", file=sys.stderr)
    return 0


def _writable(out: Path) -> None:
    """Raise UsageError when file `out` cannot be written: its folder does not exist, or is not a folder."""
    if not out.parent.is_dir():
        raise UsageError(f"cannot write {out}: No such file or directory")


def _opened(out: Path) -> IO[str]:
    try:
        return open(out, "w", encoding="utf-8", newline="")  # closed by the caller
    except OSError as exc:
        raise UsageError(f"cannot write {out}: {exc.strerror}") from None


def _index(args: argparse.Namespace) -> int:
    from archive.export.cdxj import build_cdxj

    need_archive(args)
    layout = DataLayout(args.data)
    out = args.out or layout.index_file
    summary = build_cdxj(layout.warc, out, layout.warc_files())
    print(f"indexed {summary.lines} WARC record(s) into {shown(out)}")
    if summary.unresolved_revisits:
        print(
            f"warning: {summary.unresolved_revisits} 304 revisit(s) left out: the record they refer to is not "
            f"in {shown(layout.warc)}",
            file=sys.stderr,
        )
    return 0


def _wacz(args: argparse.Namespace) -> int:
    from archive.export.wacz import write_wacz

    if args.out is not None and str(args.out) == "-":
        raise UsageError("a WACZ file cannot stream to standard output: give --out FILE")
    layout = DataLayout(args.data)
    with open_catalog(args) as catalog:
        found = catalog.find_crawl(args.crawl)
        out = args.out or layout.wacz_file(found.id if found else args.crawl)
        summary = write_wacz(catalog, layout, args.crawl, out, args.title)
    print(
        f"wrote {shown(summary.path)}: run {summary.crawl_id}, {len(summary.warc_files)} WARC file(s), "
        f"{summary.pages} page(s), {summary.index_lines} index line(s)"
    )
    return 0
