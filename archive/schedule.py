"""Recurring crawl jobs from a schedule file, one run of a job at a time.

    # schedule.toml
    [defaults]                      # options every job gets (a job's own win)
    contact = "https://example.org/archive"

    [jobs.feeds]
    seeds = ["https://news.example/feed.xml"]
    every = "15m"                   # s, m, h or d
    args = ["--depth", "0"]         # any `scraper crawl` options

    [jobs.sitemaps]
    seeds_file = "sitemaps.txt"     # relative to the schedule file
    cron = "0 3 * * *"              # five-field cron, UTC

Each run is a `scraper crawl` subprocess (recorded in the catalog's crawls table with its
job name); with a shared frontier (`scraper schedule FILE --frontier URL`) it is a `scraper
enqueue` into that frontier, and its workers crawl it. A lock per job (a file lock in the data
directory, and on PostgreSQL also an advisory lock) makes sure two schedulers never run the
same job at once: the second one skips that run and says so.
"""

from __future__ import annotations

import difflib
import fcntl
import hashlib
import os
import re
import subprocess
import sys
import time
import tomllib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from croniter import croniter
from sqlalchemy import text

from archive.catalog.engine import make_engine
from archive.errors import ArchiveError
from archive.frontier.store import Frontier
from archive.layout import DataLayout

__all__ = ["Job", "ScheduleError", "Scheduler", "job_lock", "load_schedule"]

_INTERVAL = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd])\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_OPTIONS = {
    "contact": "--contact",
    "depth": "--depth",
    "max_pages": "--max-pages",
    "delay": "--delay",
    "requisites_per_page": "--requisites-per-page",
    "requisite_max_bytes": "--requisite-max-bytes",
}
_SWITCHES = {  # `requisites = true`
    "requisites": "--requisites",
    "requisites_any_site": "--requisites-any-site",
    "comments": "--comments",
}


class ScheduleError(ArchiveError, ValueError):
    """A schedule file that cannot be used, naming the file and the problem."""


@dataclass
class Job:
    """One recurring crawl: what to crawl and when."""

    name: str
    crawl_args: list[str]
    every: float | None = None  # seconds
    cron: str | None = None
    next_run: datetime = field(default_factory=lambda: datetime.now(UTC))

    def schedule_after(self, moment: datetime) -> None:
        """Set the next run: the next interval or cron time after `moment`."""
        if self.cron:
            self.next_run = croniter(self.cron, moment).get_next(datetime)
        else:
            self.next_run = moment + timedelta(seconds=self.every or 0)


def load_schedule(path: Path, check: Callable[[list[str]], None] | None = None) -> list[Job]:
    """Return the jobs of a schedule file; ScheduleError names what is wrong.

    `check`, given, is called with each job's crawl arguments; the ValueError it raises names
    what the crawl would refuse (an unknown option, a value out of range), with the job's name.
    """
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ScheduleError(f"{path}: {exc}") from exc
    defaults = data.get("defaults", {})
    jobs = data.get("jobs")
    if not isinstance(jobs, dict) or not jobs:
        raise ScheduleError(f"{path}: no [jobs.NAME] tables")
    out = []
    for name, spec in jobs.items():
        if not isinstance(spec, dict):
            raise ScheduleError(f"{path}: jobs.{name} must be a table")
        out.append(_job(path, name, {**defaults, **spec}, check))
    return out


_KEYS = frozenset({"seeds", "seeds_file", "args", "every", "cron", *_OPTIONS, *_SWITCHES})


def _job(path: Path, name: str, spec: dict[str, Any], check: Callable[[list[str]], None] | None = None) -> Job:
    where = f"{path}: jobs.{name}"
    if not re.fullmatch(r"[\w.-]{1,64}", name):
        raise ScheduleError(f"{where}: a job name is letters, digits, '.', '_' or '-'")
    for key in spec:  # a misspelt key would otherwise be dropped without a word (maxpages = 50)
        if key not in _KEYS:
            close = difflib.get_close_matches(key, sorted(_KEYS), n=1)
            hint = f"did you mean {close[0]!r}?" if close else f"known keys: {', '.join(sorted(_KEYS))}"
            raise ScheduleError(f"{where}: unknown key {key!r} ({hint})")
    seeds = spec.get("seeds", [])
    if not isinstance(seeds, list) or not all(isinstance(url, str) for url in seeds):  # a string would be its letters
        raise ScheduleError(f'{where}: seeds must be a list of URLs, as seeds = ["https://news.example/"]')
    args: list[str] = list(seeds)
    if "seeds_file" in spec:
        args += ["--seeds", str((path.parent / str(spec["seeds_file"])).resolve())]
    if not args:
        raise ScheduleError(f"{where}: give seeds = [...] or seeds_file = ...")
    for key, option in _OPTIONS.items():
        if key in spec:
            args += [option, str(spec[key])]
    for key, switch in _SWITCHES.items():
        if key in spec and not isinstance(spec[key], bool):
            raise ScheduleError(f"{where}: {key} must be true or false")
        if spec.get(key):
            args.append(switch)
    extra = spec.get("args", [])
    if not isinstance(extra, list) or not all(isinstance(a, str) for a in extra):
        raise ScheduleError(f"{where}: args must be a list of strings")
    every, cron = spec.get("every"), spec.get("cron")
    if (every is None) == (cron is None):
        raise ScheduleError(f'{where}: give exactly one of every = "15m" or cron = "*/15 * * * *"')
    seconds = None
    if every is not None:
        match = _INTERVAL.match(str(every))
        if not match or float(match.group(1)) <= 0:
            raise ScheduleError(f"{where}: every = {every!r} is not an interval like 30s, 15m, 6h, 1d")
        seconds = float(match.group(1)) * _UNITS[match.group(2)]
    if cron is not None and not croniter.is_valid(str(cron)):
        raise ScheduleError(f"{where}: cron = {cron!r} is not a five-field cron expression")
    crawl_args = [*args, *extra, "--job", name]
    if check is not None:
        try:
            check(crawl_args)
        except ValueError as exc:
            raise ScheduleError(f"{where}: {exc}") from None
    return Job(name, crawl_args, every=seconds, cron=str(cron) if cron else None)


@contextmanager
def job_lock(data_dir: Path, name: str, db_url: str) -> Iterator[bool]:
    """Hold the job's lock for the block; yields False (and holds nothing) when another holds it."""
    lock = DataLayout(data_dir).job_lock(name)
    lock.parent.mkdir(parents=True, exist_ok=True)
    with open(lock, "a+b") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            with _advisory_lock(db_url, name) as held:
                yield held
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@contextmanager
def _advisory_lock(db_url: str, name: str) -> Iterator[bool]:
    """On PostgreSQL, also a session advisory lock, for schedulers on other machines."""
    if not db_url.startswith("postgresql"):
        yield True
        return

    key = int.from_bytes(hashlib.blake2b(f"scraper-job:{name}".encode(), digest_size=8).digest(), "big", signed=True)
    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            held = bool(conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar())
            try:
                yield held
            finally:
                if held:
                    conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
    finally:
        engine.dispose()


class Scheduler:
    """Runs each job when due, each run in its own `scraper crawl` process."""

    def __init__(
        self,
        jobs: list[Job],
        *,
        data_dir: Path,
        db_url: str,
        say: Callable[[str], None] = print,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        frontier: tuple[str, str] | None = None,
    ) -> None:
        self.jobs = jobs
        self.data_dir = data_dir
        self.db_url = db_url
        self.say = say
        self.clock = clock
        self.frontier = frontier  # (Redis URL, name): runs are enqueued there for its workers
        self.failed: list[str] = []  # runs that ended with a non-zero status

    def run(self, *, max_runs: int | None = None, once: bool = False) -> int:
        """Run jobs as they fall due; `once`: each job one time now. Return the number of runs started.

        `failed` lists each run that ended with a non-zero status, as "JOB (status N)".
        """
        runs = 0
        while self.jobs:
            job = min(self.jobs, key=lambda j: j.next_run)
            wait = (job.next_run - self.clock()).total_seconds()
            if wait > 0 and not once:
                time.sleep(min(wait, 60))
                continue
            started = self.clock()
            status = self.run_job(job)
            if status:
                self.failed.append(f"{job.name} (status {status})")
            runs += 1
            job.schedule_after(started)
            if once and runs >= len(self.jobs):
                break
            if max_runs is not None and runs >= max_runs:
                break
        return runs

    def run_job(self, job: Job) -> int | None:
        """Run one job now under its lock; return the crawl's exit status (None: skipped, locked).

        With a frontier, the run is enqueued there for its workers instead (`scraper enqueue`),
        unless the job's previous run is still running in it.
        """
        with job_lock(self.data_dir, job.name, self.db_url) as held:
            if not held:
                self.say(f"{job.name}: skipped, another scheduler is running it")
                return None
            command = ["crawl", *job.crawl_args]
            if self.frontier is not None:
                running = self._running_in_frontier(job)
                if running:
                    self.say(f"{job.name}: skipped, its crawl {running} is still running in the frontier")
                    return None
                url, name = self.frontier
                command = ["enqueue", *job.crawl_args, "--frontier", url, "--frontier-name", name]
            self.say(f"{job.name}: {command[0]} started")
            env = {**os.environ, "SCRAPER_DATA": str(self.data_dir), "SCRAPER_DB": self.db_url}
            done = subprocess.run([sys.executable, "-m", "archive.cli", *command], env=env, check=False)
            self.say(f"{job.name}: {command[0]} ended with status {done.returncode}")
            return done.returncode

    def _running_in_frontier(self, job: Job) -> str | None:
        """Return the job's previous run if the frontier still works on it."""

        assert self.frontier is not None
        frontier = Frontier.connect(*self.frontier)
        try:
            previous = frontier.job_run(job.name)
            return previous if previous and frontier.state(previous).get("status") == "running" else None
        finally:
            frontier.close()
