"""Runs end honestly: a run whose process died is marked interrupted, its counts re-read from what it archived.

In-process on both catalogs (owners that are dead, alive, on another host, or none at all),
and end to end: a replay killed with SIGKILL, then the next run and `repair` find it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import update
from sqlalchemy.orm import Session

from archive.catalog.facade import Catalog
from archive.catalog.models import Crawl
from archive.catalog.runs import owner
from scraper import Capture, WarcLocation, build_record
from tests.conftest import Cli

ARTICLE = "The ferry timetable changes on Monday, and the harbour office explains why in a long letter. " * 4


def _set(catalog: Catalog, run: str, **values: object) -> None:
    with Session(catalog.engine) as session, session.begin():
        session.execute(update(Crawl).where(Crawl.id == run).values(**values))


def _dead_pid() -> int:
    """Return the pid of a process that ran and has been reaped."""
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, check=True)
    return int(done.stdout)


def _captures(catalog: Catalog, run: str, count: int) -> None:
    location = WarcLocation("x.warc.gz", 0, 10, "<urn:uuid:1>")
    records = []
    for n in range(count):
        url = f"file:///inbox/{run[:8]}-{n}.txt"
        capture = Capture(
            payload=f"{ARTICLE} Number {n}.".encode(), source_kind="file", source_location=url,
            media_type="text/plain", url=url,
        )  # fmt: skip
        record = build_record(capture, crawl_id=run)
        records.append(record.with_provenance(warc_raw=location, warc_conversion=location, warc_metadata=location))
    catalog.add_records(records)


def test_runs_whose_process_died_are_marked_interrupted_and_the_living_are_left(catalog: Catalog) -> None:
    dead = catalog.start_crawl("replay", {})
    _set(catalog, dead, owner=owner().split(" ")[0] + f" {_dead_pid()} whatever:1")
    _captures(catalog, dead, 3)
    reused = catalog.start_crawl("crawl", {})  # this process's pid, but another process's start time
    _set(catalog, reused, owner=f"{owner().rsplit(' ', 1)[0]} 0:0")
    alive = catalog.start_crawl("crawl", {})  # this process: alive
    queued = catalog.start_crawl("crawl", {}, owned=False)  # a frontier's: no process answers for it
    now = datetime.now(UTC)
    far_silent = catalog.start_crawl("crawl", {})
    _set(catalog, far_silent, owner="another-host 4242 b:1", heartbeat_at=now - timedelta(minutes=11))
    _captures(catalog, far_silent, 2)
    far_beating = catalog.start_crawl("crawl", {})
    _set(catalog, far_beating, owner="another-host 4343 b:2", heartbeat_at=now - timedelta(minutes=2))

    closed = {run.id: run for run in catalog.close_dead_crawls()}
    assert set(closed) == {dead, reused, far_silent}
    assert closed[dead].counts["records_written"] == 3 and closed[far_silent].counts["records_written"] == 2
    assert closed[reused].counts["records_written"] == 0
    statuses = {run.id: run.status for run in catalog.crawls()}
    assert {r: statuses[r] for r in closed} == dict.fromkeys(closed, "interrupted")
    assert {statuses[alive], statuses[queued], statuses[far_beating]} == {"running"}
    # A silent run's end is its last sign of life, not the moment it was found.
    silent_end = catalog.find_crawl(far_silent)
    assert silent_end is not None and silent_end.finished_at is not None
    assert abs(datetime.fromisoformat(silent_end.finished_at).replace(tzinfo=UTC) - (now - timedelta(minutes=11))) < (
        timedelta(seconds=2)
    )
    assert catalog.close_dead_crawls() == []  # once
    # A beat keeps a run alive however far away it runs.
    _set(catalog, far_beating, heartbeat_at=now - timedelta(hours=1))
    catalog.beat_crawl(far_beating)
    assert catalog.close_dead_crawls() == []


def test_an_interrupted_run_resumed_belongs_to_the_process_resuming_it(catalog: Catalog) -> None:
    run = catalog.start_crawl("crawl", {})
    _set(catalog, run, owner=f"{owner().split(' ')[0]} {_dead_pid()}")
    assert [r.id for r in catalog.close_dead_crawls()] == [run]
    catalog.resume_crawl(run)
    assert catalog.close_dead_crawls() == []  # this process runs it now
    catalog.finish_crawl(run, "finished", {"records_written": 0})
    assert catalog.find_crawl(run).status == "finished"  # type: ignore[union-attr]


def _inbox(directory: Path, count: int) -> Path:
    directory.mkdir()
    for n in range(count):
        (directory / f"letter-{n:03d}.txt").write_text(f"Letter {n}.\n\n{ARTICLE}\nSigned, reader {n}.\n")
    return directory


def _crawls(cli: Cli) -> list[dict[str, object]]:
    return list(json.loads(cli("crawls", "--format", "json", check=True).out))


@pytest.mark.slow
@pytest.mark.parametrize("finder", ["next run", "repair"])
def test_a_killed_replay_is_found_interrupted_with_what_it_archived(cli: Cli, tmp_path: Path, finder: str) -> None:
    inbox = _inbox(tmp_path / "inbox", 200)
    env = {**os.environ, **cli.env()}
    command = [sys.executable, "-m", "archive.cli", "replay", str(inbox), "--jobs", "1", "-s", "ARCHIVE_COMMIT_EVERY=1"]
    proc = subprocess.Popen(command, cwd=cli.cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    archived: list[dict[str, object]] = []
    while len(archived) < 5 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
        archived = [json.loads(line) for line in cli("export", "--format", "jsonl").out.splitlines()]
    assert proc.poll() is None, "the replay ended before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=60)
    [killed] = _crawls(cli)
    assert killed["status"] == "running"  # nothing could say otherwise yet

    if finder == "next run":
        again = cli("replay", str(_inbox(tmp_path / "more", 1)))
        assert again.code == 0, again.out + again.err
        assert f"run {killed['id']} (replay, started" in again.err and "marked interrupted" in again.err
    else:
        looked = cli("repair", "--dry-run")
        assert f"would mark interrupted: run {killed['id']} (replay, started" in looked.out, looked.out + looked.err
        assert _crawls(cli)[0]["status"] == "running"  # a dry run changes nothing
        mended = cli("repair")
        assert f"interrupted: run {killed['id']} (replay, started" in mended.out, mended.out + mended.err
    rows = [json.loads(line) for line in cli("export", "--format", "jsonl", check=True).out.splitlines()]
    written = sum(1 for row in rows if row["provenance"]["crawl_id"] == killed["id"])
    assert written >= 5  # what it had committed, and what recovery re-indexed from its open file
    [after] = [run for run in _crawls(cli) if run["id"] == killed["id"]]
    assert after["status"] == "interrupted"
    assert after["counts"]["records_written"] == written  # type: ignore[index]


def test_every_run_reads_back_with_every_count_and_its_times_in_utc_as_records_write_them() -> None:
    """A frontier's run counts only what its workers saw, and SQLite gives times back naive: scripts need one shape."""
    from archive.catalog.models import Crawl
    from archive.catalog.runs import RUN_COUNTS, CrawlRun

    naive = datetime(2026, 3, 1, 9, 30, 5, 120000)  # as SQLite hands back a time stored in UTC
    row = Crawl(id="r1", kind="crawl", status="finished", started_at=naive, finished_at=naive.replace(tzinfo=UTC))
    row.counts, row.args = {"records_written": 3, "recounted": True}, {}
    run = CrawlRun.from_row(row)
    assert (run.started_at, run.finished_at) == ("2026-03-01T09:30:05.120000Z", "2026-03-01T09:30:05.120000Z")
    assert run.counts == {**dict.fromkeys(RUN_COUNTS, 0), "records_written": 3, "recounted": True}
