"""The archive's surroundings fail mid-run: a full disk, a read-only data directory, the PostgreSQL server restarting.

Each ends with a clear message and an archive that verifies; once the fault is gone, the next
run completes it with nothing lost and nothing archived twice.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import EVAL_SET, PG_URL, PROJECT_SEEDS, Cli, need, warc_files, warcio_check

pytestmark = pytest.mark.slow  # fills a disk, remounts it read-only, restarts PostgreSQL mid-run

PAGES = 40


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """Mount a 600 KiB tmpfs (root only): a disk that fills up part-way through a replay."""
    mount = tmp_path / "disk"
    mount.mkdir()
    need(os.geteuid() == 0 and shutil.which("mount") is not None, "mounting a small tmpfs needs root")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=600k", "tmpfs", str(mount)], capture_output=True)
    need(done.returncode == 0, f"could not mount a tmpfs: {done.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def _remount(mount: Path, options: str) -> None:
    subprocess.run(["mount", "-o", f"remount,{options}", str(mount)], check=True)


def _pages(into: Path) -> Path:
    need((EVAL_SET / "html").is_dir(), f"the evaluation set is not at {EVAL_SET}")
    into.mkdir()
    for page in sorted((EVAL_SET / "html").glob("*.html.gz"))[:PAGES]:
        (into / page.name).write_bytes(page.read_bytes())
    return into


def _expected(tmp_path: Path, pages: Path) -> set[str]:
    """Return the capture ids a replay of `pages` with room to spare archives."""
    roomy = Cli(cwd=tmp_path, data=tmp_path / "roomy", db=f"sqlite:///{tmp_path / 'roomy.sqlite'}")
    roomy("replay", str(pages), "--jobs", "1", check=True)
    return _ids(roomy)


@pytest.fixture(scope="module")
def pages_and_expected(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, set[str]]:
    """Return a folder of pages and the capture ids a replay of it with room to spare archives (made once).

    Record ids name the pages' file URLs, so every test replays this same folder.
    """
    work = tmp_path_factory.mktemp("environment-pages")
    pages = _pages(work / "pages")
    return pages, _expected(work, pages)


def _ids(cli: Cli) -> set[str]:
    return {json.loads(line)["id"] for line in cli("export", "--format", "jsonl", check=True).out.splitlines()}


def _sound(cli: Cli) -> dict[str, object]:
    found = cli("verify", "--format", "json")
    report = json.loads(found.out)
    assert found.code == 0 and report["superseded"] == 0, found.out + found.err
    assert warcio_check(warc_files(cli.data)).returncode == 0
    return dict(report)


@pytest.mark.parametrize("catalog_on", ["the full disk", "another disk"])
def test_a_full_disk_stops_the_run_with_its_reason_and_the_next_run_completes(
    tmp_path: Path, small_disk: Path, catalog_on: str, pages_and_expected: tuple[Path, set[str]]
) -> None:
    pages, expected = pages_and_expected
    catalog = small_disk / "catalog.sqlite" if catalog_on == "the full disk" else tmp_path / "catalog.sqlite"
    cli = Cli(cwd=tmp_path, data=small_disk / "data", db=f"sqlite:///{catalog}")
    done = cli("replay", str(pages), "--jobs", "1", "--set", "ARCHIVE_COMMIT_EVERY=5")
    assert done.code == 1, done.out + done.err
    assert "error: the run stopped:" in done.err and (
        "No space left on device" in done.err or "database or disk is full" in done.err
    ), done.err
    assert "Traceback" not in done.err
    _remount(small_disk, "size=64m")  # the disk is cleared up
    archived = _ids(cli)
    assert archived < expected  # some, not all, made it before the disk filled

    cli("replay", str(pages), "--jobs", "1", check=True)
    assert _ids(cli) == expected  # nothing lost, and (verify: no superseded copy) nothing twice
    report = _sound(cli)
    assert dict(report["records"]).get("conversion") == len(expected)  # type: ignore[call-overload]


def test_a_read_only_data_directory_is_refused_and_left_as_it_was(tmp_path: Path, small_disk: Path) -> None:
    _remount(small_disk, "size=16m")
    cli = Cli(cwd=tmp_path, data=small_disk / "data", db=f"sqlite:///{small_disk / 'data' / 'catalog.sqlite'}")
    cli("replay", str(PROJECT_SEEDS / "text"), check=True)
    before = {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in (small_disk / "data").rglob("*") if p.is_file()}
    _remount(small_disk, "ro")
    try:
        done = cli("replay", str(PROJECT_SEEDS / "html"))
        assert done.code == 1 and "Traceback" not in done.err, done.err
        assert "is not writable (read-only file system)" in done.err, done.err
        after = {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in (small_disk / "data").rglob("*") if p.is_file()}
        assert after == before
        # A read-only archive can still be checked and searched.
        assert cli("verify").code == 0
        assert len(cli("query", "--format", "jsonl", check=True).out.splitlines()) == len(_ids(cli)) == 3
    finally:
        _remount(small_disk, "rw")


def _pg_cluster() -> tuple[str, str] | None:
    versions = sorted(Path("/etc/postgresql").glob("*/main")) if Path("/etc/postgresql").is_dir() else []
    if not versions or shutil.which("pg_ctlcluster") is None or os.geteuid() != 0:
        return None
    return versions[-1].parent.name, "main"


def _server_started(url: str) -> str:
    import psycopg

    with psycopg.connect(url.split("?")[0].replace("+psycopg", ""), connect_timeout=5) as conn:
        return str(conn.execute("SELECT pg_postmaster_start_time()").fetchone()[0])  # type: ignore[index]


def _count(url: str) -> int:
    import psycopg

    schema = url.split("search_path%3D")[1]
    try:
        with psycopg.connect(url.split("?")[0].replace("+psycopg", ""), connect_timeout=2) as conn:
            row = conn.execute(f"SELECT count(*) FROM {schema}.captures").fetchone()
            return int(row[0]) if row else 0
    except psycopg.Error:
        return 0


@pytest.mark.postgres
@pytest.mark.alone  # the server goes away for every test: never beside another one (pytest -n)
def test_a_replay_outlives_a_postgresql_restart(
    tmp_path: Path, postgres_url: str, pages_and_expected: tuple[Path, set[str]]
) -> None:
    cluster = _pg_cluster()
    need(cluster is not None, "restarting PostgreSQL needs root and pg_ctlcluster")
    assert cluster is not None
    pages, expected = pages_and_expected
    cli = Cli(cwd=tmp_path, data=tmp_path / "data", db=postgres_url)
    started = _server_started(PG_URL)
    env = {**os.environ, "SCRAPER_DB": postgres_url, "SCRAPER_DATA": str(cli.data), "PYTHONWARNINGS": "error"}
    command = [
        sys.executable,
        "-m",
        "archive.cli",
        "replay",
        str(pages),
        "--jobs",
        "1",
        "--set",
        "ARCHIVE_COMMIT_EVERY=3",
    ]
    with subprocess.Popen(command, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as run:
        deadline = time.monotonic() + 120
        while _count(postgres_url) < 3 and run.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        assert run.poll() is None, "the replay ended before the server could be restarted"
        subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", *cluster, "restart"], check=True, timeout=120)
        assert run.poll() is None, "the replay ended before the restart was over"
        out, err = run.communicate(timeout=600)
    assert _server_started(PG_URL) != started  # the server really went away and came back
    assert run.returncode == 0, out.decode() + err.decode()
    assert _ids(cli) == expected
    _sound(cli)
