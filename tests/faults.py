"""Fault injection: SIGKILL `scraper replay` and `scraper crawl` at seeded random moments, check the archive after each.

Run it as a test (tests/test_faults.py runs a few rounds) or alone for many kills:

    python -m tests.faults --mode replay --kills 200 --seed 1
    python -m tests.faults --mode crawl --kills 200 --seed 2 --db postgresql+psycopg://postgres@127.0.0.1:5432/test

A round starts on an empty archive and kills runs until one finishes by itself; after every
kill the archive is checked: no catalog row points at a record that is not there whole (or
whose digest fails), nothing the catalog held before the kill is gone; then, on a seeded half
of the kills, `scraper repair` runs and the archive must verify clean and pass `warcio check`
(on the others the next run's own recovery does the mending). A finished round must hold
exactly the captures a run without kills archives, each once: one row, one set of WARC records.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import create_engine, text

from archive.catalog.facade import Catalog
from archive.integrity.repair import repair
from archive.integrity.verify import verify

__all__ = ["Harness", "KillReport"]

ROOT = Path(__file__).resolve().parent.parent
EVAL_HTML = ROOT.parent / "shared" / "eval" / "trafilatura-eval" / "html"
SHARED_SEEDS = ROOT.parent / "shared" / "seeds"


@dataclass
class KillReport:
    """What a run of the harness did and found; `failures` empty means every check held."""

    kills: int = 0
    rounds: int = 0
    repairs: int = 0
    captures_checked: int = 0
    lost: int = 0
    duplicated: int = 0
    seconds: float = 0.0
    failures: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return (
            f"{self.kills} kills in {self.rounds} rounds ({self.repairs} repairs), {self.seconds:.0f} s: "
            f"{self.captures_checked} captures checked, {self.lost} lost, {self.duplicated} duplicated, "
            f"{len(self.failures)} failed checks"
        )


@dataclass
class Harness:
    """Kills one kind of run (`replay` of `inputs`, or `crawl` of `url`) over and over in `work`."""

    mode: str
    work: Path
    db_url: str | None
    seed: int
    inputs: Path | None = None
    url: str | None = None
    max_delay: float = 8.0
    report: KillReport = field(default_factory=KillReport)
    schemas: list[str] = field(default_factory=list)  # made on the PostgreSQL server, dropped at the end

    def run(self, kills: int) -> KillReport:
        """Kill runs until `kills` kills are done (finishing the round in progress); return the report."""
        rng = random.Random(self.seed)
        started = time.monotonic()
        try:
            expected = self._reference()
            while self.report.kills < kills:
                self.report.rounds += 1
                self._round(rng, expected, f"round {self.report.rounds}")
        finally:
            self._drop_schemas()
        self.report.seconds = time.monotonic() - started
        return self.report

    # --- one round: an empty archive, killed until a run finishes --------------------------

    def _round(self, rng: random.Random, expected: set[str], name: str) -> None:
        data = self.work / "data"
        shutil.rmtree(data, ignore_errors=True)
        db = self._fresh_db()
        held: set[str] = set()
        kills = rng.randint(2, 6)
        for attempt in range(kills + 1):
            jobs = rng.choice((1, 1, 2))
            commit_every = rng.choice((1, 5, 50))
            last = attempt == kills  # the round's last run goes to its end
            delay = 3600.0 if last else rng.uniform(0.3, self.max_delay)
            code = self._run_once(data, db, jobs, commit_every, kill_after=delay)
            where = f"{name} run {attempt + 1} (jobs {jobs}, commit every {commit_every}, kill at {delay:.2f} s)"
            if code is not None:  # it finished before the kill
                if code != 0:
                    self.report.failures.append(f"{where}: exited {code} without being killed")
                break
            self.report.kills += 1
            held = self._after_kill(data, db, held, rng, where)
            if self.mode == "crawl" and self._crawl_finished(db):
                break  # the kill came after the crawl had ended (its row says so) but before the process exited
        self._finished(data, db, expected, name)

    def _after_kill(self, data: Path, db: str, held: set[str], rng: random.Random, where: str) -> set[str]:
        catalog = Catalog(db)
        try:
            catalog.migrate()  # as `scraper verify` does: the killed run may not have made the catalog yet
            report = verify(data, catalog)
            # Before repair, a torn tail and captures not yet in the catalog are expected;
            # a row pointing at nothing, or a record whose digest fails, never is.
            bad = [p for p in report.problems if not p.startswith("orphan:") and "unreadable after" not in p]
            self._fail_each(where, "after the kill", bad)
            now = self._capture_ids(db)
            lost = held - now
            self.report.lost += len(lost)
            self._fail_each(where, "lost", [f"capture {c} was in the catalog before the kill" for c in sorted(lost)])
            if rng.random() < 0.5:
                self.report.repairs += 1
                mended = repair(data, catalog)
                self._fail_each(where, "repair could not mend", mended.unmendable)
                self._fail_each(where, "repair dropped lost captures", mended.forgotten)
                report = verify(data, catalog)
                self._fail_each(where, "after repair", report.problems)
                self._warcio_check(data, where)
            return self._capture_ids(db)
        finally:
            catalog.close()

    def _finished(self, data: Path, db: str, expected: set[str], name: str) -> None:
        catalog = Catalog(db)
        try:
            catalog.migrate()
            report = verify(data, catalog)
        finally:
            catalog.close()
        self._fail_each(name, "finished archive", report.problems)
        self._warcio_check(data, name)
        ids = self._capture_ids(db)
        self.report.captures_checked += len(ids)
        missing, extra = expected - ids, ids - expected
        if missing or extra:
            self.report.failures.append(f"{name}: {len(missing)} captures missing, {len(extra)} unexpected")
        conversions = report.records.get("conversion", 0)
        copies = report.superseded + max(0, conversions - report.superseded - len(ids))
        self.report.duplicated += copies
        if copies:
            self.report.failures.append(f"{name}: {copies} captures archived more than once in the WARC files")
        if self.mode == "crawl":
            urls = self._source_urls(db)
            if len(urls) != len(set(urls)):
                self.report.failures.append(f"{name}: a URL was archived twice")
                self.report.duplicated += len(urls) - len(set(urls))

    # --- running the CLI ----------------------------------------------------------------

    def _command(self, data: Path, db: str, jobs: int, resume: bool) -> list[str]:
        base = [sys.executable, "-m", "archive.cli"]
        if self.mode == "replay":
            return [*base, "replay", str(self.inputs), "--data", str(data), "--db", db, "--jobs", str(jobs)]
        assert self.url is not None
        crawl = [*base, "crawl", "--data", str(data), "--db", db, "--jobs", str(jobs)]
        crawl += ["--delay", "0", "--timeout", "10", "--allow-network", "127.0.0.1/32"]
        return [*crawl, "--resume"] if resume else [*crawl, self.url, "--depth", "1"]

    def _run_once(self, data: Path, db: str, jobs: int, commit_every: int, *, kill_after: float) -> int | None:
        """Start a run and SIGKILL it after `kill_after` seconds; None if killed, else its exit status."""
        resume = self.mode == "crawl" and self._has_crawl(db)
        command = self._command(data, db, jobs, resume)
        command += ["--set", f"ARCHIVE_COMMIT_EVERY={commit_every}"]
        env = {**os.environ, "PYTHONWARNINGS": "error"}
        with subprocess.Popen(
            command, cwd=self.work, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        ) as proc:
            try:
                _, err = proc.communicate(timeout=kill_after)
            except subprocess.TimeoutExpired:
                proc.send_signal(signal.SIGKILL)
                proc.communicate()
                _wait_for_workers_to_go(proc.pid)
                return None
        if proc.returncode != 0:
            self.report.failures.append(err.decode("utf-8", "replace")[-2000:])
        return proc.returncode

    def _reference(self) -> set[str]:
        """Return the capture ids a run without kills archives."""
        data = self.work / "reference"
        db = self._fresh_db()
        code = self._run_once(data, db, 1, 50, kill_after=3600)
        if code != 0:
            raise RuntimeError(f"the reference run failed ({code}): {self.report.failures[-1:]}")
        shutil.rmtree(data, ignore_errors=True)
        return self._capture_ids(db)

    # --- the catalog --------------------------------------------------------------------

    def _fresh_db(self) -> str:
        if self.db_url is None:
            path = self.work / f"catalog-{time.monotonic_ns()}.sqlite"
            return f"sqlite:///{path}"
        schema = f"faults_{time.monotonic_ns()}"
        engine = create_engine(self.db_url)
        with engine.begin() as conn:
            conn.execute(text(f"CREATE SCHEMA {schema}"))
        engine.dispose()
        self.schemas.append(schema)
        return f"{self.db_url}?options=-csearch_path%3D{schema}"

    def _drop_schemas(self) -> None:
        if not self.schemas:
            return
        engine = create_engine(str(self.db_url))
        with engine.begin() as conn:
            for schema in self.schemas:
                conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        engine.dispose()

    def _query(self, db: str, sql: str) -> list[str]:
        engine = create_engine(db)
        try:
            with engine.connect() as conn:
                return [str(row[0]) for row in conn.execute(text(sql))]
        except Exception:  # no catalog yet: the run was killed before it made one
            return []
        finally:
            engine.dispose()

    def _capture_ids(self, db: str) -> set[str]:
        return set(self._query(db, "SELECT id FROM captures"))

    def _source_urls(self, db: str) -> list[str]:
        return self._query(db, "SELECT source_url FROM captures")

    def _has_crawl(self, db: str) -> bool:
        return bool(self._query(db, "SELECT id FROM crawls WHERE kind = 'crawl'"))

    def _crawl_finished(self, db: str) -> bool:
        return self._query(db, "SELECT status FROM crawls WHERE kind = 'crawl'") == ["finished"]

    # --- checks -------------------------------------------------------------------------

    def _warcio_check(self, data: Path, where: str) -> None:
        files = sorted((data / "warc").glob("*.warc.gz"))
        if not files:
            return
        warcio = Path(sys.executable).with_name("warcio")
        check = subprocess.run([str(warcio), "check", *map(str, files)], capture_output=True, text=True, check=False)
        if check.returncode != 0:
            self.report.failures.append(f"{where}: warcio check failed: {check.stdout[-1000:]}{check.stderr[-1000:]}")

    def _fail_each(self, where: str, what: str, problems: list[str]) -> None:
        self.report.failures.extend(f"{where}: {what}: {p}" for p in problems)


def _wait_for_workers_to_go(pid: int, timeout: float = 30.0) -> None:
    """Wait until no process the killed run started is alive (its workers exit when it dies)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        children = [p for p in Path("/proc").iterdir() if p.name.isdigit() and _parent_chain_has(p, pid)]
        if not children:
            return
        time.sleep(0.05)


def _parent_chain_has(proc: Path, pid: int) -> bool:
    try:
        stat = (proc / "stat").read_text()
    except OSError:
        return False
    fields = stat.rsplit(")", 1)[-1].split()
    return int(fields[1]) == pid  # direct children; their own children exit with them


@contextmanager
def replay_inputs(work: Path, pages: int) -> Iterator[Path]:
    """Yield a folder of `pages` dev-set pages and the shared text captures."""
    folder = work / "inputs"
    folder.mkdir(parents=True, exist_ok=True)
    for page in sorted(EVAL_HTML.glob("*.html.gz"))[:pages]:
        (folder / page.name).write_bytes(page.read_bytes())
    for capture in sorted(SHARED_SEEDS.glob("*.txt")):
        (folder / capture.name).write_bytes(capture.read_bytes())
    yield folder


@contextmanager
def crawl_site(pages: int) -> Iterator[str]:
    """Serve `pages` dev-set pages and an index linking them on 127.0.0.1; yield the index URL."""
    import gzip

    from benchmarks.__main__ import serve

    bodies = [(p.name, gzip.decompress(p.read_bytes())) for p in sorted(EVAL_HTML.glob("*.html.gz"))[:pages]]
    with serve(bodies) as url:
        yield url


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", choices=("replay", "crawl"), default="replay")
    parser.add_argument("--kills", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--pages", type=int, default=80)
    parser.add_argument("--max-delay", type=float, default=8.0)
    parser.add_argument("--db", help="PostgreSQL URL (default: SQLite files)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="faults-") as tmp:
        work = Path(tmp)
        if args.mode == "replay":
            with replay_inputs(work, args.pages) as inputs:
                harness = Harness("replay", work, args.db, args.seed, inputs=inputs, max_delay=args.max_delay)
                report = harness.run(args.kills)
        else:
            with crawl_site(args.pages) as url:
                harness = Harness("crawl", work, args.db, args.seed, url=url, max_delay=args.max_delay)
                report = harness.run(args.kills)
    print(json.dumps({**report.__dict__, "summary": report.summary()}, indent=2))
    return 0 if not report.failures else 1


if __name__ == "__main__":
    sys.exit(main())
