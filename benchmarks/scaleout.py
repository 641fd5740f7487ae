"""Crawl throughput with 1, 2 and 4 frontier workers, against the same crawl in one process, on 127.0.0.1.

    python -m benchmarks.scaleout [--workers 1,2,4] [--pages 200] [--latency-ms 0,200] [--concurrency 2] [--repeat 3]
                                  [--db postgresql|sqlite] [--redis URL] [--eval DIR] [--results DIR]

The site is the evaluation set's pages behind an index (benchmarks.serve), optionally answering
each request after a delay as a distant server would. Every configuration crawls the index and
the pages it links (depth 1, no politeness delay, `--concurrency` requests at once per process)
into a fresh catalog and data directory: once as one `scraper crawl` process (the baseline, with
one extraction process like each worker, and again with one per core), then as N workers of a
fresh frontier (`scraper enqueue`, then N `scraper crawl --frontier ... --until-idle --jobs 1`).

Pages/s is pages archived over the crawl's span as the site saw it, from the first request to
the last answer (the median of `--repeat` runs, taken in turns): process start-up (imports,
forking) and the idle wait before workers exit are not in it, the same for every row. A ratio
is refused unless both crawls archived every page.
Writes benchmarks/results/scaleout.json and .md.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text

from archive.frontier.store import Frontier
from benchmarks.__main__ import EVAL_SET, ROOT, load_pages, serve
from benchmarks.synthetic import RESULTS, machine, write_results

PG_URL = os.environ.get("SCRAPER_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("SCRAPER_TEST_REDIS", "redis://127.0.0.1:6379/0")
QUIET = ["-s", "ARCHIVE_FRONTIER_HEARTBEAT=1"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", default="1,2,4")
    parser.add_argument("--pages", type=int, default=200)
    parser.add_argument("--latency-ms", default="0,200", help="each answer's delay, one run per value")
    parser.add_argument("--concurrency", type=int, default=2, help="requests at once per process (default 2)")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each configuration; the median is shown")
    parser.add_argument("--db", choices=("postgresql", "sqlite"), default="postgresql")
    parser.add_argument("--redis", default=REDIS_URL)
    parser.add_argument("--eval", type=Path, default=EVAL_SET)
    parser.add_argument("--results", type=Path, default=RESULTS)
    args = parser.parse_args()
    pages = load_pages(args.eval, args.pages)
    rows = []
    for latency in (int(v) / 1000 for v in args.latency_ms.split(",")):
        rows.extend(_scenario(pages, latency, [int(n) for n in args.workers.split(",")], args))
    results = {"machine": machine(), "pages": len(pages), "db": args.db, "rows": rows}
    write_results("scaleout", results, _table(rows), args.results)
    print(_table(rows))


def _scenario(pages: list[tuple[str, bytes]], latency: float, counts: list[int], args: Any) -> list[dict[str, Any]]:
    """Measure every configuration `args.repeat` times, in turns (so drift in the machine hits each alike)."""
    configs = [(0, 1), (0, os.cpu_count() or 1), *((n, 1) for n in counts)]
    runs: dict[tuple[int, int], list[dict[str, Any]]] = {config: [] for config in configs}
    for _ in range(args.repeat):
        for workers, jobs in configs:
            runs[(workers, jobs)].append(_measure(pages, latency, args, workers=workers, jobs=jobs))
    median = {config: _median(found) for config, found in runs.items()}
    alone, alone_cores = median[configs[0]], median[configs[1]]
    shared = {n: median[(n, 1)] for n in counts}
    one = shared.get(1, alone)
    rows = [_row(latency, "one process, --jobs 1 (baseline)", alone, alone, one)]
    rows.append(_row(latency, f"one process, --jobs {os.cpu_count()}", alone_cores, alone, one))
    rows += [_row(latency, f"{n} worker(s), --jobs 1 each", shared[n], alone, one) for n in counts]
    return rows


def _median(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Return the run of median rate (its own seconds with it), and every rate measured."""
    ordered = sorted(runs, key=lambda r: r["rate"])
    return {**ordered[len(ordered) // 2], "rates": [round(r["rate"], 2) for r in runs]}


def _row(latency: float, what: str, run: dict[str, Any], alone: dict[str, Any], one: dict[str, Any]) -> dict[str, Any]:
    return {
        "latency_ms": round(latency * 1000),
        "crawl": what,
        "pages": run["pages"],
        "seconds": round(run["seconds"], 2),
        "pages_per_s": round(run["rate"], 2),
        "all_runs_pages_per_s": run["rates"],
        "vs_one_process": round(run["rate"] / alone["rate"], 2),
        "vs_one_worker": round(run["rate"] / one["rate"], 2),
    }


def _measure(pages: list[tuple[str, bytes]], latency: float, args: Any, *, workers: int, jobs: int) -> dict[str, Any]:
    """Crawl the site once (in one process, or with `workers` frontier workers); return pages, seconds, rate."""
    log: list[tuple[str, float, float]] = []
    with (
        tempfile.TemporaryDirectory(prefix="scaleout-") as tmp,
        fresh_catalog(PG_URL if args.db == "postgresql" else None, Path(tmp)) as db,
        serve(pages, latency=latency, log=log) as url,
    ):
        data = Path(tmp) / "data"
        env = {**os.environ, "SCRAPER_DATA": str(data), "SCRAPER_DB": db}
        polite = ["--delay", "0", "--concurrency", str(args.concurrency), "--allow-network", "127.0.0.1/32"]
        if workers == 0:
            _run(["crawl", url, "--depth", "1", "--jobs", str(jobs), *polite], env)
        else:
            name = f"bench-{uuid.uuid4().hex[:8]}"
            where = ["--frontier", args.redis, "--frontier-name", name]
            _run(["enqueue", url, "--depth", "1", "--delay", "0", *where], env)
            procs = [
                _start(["crawl", *where, "--until-idle", "--jobs", str(jobs), "--worker-id", f"w{n}", *polite], env)
                for n in range(workers)
            ]
            for proc in procs:
                _, err = proc.communicate(timeout=3600)
                if proc.returncode != 0:
                    raise SystemExit(f"a worker failed ({proc.returncode}):\n{err[-3000:]}")
            Frontier(args.redis, name).purge()
        archived = _count(db)
        if archived != len(pages) + 1:  # the pages and the index: anything else compares unlike work
            raise SystemExit(f"{archived} pages archived of {len(pages) + 1} ({workers} workers)")
        fetched = [(came, sent) for path, came, sent in log if path != "/robots.txt"]
        seconds = max(sent for _, sent in fetched) - min(came for came, _ in fetched)
        return {"pages": archived, "seconds": seconds, "rate": archived / seconds}


def _run(args: list[str], env: dict[str, str]) -> None:
    proc = _start(args, env)
    _, err = proc.communicate(timeout=3600)
    if proc.returncode != 0:
        raise SystemExit(f"scraper {args[0]} failed ({proc.returncode}):\n{err[-3000:]}")


def _start(args: list[str], env: dict[str, str]) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "archive.cli", *args]
    if args[0] == "crawl":
        command += QUIET
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@contextmanager
def fresh_catalog(server: str | None, work: Path) -> Iterator[str]:
    """Yield a fresh catalog: a SQLite file in `work`, else a schema of its own on PostgreSQL `server`."""
    if server is None:
        yield f"sqlite:///{work / 'catalog.sqlite'}"
        return
    schema = f"fresh_{uuid.uuid4().hex[:12]}"
    engine = create_engine(server)
    with engine.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    try:
        yield f"{server}?options=-csearch_path%3D{schema}"
    finally:
        with engine.begin() as conn:
            conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        engine.dispose()


def _count(db: str) -> int:
    engine = create_engine(db)
    try:
        with engine.connect() as conn:
            return int(conn.execute(text("SELECT count(*) FROM captures")).scalar_one())
    finally:
        engine.dispose()


def _table(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| answer delay | crawl | pages | seconds | pages/s (median) | every run | vs one process | vs one worker |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        every = ", ".join(str(rate) for rate in r["all_runs_pages_per_s"])
        lines.append(
            f"| {r['latency_ms']} ms | {r['crawl']} | {r['pages']} | {r['seconds']} | {r['pages_per_s']} | {every} | "
            f"{r['vs_one_process']}x | {r['vs_one_worker']}x |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    started = time.monotonic()
    main()
    print(f"({time.monotonic() - started:.0f} s)", file=sys.stderr)
