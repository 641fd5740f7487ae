"""Scrapy's own command runs the project's spiders as `scraper` would: `scrapy crawl site|replay -a KEY=VALUE`.

Scrapy hands every spider argument over as text; the spiders read it as the CLI reads its
options, or refuse it by name. The process boundary is the point: `scrapy` runs as a user runs it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import PROJECT_SEEDS, ROOT, crawl_rows, warc_files, warcio_check
from tests.newsite import NewsSite

pytestmark = pytest.mark.slow  # each test starts Scrapy in a process of its own


def _scrapy(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    settings = [
        "-s", f"ARCHIVE_DATA_DIR={tmp_path / 'data'}",
        "-s", f"ARCHIVE_DB_URL=sqlite:///{tmp_path / 'catalog.sqlite'}",
        "-s", "ARCHIVE_JOBS=1", "-s", "LOG_LEVEL=ERROR",
    ]  # fmt: skip
    return subprocess.run(
        [sys.executable, "-m", "scrapy", "crawl", *args, *settings],
        cwd=ROOT,  # scrapy.cfg names the project's settings
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def _captured(tmp_path: Path) -> list[str]:
    import sqlite3

    with sqlite3.connect(tmp_path / "catalog.sqlite") as connection:
        return sorted(row[0] for row in connection.execute("SELECT source_url FROM captures"))


def test_scrapy_crawl_site_takes_seeds_and_options_as_text(tmp_path: Path) -> None:
    with NewsSite() as site:
        seeds = f"{site.base}/harbour/ferry-timetable,{site.base}/harbour/fish-market"
        done = _scrapy(
            tmp_path, "site", "-a", f"seeds={seeds}", "-a", "depth=0", "-a", "archive_other=false",
            "-s", "ARCHIVE_ALLOW_NETWORKS=127.0.0.1/32", "-s", "DOWNLOAD_DELAY=0",
        )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    # Two seeds, depth 0: the two articles and nothing they link to.
    assert _captured(tmp_path) == sorted([f"{site.base}/harbour/ferry-timetable", f"{site.base}/harbour/fish-market"])
    assert warcio_check(warc_files(tmp_path / "data")).returncode == 0


def test_scrapy_crawl_replay_takes_one_path_as_text(tmp_path: Path) -> None:
    capture = PROJECT_SEEDS / "text" / "ferry-strike.txt"
    done = _scrapy(tmp_path, "replay", "-a", f"paths={capture}")
    assert done.returncode == 0, done.stdout + done.stderr
    assert len(_captured(tmp_path)) == 1  # the one file, not a walk from "/" over its characters
    [run] = crawl_rows(f"sqlite:///{tmp_path / 'catalog.sqlite'}")
    assert run["kind"] == "replay"


@pytest.mark.parametrize(
    ("argument", "reason"),
    [
        ("depth=deep", "spider argument depth='deep': not a whole number"),
        ("requisites=maybe", "spider argument requisites='maybe': not true or false"),
        ("seeds=ftp://files.example/x", "not an http(s) URL: 'ftp://files.example/x'"),
    ],
)
def test_scrapy_crawl_site_refuses_an_argument_it_cannot_read(tmp_path: Path, argument: str, reason: str) -> None:
    done = _scrapy(tmp_path, "site", "-a", argument)
    assert done.returncode != 0
    assert reason in done.stderr
    assert not (tmp_path / "catalog.sqlite").exists() or _captured(tmp_path) == []
