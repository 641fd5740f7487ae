"""The benchmark suite: our speed against the libraries we stand on, measured in one run.

    python -m benchmarks [--only replay,text,crawl,warc,catalog,memory] [--pages N] [--catalog-sizes A,B]
                         [--memory-sizes A,B,C] [--eval DIR] [--results DIR] [--name NAME]

Offline: pages come from the evaluation set beside the project (../shared/eval/trafilatura-eval,
or --eval DIR), the crawl is against a server this process starts on 127.0.0.1. Every figure
is set against a baseline measured in the same run on the same input:

1. HTML replay (`scraper replay`, --jobs 1 and 2) against bare trafilatura.extract, in one process.
2. Text-capture replay (the same pages rendered to text) against the bare text stripper.
3. Live crawl against a bare Scrapy spider fetching the same pages and keeping nothing.
4. WARC writing (our writer: raw, conversion and metadata records) against bare warcio
   writing the same records.
5. Catalog insert rate as it grows (benchmarks.catalog_scale): records carrying their text features
   against records without (add_records computes them), and filtered full-text latency.
6. Peak memory of text replays of growing size: it must stay flat.

Writes benchmarks/results/benchmarks.json and .md (the README's table).
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from benchmarks.synthetic import RESULTS, machine, write_results

ROOT = Path(__file__).resolve().parent.parent
EVAL_SET = ROOT.parent / "shared" / "eval" / "trafilatura-eval"
SUITES = ("replay", "text", "crawl", "warc", "catalog", "memory")
MEMORY_CAPTURE_CHARS = 4_000


def load_pages(eval_set: Path, count: int) -> list[tuple[str, bytes]]:
    """Return (name, HTML bytes) of the first `count` pages of the evaluation set."""
    files = sorted((eval_set / "html").glob("*.html.gz"))
    if not files:
        raise SystemExit(f"no pages: the evaluation set is not at {eval_set} (give --eval DIR)")
    return [(f.name.removesuffix(".gz"), gzip.decompress(f.read_bytes())) for f in files[:count]]


def run_in_process(*args: str) -> dict[str, Any]:
    """Run one measured run (benchmarks._runner) in a fresh interpreter; return its report."""
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks._runner", *args], cwd=ROOT, capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        raise SystemExit(f"benchmark run {args[:2]} failed:\n{proc.stderr[-3000:]}")
    report: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return report


def rate(count: int, seconds: float) -> float:
    return count / seconds if seconds > 0 else 0.0


def row(name: str, ours: float, baseline: float, unit: str, against: str, goal: str = "") -> dict[str, Any]:
    return {
        "measure": name,
        "ours": round(ours, 2),
        "baseline": round(baseline, 2),
        "unit": unit,
        "ratio": round(ours / baseline, 3) if baseline else None,
        "against": against,
        "goal": goal,
    }


def bench_replay(pages: list[tuple[str, bytes]], work: Path) -> list[dict[str, Any]]:
    import trafilatura

    began = time.perf_counter()
    for _, html in pages:
        trafilatura.extract(html)
    bare = rate(len(pages), time.perf_counter() - began)
    began = time.perf_counter()
    for _, html in pages:  # what replay extracts: text and metadata (title, author, date, site name)
        trafilatura.extract(html, with_metadata=True)
    with_metadata = rate(len(pages), time.perf_counter() - began)
    folder = work / "html"
    folder.mkdir()
    for name, html in pages:
        (folder / name).write_bytes(html)
    one, two = _replay_rates(folder, work / "replay", len(pages))
    return [
        row("HTML replay, --jobs 1 (captures/s)", one, bare, "captures/s", "bare trafilatura.extract", "≥ 0.85"),
        row(
            "HTML replay, --jobs 1 (captures/s)",
            one,
            with_metadata,
            "captures/s",
            "trafilatura.extract(with_metadata=True)",
        ),
        row("HTML replay, --jobs 2 (captures/s)", two, bare, "captures/s", "bare trafilatura.extract"),
        row("HTML replay, --jobs 2 (captures/s)", two, one, "captures/s", "--jobs 1", "≥ 1.8"),
    ]


def _replay_rates(folder: Path, data: Path, inputs: int) -> tuple[float, float]:
    """Replay `folder` with --jobs 1 and 2 (data dirs DATA-1, DATA-2); return both captures/s."""
    runs = {jobs: run_in_process("replay", f"{data}-{jobs}", str(jobs), str(folder)) for jobs in (1, 2)}
    _same_work(runs, inputs)
    return rate(runs[1]["captures"], runs[1]["seconds"]), rate(runs[2]["captures"], runs[2]["seconds"])


def _same_work(runs: dict[int, dict[str, Any]], inputs: int) -> None:
    """Stop unless every run read every input and wrote the same records: else rates compare unlike work."""
    unread = any(r["captures"] + r["failed"] < inputs for r in runs.values())
    if unread or len({r["records"] for r in runs.values()}) > 1:
        raise SystemExit(f"the replays differ: {runs}")


def text_captures(pages: list[tuple[str, bytes]]) -> list[str]:
    """Return the pages rendered to plain text, as a browser's "save as text" would."""
    from scraper.evaluation import render_text

    return [render_text(html.decode("utf-8", "replace")) for _, html in pages]


def bench_text(pages: list[tuple[str, bytes]], work: Path) -> list[dict[str, Any]]:
    from scraper._linemodel import default_model
    from scraper.strip import strip_boilerplate

    texts = text_captures(pages)
    model = default_model()
    decide = model.decide if model is not None else None
    began = time.perf_counter()
    for body in texts:  # the stripper as replay runs it (with the shipped line model), nothing else
        strip_boilerplate(body, decide=decide)
    bare = rate(len(texts), time.perf_counter() - began)
    folder = work / "text"
    folder.mkdir()
    for number, body in enumerate(texts):
        (folder / f"{number:05d}.txt").write_text(body, encoding="utf-8")
    one, two = _replay_rates(folder, work / "text", len(texts))
    return [
        row("text replay, --jobs 1 (captures/s)", one, bare, "captures/s", "bare strip_boilerplate + line model"),
        row("text replay, --jobs 2 (captures/s)", two, one, "captures/s", "--jobs 1"),
    ]


@contextmanager
def serve(
    pages: list[tuple[str, bytes]], *, latency: float = 0.0, log: list[tuple[str, float, float]] | None = None
) -> Iterator[str]:
    """Serve an index linking every page, and the pages, on 127.0.0.1; yield the index URL.

    `latency`: seconds each response waits, as a distant server's would. `log` gets
    (path, when the request came, when its answer was sent) for every request (time.monotonic).
    """
    index = "".join(f'<li><a href="/page/{n}">page {n}</a></li>' for n in range(len(pages)))
    home = f"<html><head><title>Index</title></head><body><ul>{index}</ul></body></html>".encode()
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            came = time.monotonic()
            if latency:
                time.sleep(latency)
            self._answer()
            if log is not None:
                with lock:
                    log.append((self.path, came, time.monotonic()))

        def _answer(self) -> None:
            if self.path == "/":
                body, status = home, 200
            elif self.path.startswith("/page/") and self.path[6:].isdigit() and int(self.path[6:]) < len(pages):
                body, status = pages[int(self.path[6:])][1], 200
            else:
                body, status = b"not found", 404
            self.send_response(status)
            self.send_header("Content-Type", "text/html; charset=utf-8" if status == 200 else "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def bench_crawl(pages: list[tuple[str, bytes]], work: Path) -> list[dict[str, Any]]:
    with serve(pages) as url:
        bare = run_in_process("bare-crawl", url)
        ours = run_in_process("crawl", str(work / "crawl"), url)
    if ours["responses"] != bare["responses"] or ours["records"] < len(pages) // 2:
        raise SystemExit(f"the crawls differ: ours {ours}, bare {bare}")  # the ratio would compare unlike work
    return [
        row(
            "live crawl, loopback (pages/s)",
            rate(ours["responses"], ours["seconds"]),
            rate(bare["responses"], bare["seconds"]),
            "responses/s",
            "bare Scrapy spider, nothing kept",
        )
    ]


def bench_warc(pages: list[tuple[str, bytes]], work: Path) -> list[dict[str, Any]]:
    from warcio.warcwriter import WARCWriter

    from archive.warc.writer import WarcFileWriter
    from scraper import Capture, CaptureError, build_record

    captures = [
        Capture(payload=html, source_kind="file", source_location=f"/pages/{name}", media_type="text/html")
        for name, html in pages
    ]
    built = []
    for capture in captures:
        try:
            built.append((capture, build_record(capture)))
        except CaptureError:  # a page without an article has nothing to write
            continue
    writer = WarcFileWriter(work / "warc-ours", prefix="bench", info={})
    began = time.perf_counter()
    for capture, record in built:
        writer.write_capture(capture, record)
    writer.flush()
    writer.close()
    ours_seconds = time.perf_counter() - began
    ours_bytes = sum(f.stat().st_size for f in (work / "warc-ours").glob("*.warc.gz"))
    # Bare warcio: the same three records per capture, read back from our file, written again.
    from warcio.archiveiterator import ArchiveIterator

    records = []
    for path in sorted((work / "warc-ours").glob("*.warc.gz")):
        with path.open("rb") as stream:
            for rec in ArchiveIterator(stream):
                records.append(
                    (rec.rec_type, rec.rec_headers.get_header("WARC-Target-URI"), rec.content_stream().read())
                )
    out = work / "warc-bare.warc.gz"
    began = time.perf_counter()
    with out.open("wb") as stream:
        bare_writer = WARCWriter(stream, gzip=True)
        for rec_type, uri, payload in records:
            record = bare_writer.create_warc_record(uri or "", rec_type, payload=io.BytesIO(payload))
            bare_writer.write_record(record)
        stream.flush()
    bare_seconds = time.perf_counter() - began
    megabytes = 1024 * 1024
    return [
        row(
            "WARC write (MB/s of gzipped WARC)",
            ours_bytes / megabytes / ours_seconds,
            out.stat().st_size / megabytes / bare_seconds,
            "MB/s",
            "bare warcio WARCWriter, same records",
        )
    ]


def bench_catalog(sizes: list[int]) -> list[dict[str, Any]]:
    from benchmarks.catalog_scale import run

    return catalog_rows(run("sqlite", sizes))


def catalog_rows(measured: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Return the suite's rows of catalog_scale's measurements."""
    rows = []
    for found in measured:
        latency = found["queries"]["full-text + site + date"]
        rows.append(
            row(
                f"catalog at {found['documents']:,} documents: add_records (records/s)",
                found["insert_records_per_s"],
                found["insert_computing_features_records_per_s"],
                "records/s",
                "records without text features (add_records computes them), blocks in turns",
            )
        )
        rows.append(
            row(
                f"catalog at {found['documents']:,} documents: filtered full-text p95 (ms)",
                latency["p95_ms"],
                0,
                "ms",
                "",
                "< 50 at 1M",
            )
        )
    return rows


def bench_memory(pages: list[tuple[str, bytes]], work: Path, sizes: list[int]) -> list[dict[str, Any]]:
    """Peak RSS of one-process text replays of growing size: what a run keeps per record shows as growth."""
    texts = [text[:MEMORY_CAPTURE_CHARS] for text in text_captures(pages)]  # short: 20k captures in minutes
    peaks, ends = {}, {}
    for size in sizes:
        folder = work / f"memory-{size}"
        folder.mkdir()
        for number in range(size):  # distinct captures: each page again with its own closing line
            body = texts[number % len(texts)] + f"\nCapture {number} of the memory benchmark.\n"
            (folder / f"{number:06d}.txt").write_text(body, encoding="utf-8")
        report = run_in_process("replay", str(work / f"memory-run-{size}"), "1", str(folder))
        peaks[size], ends[size] = report["peak_rss_mb"], report["rss_at_end_mb"] or 0.0
    smallest, largest = min(sizes), max(sizes)
    rows = [
        row(
            f"peak RSS of a {largest:,}-capture text replay (MB)",
            peaks[largest],
            peaks[smallest],
            "MB",
            f"{smallest:,}-capture replay",
            "flat (≈ 1.0)",
        )
    ]
    rows += [
        row(f"peak RSS at {n:,} captures (MB)", peaks[n], peaks[smallest], "MB", f"{smallest:,}") for n in sizes[1:-1]
    ]
    rows += [row(f"RSS at the end, {n:,} captures (MB)", ends[n], ends[smallest], "MB", f"{smallest:,}") for n in sizes]
    return rows


def table(rows: list[dict[str, Any]]) -> str:
    lines = ["| measure | ours | baseline | ratio | against | goal |", "|---|---|---|---|---|---|"]
    for r in rows:
        ratio = f"{r['ratio']:.2f}x" if r["ratio"] is not None else ""
        baseline = f"{r['baseline']:,.2f}" if r["baseline"] else ""
        lines.append(f"| {r['measure']} | {r['ours']:,.2f} | {baseline} | {ratio} | {r['against']} | {r['goal']} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default=",".join(SUITES), help=f"comma-separated: {', '.join(SUITES)}")
    parser.add_argument("--eval", type=Path, default=EVAL_SET, help="the evaluation set (pages in html/)")
    parser.add_argument("--pages", type=int, default=990, help="pages for replay, crawl and WARC (default 990)")
    parser.add_argument("--catalog-sizes", default="10000,100000")
    parser.add_argument("--memory-sizes", default="2500,5000,20000")
    parser.add_argument("--name", default="benchmarks", help="results/NAME.json and .md")
    parser.add_argument("--results", type=Path, default=RESULTS, help="where to write them (benchmarks/results)")
    args = parser.parse_args()
    chosen = [s for s in args.only.split(",") if s]
    unknown = set(chosen) - set(SUITES)
    if unknown:
        parser.error(f"unknown suites: {', '.join(sorted(unknown))}")
    pages = load_pages(args.eval, args.pages) if set(chosen) - {"catalog"} else []
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="scraper-bench-") as directory:
        work = Path(directory)
        for suite in chosen:
            began = time.perf_counter()
            if suite == "replay":
                found = bench_replay(pages, work)
            elif suite == "text":
                found = bench_text(pages, work)
            elif suite == "crawl":
                found = bench_crawl(pages, work)
            elif suite == "warc":
                found = bench_warc(pages, work)
            elif suite == "catalog":
                found = bench_catalog(sorted(int(s) for s in args.catalog_sizes.split(",")))
            else:
                found = bench_memory(pages, work, sorted(int(s) for s in args.memory_sizes.split(",")))
            for r in found:
                r["suite"] = suite
                print(json.dumps(r, ensure_ascii=False), flush=True)
            print(f"# {suite}: {time.perf_counter() - began:.0f} s", flush=True)
            rows += found
    rows = _merged(args.results / f"{args.name}.json", rows, chosen)
    markdown = table(rows)
    print(markdown)
    write_results(args.name, {"machine": machine(), "pages": args.pages, "rows": rows}, markdown, args.results)


def _merged(previous: Path, rows: list[dict[str, Any]], chosen: list[str]) -> list[dict[str, Any]]:
    """Return the earlier results' rows of suites not run now, with this run's, in suite order."""
    kept = []
    if previous.is_file():
        kept = [r for r in json.loads(previous.read_text())["rows"] if r.get("suite") not in chosen]
    order = {suite: n for n, suite in enumerate(SUITES)}
    return sorted(kept + rows, key=lambda r: order.get(r.get("suite", ""), len(SUITES)))


if __name__ == "__main__":
    main()
