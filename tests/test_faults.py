"""Runs killed at random moments lose nothing and duplicate nothing (a few seeded rounds; tests/faults.py has more)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import EVAL_SET, SHARED_SEEDS, need
from tests.faults import Harness, crawl_site, replay_inputs

pytestmark = pytest.mark.slow  # kills runs at random moments, rounds of them on each catalog

# Enough kills that each run is cut at several moments (start-up and recovery, extraction,
# WARC writes, commits); `python -m tests.faults --kills 200` runs the long version.
KILLS = 10


@pytest.fixture
def inputs_available() -> None:
    need((EVAL_SET / "html").is_dir() and SHARED_SEEDS.is_dir(), f"the evaluation set and seeds beside {EVAL_SET}")


@pytest.mark.usefixtures("inputs_available")
def test_replays_killed_at_random_lose_and_duplicate_nothing(tmp_path: Path, db_url: str) -> None:
    with replay_inputs(tmp_path, 30) as inputs:
        harness = Harness("replay", tmp_path, _server(db_url), seed=11, inputs=inputs, max_delay=7.0)
        report = harness.run(KILLS)
    assert report.failures == [], report.summary()
    assert report.kills >= KILLS and report.lost == 0 and report.duplicated == 0
    assert report.captures_checked >= 30 * report.rounds  # every round ended with the whole input archived


@pytest.mark.usefixtures("inputs_available")
def test_crawls_killed_at_random_resume_without_losing_or_refetching_twice(tmp_path: Path, db_url: str) -> None:
    with crawl_site(25) as url:
        harness = Harness("crawl", tmp_path, _server(db_url), seed=12, url=url, max_delay=7.0)
        report = harness.run(KILLS)
    assert report.failures == [], report.summary()
    assert report.kills >= KILLS and report.lost == 0 and report.duplicated == 0
    assert report.captures_checked >= 26 * report.rounds  # the index page and every page it links


def _server(db_url: str) -> str | None:
    """The harness makes a fresh catalog per round: a SQLite file of its own, or a schema on the server."""
    return None if db_url.startswith("sqlite") else db_url.split("?")[0]
