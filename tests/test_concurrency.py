"""Two writers at once, and reads during a write, on a real SQLite file and a real PostgreSQL server.

Locking differs by database, so both tests run on both; the writers are processes of their own.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from archive.catalog.facade import Catalog
from archive.catalog.filters import SearchFilters
from archive.warc.reader import read_payload
from tests.conftest import DATA, EVAL_SET, PROJECT_SEEDS, Cli, need, warc_files, warcio_check

pytestmark = pytest.mark.slow  # writers and readers at once over replays of up to 150 pages


def _start(cli: Cli, *args: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "SCRAPER_DB": cli.db, "SCRAPER_DATA": str(cli.data), "PYTHONWARNINGS": "error"}
    return subprocess.Popen(
        [sys.executable, "-m", "archive.cli", *args],
        cwd=cli.cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def _finish(proc: subprocess.Popen[bytes]) -> str:
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err.decode()
    return out.decode() + err.decode()


def _inputs(shared_seeds: Path) -> tuple[list[str], list[str]]:
    """What each of the two writers replays: the project seeds go to both at once."""
    return [str(shared_seeds), str(PROJECT_SEEDS)], [str(PROJECT_SEEDS), str(DATA / "stories")]


@pytest.fixture(scope="module")
def one_writer(shared_seeds: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, object]]:
    """Return the records one writer archives from the same inputs (replayed once for both catalogs)."""
    first, second = _inputs(shared_seeds)
    work = tmp_path_factory.mktemp("one-writer")
    alone = Cli(cwd=work, data=work / "alone", db=f"sqlite:///{work / 'alone.sqlite'}")
    alone("replay", *first, *second[1:], check=True)  # the same inputs, one writer
    return {r["id"]: r for r in map(json.loads, alone("export", check=True).out.splitlines())}


def test_two_replays_at_once_lose_and_duplicate_nothing(
    cli_any_db: Cli, shared_seeds: Path, one_writer: dict[str, dict[str, object]]
) -> None:
    cli = cli_any_db
    first, second = _inputs(shared_seeds)
    procs = [_start(cli, "replay", *first), _start(cli, "replay", *second)]
    logs = [_finish(p) for p in procs]
    assert not any("database is locked" in log or "deadlock" in log for log in logs)

    expected = one_writer
    found = [json.loads(line) for line in cli("export", check=True).out.splitlines()]
    assert len(found) == len({r["id"] for r in found}) == len(expected)
    assert {r["id"]: r["text_sha256"] for r in found} == {i: r["text_sha256"] for i, r in expected.items()}

    catalog = Catalog(cli.db)
    try:
        counts = catalog.count()
        assert counts["documents"] == len({r["text_sha256"] for r in found})
        for record in catalog.iter_records():  # every pointer leads to the record it names
            for location in (record.provenance.warc_raw, record.provenance.warc_conversion):
                assert location is not None
                read_payload(cli.data / "warc", location)
    finally:
        catalog.close()
    files = warc_files(cli.data)
    assert len({f.name for f in files}) == len(files) >= 2  # one file each, never one shared
    assert warcio_check(files).returncode == 0
    assert not list((cli.data / "warc").glob(".*.open"))


def test_queries_during_a_replay_never_find_the_database_locked(cli_any_db: Cli, tmp_path: Path) -> None:
    cli = cli_any_db
    need((EVAL_SET / "html").is_dir(), f"the evaluation set is not at {EVAL_SET}")
    catalog = Catalog(cli.db)
    catalog.migrate()
    pages = sorted((EVAL_SET / "html").glob("*.html.gz"))[:150]
    writer = _start(cli, "replay", *map(str, pages))
    seen, reads = [], 0
    try:
        while writer.poll() is None:
            seen.append(catalog.count()["captures"])
            catalog.search("the", limit=5)
            catalog.search(filters=SearchFilters(site="example.org"), sort="newest", limit=5)
            reads += 3
            if reads % 60 == 0:  # now and then the way a user would: a second process
                assert "record(s)" in cli.spawn("query", "the", "--limit", "3").out
            time.sleep(0.02)
    finally:
        catalog.close()
    _finish(writer)
    assert reads >= 30 and seen == sorted(seen)  # read the whole time; the count only ever grew
    # ... and saw the replay's commits land while it ran (batches of 50: a count between none and all).
    assert any(0 < n < len(pages) for n in seen), sorted(set(seen))
