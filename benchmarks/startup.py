"""Start-up: how long a `scraper` command takes before it does its work, against a bare interpreter.

    python -m benchmarks.startup [--runs N] [--results DIR]

Each command runs N times in a fresh process (the median wall time counts), in turns with the
baselines so that load on the machine falls on all alike: a bare `python -c pass`, and the
imports a replay pays (Scrapy, SQLAlchemy, trafilatura) for scale. The catalog commands read an
archive of the project's own seeds, replayed once into a temporary folder first. Offline.
Writes benchmarks/results/startup.json and .md.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.synthetic import RESULTS, machine, write_results

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
GOALS = {"scraper --version": 0.3, "scraper query WORD": 1.0}


def _wall(command: list[str], env: dict[str, str]) -> float:
    """Return the seconds one run of `command` takes; fail loudly if it fails."""
    start = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, check=False, cwd=ROOT)
    took = time.perf_counter() - start
    if done.returncode not in (0, 1):  # query exits 1 when it finds nothing
        raise SystemExit(f"{' '.join(command)} exited {done.returncode}: {done.stderr.decode()[-2000:]}")
    return took


def _commands(data: Path, record_id: str) -> dict[str, list[str]]:
    scraper = [sys.executable, "-m", "archive.cli"]
    return {
        "python -c pass (baseline)": [sys.executable, "-c", "pass"],
        "import scrapy, sqlalchemy, trafilatura (a replay's imports)": [
            sys.executable,
            "-c",
            "import scrapy, sqlalchemy, trafilatura",
        ],
        "scraper --version": [*scraper, "--version"],
        "scraper --help": [*scraper, "--help"],
        "scraper query WORD": [*scraper, "query", "lighthouse", "--data", str(data)],
        "scraper show ID": [*scraper, "show", record_id, "--data", str(data)],
        "scraper crawls": [*scraper, "crawls", "--data", str(data)],
    }


def _archive(data: Path, env: dict[str, str]) -> str:
    """Replay the project's seeds into `data`; return one record id."""
    scraper = [sys.executable, "-m", "archive.cli"]
    subprocess.run([*scraper, "replay", str(SEEDS), "--data", str(data), "--jobs", "1"], env=env, check=True, cwd=ROOT)
    found = subprocess.run(
        [*scraper, "query", "--data", str(data), "--format", "jsonl", "--limit", "1"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    return str(json.loads(found.stdout.splitlines()[0])["id"])


def measure(runs: int) -> dict[str, Any]:
    """Return the median wall seconds of each command over `runs` turns."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCRAPER_")}
    with tempfile.TemporaryDirectory(prefix="startup-") as scratch:
        data = Path(scratch) / "data"
        commands = _commands(data, _archive(data, env))
        times: dict[str, list[float]] = {name: [] for name in commands}
        for command in commands.values():  # one warm-up each: the page cache, not the first run, is measured
            _wall(command, env)
        for _ in range(runs):
            for name, command in commands.items():
                times[name].append(_wall(command, env))
    baseline = statistics.median(times["python -c pass (baseline)"])
    rows = []
    for name, found in times.items():
        median = statistics.median(found)
        rows.append(
            {
                "command": name,
                "median_s": round(median, 3),
                "max_s": round(max(found), 3),
                "ratio_to_bare_python": round(median / baseline, 1) if baseline else None,
                "goal_s": GOALS.get(name),
            }
        )
    return {"machine": machine(), "runs": runs, "rows": rows}


def table(results: dict[str, Any]) -> str:
    lines = [
        f"Start-up, median of {results['runs']} runs in turns (wall seconds; `python -m benchmarks.startup`)",
        "",
        "| command | median s | max s | x bare python | goal |",
        "| --- | ---: | ---: | ---: | --- |",
    ]
    for row in results["rows"]:
        goal = f"< {row['goal_s']} s" if row["goal_s"] else ""
        lines.append(
            f"| `{row['command']}` | {row['median_s']} | {row['max_s']} | {row['ratio_to_bare_python']} | {goal} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--results", type=Path, default=RESULTS)
    args = parser.parse_args()
    results = measure(max(1, args.runs))
    write_results("startup", results, table(results), args.results)
    print(table(results))


if __name__ == "__main__":
    main()
