"""The `scraper` command: replay, extract, query, show, export."""

from __future__ import annotations

import argparse
import csv
import difflib
import json
import os
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import IO, Any

from archive.catalog.facade import SORTS, AmbiguousId, SearchHit
from archive.cli._common import (
    add_filters,
    command,
    db_url,
    evidence_option,
    filters_of,
    open_catalog,
    print_summary,
    set_option,
    settings_given,
)
from archive.cli.crawl import add_crawl_commands
from archive.cli.frontier import add_frontier_commands
from archive.cli.integrity import add_integrity_commands
from archive.cli.stories import add_story_commands
from archive.layout import DataLayout
from archive.runner import RunFailed
from archive.warc.reader import WarcReadError, read_payload
from archive.warc.sources import CaptureFailure, SourceError, SourceRef, find_sources, load_capture
from scraper import CaptureError, LineCounts, Record, __version__, build_record, evidence_scope
from scraper.evaluation import MODES

MODE_NAMES = tuple(MODES)
DEFAULT_EVAL_SET = Path(__file__).resolve().parent.parent.parent / "shared" / "eval" / "trafilatura-eval"
DEFAULT_MODEL_PATH = Path(__file__).resolve().parent.parent / "scraper" / "models" / "stripper-model.json"
DEFAULT_IDF_PATH = DEFAULT_MODEL_PATH.with_name("term-frequencies.json")

__all__ = ["main"]

EXPORT_FIELDS = (
    "id",
    "source_url",
    "canonical_url",
    "site",
    "site_name",
    "title",
    "authors",
    "published",
    "language",
    "tags",
    "description",
    "word_count",
    "payload_sha256",
    "text_sha256",
    "text",
    "provenance",
)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except BrokenPipeError:  # `scraper export | head` is fine
        return 0
    except (AmbiguousId, WarcReadError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except RunFailed as exc:
        print(f"error: the run stopped: {exc}", file=sys.stderr)
        return 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="scraper", description="Archive web captures with provenance.")
    parser.add_argument("--version", action="version", version=f"scraper-archive {__version__}")
    sub = parser.add_subparsers(required=True, metavar="COMMAND")

    replay = command(sub, "replay", "archive saved captures (text, HTML, WARC) with no network", _replay)
    replay.add_argument("paths", nargs="+", metavar="PATH", help="files, directories (recursive) or globs")
    replay.add_argument("--operator", help="who runs the archive, for the warcinfo record")
    replay.add_argument(
        "--max-capture-bytes", type=int, help="refuse captures larger than this (default 64 MiB, after gunzip)"
    )
    replay.add_argument(
        "--jobs", type=int, metavar="N", help="extraction processes (default: one per core; 1: in this process)"
    )
    set_option(replay)
    evidence_option(replay)

    add_crawl_commands(sub)
    add_frontier_commands(sub)

    crawls = command(sub, "crawls", "list runs (crawls and replays) with their counts and outcome", _crawls)
    crawls.add_argument("--limit", type=int, default=20)
    crawls.add_argument("--format", choices=("table", "json"), default="table")

    history = command(sub, "history", "list the versions of a URL; --diff A B shows what changed", _history)
    history.add_argument("url")
    history.add_argument("--diff", nargs=2, type=int, metavar=("A", "B"), help="version numbers to compare")
    history.add_argument("--format", choices=("table", "json"), default="table")

    extract = sub.add_parser("extract", help="extract text and metadata only; archive nothing")
    extract.add_argument("paths", nargs="+", metavar="FILE")
    extract.add_argument("--format", choices=("text", "json", "jsonl"), default="text")
    evidence_option(extract)
    extract.set_defaults(func=_extract)

    query = command(sub, "query", "full-text and filtered search of the catalog", _query)
    query.add_argument("text", nargs="?", help="words to search for (all must match)")
    add_filters(query)
    query.add_argument("--versions", action="store_true", help="only URLs whose text changed at least once")
    query.add_argument("--sort", choices=SORTS, default="relevance")
    query.add_argument("--limit", type=int, default=20, help="records per page (default 20)")
    query.add_argument("--page", type=int, default=1, help="page number, from 1")
    query.add_argument("--format", choices=("table", "json", "jsonl", "csv"), default="table")

    show = command(sub, "show", "show one record with its provenance", _show)
    show.add_argument("id", help="record id, or a unique prefix of 6+ characters")
    show.add_argument("--format", choices=("text", "json"), default="text")
    show.add_argument("--raw", action="store_true", help="write the original capture bytes, read from the WARC")

    evaluate = sub.add_parser("eval", help="score extraction quality on a labeled corpus")
    evaluate.add_argument("--set", type=Path, default=DEFAULT_EVAL_SET, help="evaluation set directory")
    evaluate.add_argument("--modes", default="html,text", help=f"comma-separated: {', '.join(MODE_NAMES)}")
    evaluate.add_argument("--limit", type=int, help="score only the first N pages")
    evaluate.add_argument(
        "--min-site-pages", type=int, default=1, help="score only pages whose site has at least N pages in the set"
    )
    evaluate.add_argument("--seeds", type=Path, help="line-labeled text captures to score word by word")
    evaluate.add_argument("--labels", type=Path, help="the labels for --seeds (JSON)")
    evaluate.add_argument("--format", choices=("table", "json"), default="table")
    evaluate.set_defaults(func=_eval)

    trainer = sub.add_parser("train-stripper", help="train the text-capture line model (needs the train extra)")
    trainer.add_argument("--set", type=Path, default=DEFAULT_EVAL_SET, help="labeled pages to learn from")
    trainer.add_argument("--folds", type=int, default=5, help="site-held-out cross-validation folds")
    trainer.add_argument("--limit", type=int, help="use only the first N pages")
    trainer.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="processes that label pages")
    trainer.add_argument("--out", type=Path, default=DEFAULT_MODEL_PATH, help="where to write the model JSON")
    trainer.set_defaults(func=_train_stripper)

    idf = sub.add_parser("train-idf", help="count term frequencies of a page corpus for same-story scoring")
    idf.add_argument("--set", type=Path, default=DEFAULT_EVAL_SET, help="pages to count (evaldata.json + html/)")
    idf.add_argument("--out", type=Path, default=DEFAULT_IDF_PATH, help="where to write the JSON")
    idf.set_defaults(func=_train_idf)

    add_story_commands(sub)

    index = command(sub, "index", "write a CDXJ index of the WARC files (for pywb and WACZ tools)", _index)
    index.add_argument("--out", type=Path, help="index file (default DATA/indexes/index.cdxj)")

    add_integrity_commands(sub)

    wacz = command(sub, "wacz", "package one run (its WARC files, index and pages) as a WACZ file", _wacz)
    wacz.add_argument("--crawl", default="latest", help="run id or prefix (default: the newest run)")
    wacz.add_argument("--out", type=Path, help="file to write (default DATA/wacz/RUN-ID.wacz)")
    wacz.add_argument("--title", help="title recorded in datapackage.json")

    export = command(sub, "export", "export every record with its provenance", _export)
    export.add_argument("--format", choices=("jsonl", "csv", "parquet"), default="jsonl")
    export.add_argument("--out", type=Path, help="file to write (default: standard output)")
    return parser


def _replay(args: argparse.Namespace) -> int:
    from archive.runner import run_replay

    try:
        overrides = settings_given(args)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
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
    print_summary(stats, args)
    return 1 if stats.get("archive/failed", 0) else 0


def _crawls(args: argparse.Namespace) -> int:
    with open_catalog(args) as catalog:
        runs = catalog.crawls(args.limit)
    if args.format == "json":
        print(json.dumps(runs, indent=2, ensure_ascii=False))
        return 0
    for run in runs:
        counts = run["counts"] or {}
        job = (run["args"] or {}).get("job")
        done = (
            f"{counts.get('reextracted', 0)} re-extracted"
            if run["kind"] == "reextract"
            else f"{counts.get('records_written', 0)} written"
        )
        print(
            f"{run['id'][:8]}  {run['kind']:<9} {(job or '-')[:12]:<12} {run['status']:<11} {run['started_at'][:19]}  "
            f"{done}, {counts.get('unchanged', 0)} unchanged, "
            f"{counts.get('revisits', 0)} revisits, {counts.get('failed', 0)} failed"
        )
    return 0


def _history(args: argparse.Namespace) -> int:
    with open_catalog(args) as catalog:
        captures = catalog.history(args.url)
    if not captures:
        print(f"no captures of {args.url}", file=sys.stderr)
        return 1
    versions: list[Record] = []  # a new version whenever the text differs from the capture before
    rows = []
    for record, previous in captures:
        if not versions or record.text_sha256 != versions[-1].text_sha256:
            versions.append(record)
        rows.append(
            {
                "version": len(versions),
                "id": record.id,
                "captured_at": record.provenance.captured_at,
                "words": record.word_count,
                "text_sha256": record.text_sha256,
                "replaces": previous,
            }
        )
    if args.diff:
        a, b = args.diff
        if not (1 <= a <= len(versions) and 1 <= b <= len(versions)):
            print(f"error: versions run from 1 to {len(versions)}", file=sys.stderr)
            return 2
        old, new = versions[a - 1], versions[b - 1]
        diff = difflib.unified_diff(
            old.text.splitlines(),
            new.text.splitlines(),
            f"version {a} ({old.id})",
            f"version {b} ({new.id})",
            lineterm="",
        )
        print("\n".join(diff))
        return 0
    if args.format == "json":
        print(json.dumps(rows, indent=2))
        return 0
    for row in rows:
        print(f"v{row['version']}  {row['captured_at']}  {row['id']}  {row['words']} words")
    return 0


def _extract(args: argparse.Namespace) -> int:
    failed = 0
    results: list[dict[str, Any]] = []
    evidence = LineCounts() if args.site_evidence != "off" else None  # what this batch shows of each site
    for found in find_sources(args.paths):
        if not isinstance(found, SourceRef):
            if isinstance(found, CaptureFailure):
                failed += 1
                print(f"error: {found.source}: {found.reason}", file=sys.stderr)
            continue
        try:
            capture = load_capture(found)
            record = build_record(capture, evidence=evidence, evidence_for_html=args.site_evidence == "all")
        except (SourceError, CaptureError) as exc:
            failed += 1
            print(f"error: {found.location}: {exc}", file=sys.stderr)
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
            print(f"== {found.location}\n{_heading(record)}\n{record.text}\n")
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


def _query(args: argparse.Namespace) -> int:
    with open_catalog(args) as catalog:  # an older catalog is brought up to date before it is read
        hits = catalog.search(
            args.text,
            **filters_of(args),
            versions=args.versions,
            sort=args.sort,
            limit=args.limit,
            offset=(max(1, args.page) - 1) * args.limit,
        )
    if args.format == "table":
        _print_table(hits)
    else:
        rows = [{**h.record.to_dict(with_text=False), "score": h.score, "snippet": h.snippet} for h in hits]
        if args.format == "csv":
            fields = [f for f in EXPORT_FIELDS if f != "text"] + ["score", "snippet"]
            writer = csv.DictWriter(sys.stdout, fieldnames=fields, extrasaction="ignore")
            writer.writeheader()
            for row in rows:
                writer.writerow({k: _csv_value(row.get(k)) for k in fields})
        elif args.format == "json":
            print(json.dumps(rows, ensure_ascii=False, indent=2, sort_keys=True))
        else:
            for row in rows:
                print(json.dumps(row, ensure_ascii=False, sort_keys=True))
    return 0 if hits else 1


def _print_table(hits: list[SearchHit]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(show_lines=True)
    table.add_column("id", no_wrap=True)
    for column in ("site", "published", "title", "snippet"):
        table.add_column(column, overflow="fold")
    for hit in hits:
        record = hit.record
        snippet = hit.snippet or record.text[:160]
        table.add_row(
            record.id, record.site or "-", record.published or "-", record.title or "-", snippet.replace("\n", " ")
        )
    Console(width=max(120, Console().width)).print(table)
    print(f"{len(hits)} record(s)")


def _show(args: argparse.Namespace) -> int:
    with open_catalog(args) as catalog:
        record = catalog.get(args.id)
    if record is None:
        print(f"error: no record with id {args.id!r}", file=sys.stderr)
        return 1
    if args.raw:
        location = record.provenance.warc_raw
        if location is None:
            print(f"error: record {record.id} has no raw WARC record", file=sys.stderr)
            return 1
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
        f"title:       {record.title or '-'}",
        f"url:         {record.source_url}",
        f"canonical:   {record.canonical_url}",
        f"site:        {record.site or '-'}{f' ({record.site_name})' if record.site_name else ''}",
        f"authors:     {', '.join(record.authors) or '-'}",
        f"published:   {record.published or '-'}",
        f"language:    {record.language or '-'}",
        f"words:       {record.word_count} kept of {prov.input_word_count}",
        f"sha256:      payload {record.payload_sha256}",
        f"             text    {record.text_sha256}",
        f"source:      {prov.source_kind} {prov.source_location}",
        f"captured:    {prov.captured_at}  archived: {prov.archived_at or '-'}",
        f"extractor:   {prov.extractor} {prov.extractor_version} (scraper-archive {prov.project_version})",
        f"crawl:       {prov.crawl_id or '-'}",
    ]
    for role in ("raw", "conversion", "metadata"):
        loc = getattr(prov, f"warc_{role}")
        if loc is not None:
            lines.append(f"warc {role + ':':<11}{loc.file} @{loc.offset}+{loc.length} {loc.record_id}")
    print("\n".join(lines) + "\n\n" + record.text)


def _eval(args: argparse.Namespace) -> int:
    from scraper.evaluation import evaluate, load_eval_set, pages_of_sites, seed_report

    report: dict[str, Any] = {}
    modes = [m for m in args.modes.split(",") if m]
    unknown = [m for m in modes if m not in MODE_NAMES]
    if unknown:
        print(f"error: unknown mode(s) {', '.join(unknown)}; choose from {', '.join(MODE_NAMES)}", file=sys.stderr)
        return 2
    if modes:
        pages = pages_of_sites(load_eval_set(args.set)[: args.limit], args.min_site_pages)
        report["corpus"] = {"set": str(args.set), "pages": len(pages)}
        report["modes"] = [r.as_dict() for r in evaluate(pages, modes)]
    if args.seeds:
        report["seeds"] = seed_report(args.seeds, args.labels or args.seeds / "labels.json")
    if args.format == "json":
        print(json.dumps(report, indent=2, ensure_ascii=False))
        return 0
    for row in report.get("modes", []):
        print(
            f"{row['mode']:<22} P {row['precision']:.4f}  R {row['recall']:.4f}  F1 {row['f1']:.4f}  "
            f"{row['pages_per_second']:>6} pages/s  ({row['failures']} failed of {row['pages']})"
        )
    if "seeds" in report:
        seeds = report["seeds"]
        print(
            f"seeds: {seeds['article_kept']:.1%} of article words kept, "
            f"{seeds['boilerplate_dropped']:.1%} of boilerplate words dropped ({seeds['captures']} captures)"
        )
    return 0


def _train_stripper(args: argparse.Namespace) -> int:
    from scraper.evaluation import load_eval_set
    from scraper.training import train

    pages = load_eval_set(args.set)[: args.limit]
    spec, report = train(
        pages, folds=args.folds, jobs=max(1, args.jobs), progress=lambda message: print(message, file=sys.stderr)
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(spec, separators=(",", ":")), encoding="utf-8")
    print(json.dumps(report.as_dict(), indent=2))
    print(f"model {spec['version']} (threshold {spec['threshold']}) written to {args.out}", file=sys.stderr)
    return 0


def _train_idf(args: argparse.Namespace) -> int:
    from scraper.evaluation import extracted_texts, load_eval_set
    from scraper.similarity import background_frequencies

    background = background_frequencies(extracted_texts(load_eval_set(args.set)))
    args.out.write_text(json.dumps(background, ensure_ascii=False, separators=(",", ":")), encoding="utf-8")
    print(f"{len(background['terms'])} terms of {background['documents']} documents written to {args.out}")  # type: ignore[arg-type]
    return 0


def _index(args: argparse.Namespace) -> int:
    from archive.export.cdxj import build_cdxj

    layout = DataLayout(args.data)
    out = args.out or layout.index_file
    lines = build_cdxj(layout.warc, out, layout.warc_files())
    print(f"indexed {lines} WARC record(s) into {out}")
    return 0


def _wacz(args: argparse.Namespace) -> int:
    from archive.export.wacz import WaczError, write_wacz

    with open_catalog(args) as catalog:
        try:
            found = catalog.find_crawl(args.crawl)
            layout = DataLayout(args.data)
            out = args.out or layout.wacz_file(found["id"] if found else args.crawl)
            summary = write_wacz(catalog, layout, args.crawl, out, args.title)
        except WaczError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
    print(
        f"wrote {summary.path}: run {summary.crawl_id}, {len(summary.warc_files)} WARC file(s), "
        f"{summary.pages} page(s), {summary.index_lines} index line(s)"
    )
    return 0


def _export(args: argparse.Namespace) -> int:
    if args.format == "parquet":
        if not args.out:
            print("error: --format parquet needs --out FILE", file=sys.stderr)
            return 2
        from archive.export.tables import write_parquet

        with open_catalog(args) as catalog:
            written = write_parquet(catalog.iter_records(), args.out, EXPORT_FIELDS)
        print(f"exported {written} record(s) to {args.out}", file=sys.stderr)
        return 0
    out: IO[str] = open(args.out, "w", encoding="utf-8", newline="") if args.out else sys.stdout  # noqa: SIM115
    try:
        with open_catalog(args) as catalog:
            written = _write_export(catalog.iter_records(), out, args.format)
    finally:
        if args.out:
            out.close()
    if args.out:
        print(f"exported {written} record(s) to {args.out}", file=sys.stderr)
    return 0


def _write_export(records: Iterable[Record], out: IO[str], fmt: str) -> int:
    writer = csv.DictWriter(out, fieldnames=EXPORT_FIELDS) if fmt == "csv" else None
    if writer is not None:
        writer.writeheader()
    written = 0
    for record in records:
        data = record.to_dict()
        if writer is None:
            out.write(json.dumps(data, ensure_ascii=False, sort_keys=True) + "\n")
        else:
            writer.writerow({k: _csv_value(data[k]) for k in EXPORT_FIELDS})
        written += 1
    return written


def _csv_value(value: Any) -> Any:
    if isinstance(value, list | tuple):
        return "; ".join(map(str, value))
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return value
