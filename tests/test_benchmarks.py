"""The benchmark suite runs from its one command (small sizes; no timing is asserted)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import EVAL_SET, ROOT, need

pytestmark = pytest.mark.slow  # runs the benchmark suites end to end


def test_the_suite_runs_and_writes_its_table(tmp_path: Path) -> None:
    need((EVAL_SET / "html").is_dir(), f"the evaluation set is not at {EVAL_SET}")
    args = ["--only", "warc,crawl,memory", "--pages", "12", "--memory-sizes", "15,30", "--name", "smoke"]
    _benchmark("benchmarks", *args, "--results", str(tmp_path))
    results = json.loads((tmp_path / "smoke.json").read_text())
    rows = {r["measure"]: r for r in results["rows"]}
    warc = rows["WARC write (MB/s of gzipped WARC)"]
    crawl = rows["live crawl, loopback (pages/s)"]
    memory = rows["peak RSS of a 30-capture text replay (MB)"]
    for found in (warc, crawl, memory):
        assert found["ours"] > 0 and found["baseline"] > 0, found
        assert abs(found["ratio"] - found["ours"] / found["baseline"]) < 0.01 * found["ratio"] + 0.005
    assert results["machine"]["cpus"] >= 1
    table = (tmp_path / "smoke.md").read_text()
    assert table.startswith("| measure | ours | baseline | ratio |") and "live crawl" in table


def test_the_scale_out_benchmark_runs_and_writes_its_table(tmp_path: Path, frontier: object) -> None:
    need((EVAL_SET / "html").is_dir(), f"the evaluation set is not at {EVAL_SET}")
    args = ["--pages", "8", "--workers", "1,2", "--latency-ms", "0", "--repeat", "1", "--db", "sqlite"]
    _benchmark("benchmarks.scaleout", *args, "--results", str(tmp_path))
    rows = json.loads((tmp_path / "scaleout.json").read_text())["rows"]
    assert [r["crawl"] for r in rows][2:] == ["1 worker(s), --jobs 1 each", "2 worker(s), --jobs 1 each"]
    for row in rows:  # every configuration archived every page, and its ratios are its own rates
        assert row["pages"] == 9 and row["pages_per_s"] > 0
        assert abs(row["vs_one_process"] - row["pages_per_s"] / rows[0]["pages_per_s"]) < 0.02
    assert (tmp_path / "scaleout.md").read_text().startswith("| answer delay | crawl |")


def test_the_startup_benchmark_times_every_command_against_a_bare_interpreter(tmp_path: Path) -> None:
    _benchmark("benchmarks.startup", "--runs", "1", "--results", str(tmp_path))
    rows = {r["command"]: r for r in json.loads((tmp_path / "startup.json").read_text())["rows"]}
    bare = rows["python -c pass (baseline)"]
    assert bare["ratio_to_bare_python"] == 1.0
    for name in ("scraper --version", "scraper query WORD", "scraper show ID"):
        assert rows[name]["median_s"] > 0
        assert (
            abs(rows[name]["ratio_to_bare_python"] - rows[name]["median_s"] / bare["median_s"])
            < 0.1 + 0.05 * (rows[name]["ratio_to_bare_python"])
        )
    assert rows["scraper --version"]["goal_s"] == 0.3 and rows["scraper query WORD"]["goal_s"] == 1.0
    assert "| `scraper --version` |" in (tmp_path / "startup.md").read_text()


def _benchmark(module: str, *args: str) -> None:
    """Run a benchmark module to its end; it must succeed."""
    proc = subprocess.run(
        [sys.executable, "-m", module, *args], cwd=ROOT, capture_output=True, text=True, check=False, timeout=900
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
