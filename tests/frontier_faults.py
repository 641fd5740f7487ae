"""Kill frontier workers at seeded random moments mid-crawl; check every page is archived exactly once.

    python -m tests.frontier_faults --rounds 30 --kills 3 --seed 1 [--db postgresql+psycopg://...] [--workers 3]

A round: a fresh frontier, catalog and data directory; the Meridian Courier (tests.courier) on
127.0.0.1 answering each request after a random delay; `scraper enqueue` of its home page; N
workers (`scraper crawl --frontier ... --until-idle`). Then, `--kills` times at random moments, a
random worker is frozen (SIGSTOP), what it holds in the frontier is noted, it is killed (SIGKILL)
and a new worker takes its place. When the last worker has stopped by itself, the round checks:
every page archived exactly once (one capture per URL, the site's pages exactly), mirror pages
sharing their originals' documents, nothing requested twice but what a killed worker held, no
/private/ page requested, the crawl `finished`, `verify` clean and `warcio check` passing.
tests/test_scaleout.py runs one round with one kill; this runs many.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import create_engine, text

from archive.frontier.store import Frontier
from benchmarks.scaleout import fresh_catalog
from tests.courier import MIRRORED, Courier, pages

ROOT = Path(__file__).resolve().parent.parent
REDIS_URL = os.environ.get("SCRAPER_TEST_REDIS", "redis://127.0.0.1:6379/0")
# Fast beats so a dead worker is noticed in seconds; a worker silent for 2 s is dead.
BEAT = ["-s", "ARCHIVE_FRONTIER_HEARTBEAT=0.5", "-s", "ARCHIVE_FRONTIER_WORKER_TTL=2"]

__all__ = ["FaultReport", "cli", "freeze_one_holding", "paths_of", "reaped", "rows", "start_workers"]


def env_for(data: Path, db: str) -> dict[str, str]:
    return {**os.environ, "SCRAPER_DATA": str(data), "SCRAPER_DB": db, "PYTHONWARNINGS": "error"}


def cli(data: Path, db: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Run `scraper ARGS` to its end."""
    return subprocess.run(
        [sys.executable, "-m", "archive.cli", *args],
        cwd=ROOT,
        env=env_for(data, db),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def start_workers(data: Path, db: str, frontier: Frontier, ids: list[str], *extra: str) -> list[subprocess.Popen[str]]:
    """Start one `scraper crawl --frontier ... --until-idle` process per id."""
    where = ["--frontier", frontier.url, "--frontier-name", frontier.name]
    procs = []
    for worker_id in ids:
        command = [sys.executable, "-m", "archive.cli", "crawl", *where, "--worker-id", worker_id, "--until-idle"]
        command += ["--allow-network", "127.0.0.1/32", "--jobs", "1", *BEAT, *extra]
        out = subprocess.PIPE
        procs.append(subprocess.Popen(command, cwd=ROOT, env=env_for(data, db), stdout=out, stderr=out, text=True))
    return procs


@contextmanager
def reaped(procs: list[subprocess.Popen[str]]) -> Iterator[list[subprocess.Popen[str]]]:
    """Kill whatever of `procs` is still running when the block ends (a failed check must not leave workers)."""
    try:
        yield procs
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
            proc.communicate()


def freeze_one_holding(
    frontier: Frontier, procs: dict[str, subprocess.Popen[str]], rng: random.Random | None = None
) -> tuple[str, list[dict[str, object]]] | None:
    """Freeze (SIGSTOP) a worker that holds items (requests, files); return its id and what it holds, or None."""
    holders = [w for w in frontier.workers() if w["in_flight"] and w["worker"].rsplit("/", 1)[1] in procs]
    if rng is not None:
        rng.shuffle(holders)
    for info in holders:
        worker_id = info["worker"].rsplit("/", 1)[1]
        proc = procs[worker_id]
        if proc.poll() is not None:
            continue
        proc.send_signal(signal.SIGSTOP)  # frozen: what it holds cannot change now
        held = [json.loads(data) for data in frontier.in_flight(info["worker"])]
        if held:
            return worker_id, held
        proc.send_signal(signal.SIGCONT)
    return None


def paths_of(requests: list[dict[str, object]]) -> set[str]:
    """Return the URL paths of requests as the frontier holds them."""
    return {re.sub(r"^https?://[^/]+", "", str(request["url"])) for request in requests}


@dataclass
class FaultReport:
    """What the harness did and found; `failures` empty means every check held."""

    rounds: int = 0
    kills: int = 0
    pages_checked: int = 0
    lost: int = 0
    duplicated: int = 0
    refetched: int = 0  # URLs requested twice that a killed worker held (expected)
    seconds: float = 0.0
    failures: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return (
            f"{self.kills} kills in {self.rounds} rounds, {self.seconds:.0f} s: {self.pages_checked} pages checked, "
            f"{self.lost} lost, {self.duplicated} archived twice, {self.refetched} refetched after a kill "
            f"(held by the killed worker), {len(self.failures)} failed checks"
        )


def run(rounds: int, kills: int, seed: int, db_server: str | None, workers: int) -> FaultReport:
    """Run `rounds` rounds of `kills` kills each; return the report."""
    rng = random.Random(seed)
    report = FaultReport()
    started = time.monotonic()
    for number in range(1, rounds + 1):
        with tempfile.TemporaryDirectory(prefix="frontier-faults-") as tmp, fresh_catalog(db_server, Path(tmp)) as db:
            _round(Path(tmp) / "data", db, rng, kills, workers, report, f"round {number}")
        report.rounds += 1
    report.seconds = time.monotonic() - started
    return report


def _round(data: Path, db: str, rng: random.Random, kills: int, count: int, report: FaultReport, name: str) -> None:
    frontier = Frontier(REDIS_URL, f"faults-{uuid.uuid4().hex[:10]}")
    try:
        with Courier(latency=rng.uniform(0.05, 0.25)) as site:
            done = cli(data, db, "enqueue", f"{site.base}/", "--frontier", frontier.url, "--frontier-name", frontier.name,
                       "--depth", "3", "--delay", "0")  # fmt: skip
            if done.returncode != 0:
                report.failures.append(f"{name}: enqueue failed: {done.stderr[-500:]}")
                return
            ids = [f"w{n}" for n in range(count)]
            procs = dict(zip(ids, start_workers(data, db, frontier, ids), strict=True))
            held: set[str] = set()
            with reaped(list(procs.values())) as started:
                for _ in range(kills):
                    _kill_one(frontier, procs, started, held, rng, report, data, db)
                for proc in list(procs.values()):
                    _, err = proc.communicate(timeout=600)
                    if proc.returncode != 0:
                        report.failures.append(f"{name}: a worker exited {proc.returncode}: {err[-800:]}")
            _check(site, db, data, held, report, name)
    finally:
        frontier.purge()
        frontier.close()


def _kill_one(
    frontier: Frontier,
    procs: dict[str, subprocess.Popen[str]],
    started: list[subprocess.Popen[str]],
    held: set[str],
    rng: random.Random,
    report: FaultReport,
    data: Path,
    db: str,
) -> None:
    """At a random moment, freeze and kill a worker holding requests, and start another in its place."""
    deadline = time.monotonic() + rng.uniform(0.5, 6.0)
    frozen = None
    while frozen is None and any(p.poll() is None for p in procs.values()):
        if time.monotonic() >= deadline:
            frozen = freeze_one_holding(frontier, procs, rng)
        time.sleep(0.02)
    if frozen is None:  # the crawl ended before this kill
        return
    worker_id, requests = frozen
    killed = procs.pop(worker_id)
    killed.send_signal(signal.SIGKILL)
    killed.wait()
    held.update(paths_of(requests))
    report.kills += 1
    replacement = f"w{len(started)}"
    [proc] = start_workers(data, db, frontier, [replacement])
    procs[replacement] = proc
    started.append(proc)


def _check(site: Courier, db: str, data: Path, held: set[str], report: FaultReport, name: str) -> None:
    expected = {site.base + path for path in pages()}
    archived = [str(url) for (url,) in rows(db, "SELECT source_url FROM captures")]
    report.pages_checked += len(archived)
    lost, extra = expected - set(archived), len(archived) - len(set(archived))
    report.lost += len(lost)
    report.duplicated += extra
    if lost or extra or set(archived) != expected:
        report.failures.append(f"{name}: {len(lost)} pages lost ({sorted(lost)[:3]}), {extra} archived twice")
    documents = rows(db, "SELECT count(*) FROM documents")[0][0]
    if documents != len(expected) - len(MIRRORED):
        report.failures.append(f"{name}: {documents} documents for {len(expected) - len(MIRRORED)} distinct texts")
    twice = {path for path, hits in site.hits.items() if hits > 1 and path != "/robots.txt"}
    report.refetched += len(twice & held)
    if twice - held:
        report.failures.append(f"{name}: requested twice though no killed worker held them: {sorted(twice - held)}")
    if [p for p in site.hits if p.startswith("/private/")]:
        report.failures.append(f"{name}: a page robots.txt forbids was requested")
    status = {s for (s,) in rows(db, "SELECT status FROM crawls")}
    if status != {"finished"}:
        report.failures.append(f"{name}: crawl status {status}")
    verified = cli(data, db, "verify")
    if verified.returncode != 0:
        report.failures.append(f"{name}: verify: {verified.stdout[-800:]}")
    files = sorted((data / "warc").glob("*.warc.gz"))
    warcio = Path(sys.executable).with_name("warcio")
    check = subprocess.run([str(warcio), "check", *map(str, files)], capture_output=True, text=True, check=False)
    if check.returncode != 0:
        report.failures.append(f"{name}: warcio check: {check.stdout[-800:]}")


def rows(db: str, sql: str) -> list[tuple[object, ...]]:
    """Return the rows a query gives on catalog `db`."""
    engine = create_engine(db)
    try:
        with engine.connect() as conn:
            return [tuple(row) for row in conn.execute(text(sql))]
    finally:
        engine.dispose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--kills", type=int, default=3, help="kills per round")
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--db", help="PostgreSQL URL (default: SQLite files)")
    args = parser.parse_args()
    report = run(args.rounds, args.kills, args.seed, args.db, args.workers)
    print(json.dumps({**report.__dict__, "summary": report.summary()}, indent=2))
    return 0 if not report.failures else 1


if __name__ == "__main__":
    sys.exit(main())
