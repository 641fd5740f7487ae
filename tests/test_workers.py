"""Parallel replay (--jobs): the same archive as one process, and a worker killed mid-run loses nothing.

The two kill tests replay one folder of 200 pages and compare with one --jobs 1 replay of it (module fixture).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import EVAL_SET, Cli, need, warc_files, warcio_check

pytestmark = pytest.mark.slow  # replays and crawls of 60-200 pages, worker processes killed

PAGES = 60


def _pages(count: int) -> list[Path]:
    need((EVAL_SET / "html").is_dir(), f"the evaluation set is not at {EVAL_SET}")
    return sorted((EVAL_SET / "html").glob("*.html.gz"))[:count]


def _digests(cli: Cli) -> dict[str, str]:
    lines = cli("export", "--format", "jsonl", check=True).out.splitlines()
    return {r["id"]: r["text_sha256"] for r in map(json.loads, lines)}


def _copy(pages: list[Path], into: Path) -> Path:
    into.mkdir()
    for page in pages:
        (into / page.name).write_bytes(page.read_bytes())
    return into


def test_two_jobs_archive_what_one_job_archives(cli: Cli, tmp_path: Path, shared_seeds: Path) -> None:
    pages = _copy(_pages(PAGES), tmp_path / "pages")
    alone = Cli(cwd=tmp_path, data=tmp_path / "alone", db=f"sqlite:///{tmp_path / 'alone.sqlite'}")
    one = alone("replay", str(pages), str(shared_seeds), "--jobs", "1", check=True)
    two = cli("replay", str(pages), str(shared_seeds), "--jobs", "2", check=True)
    assert "extraction: 1 process(es), 0 captures extracted in workers" in one.out
    # The first captures are extracted in the main process while the pool starts; most go to workers.
    in_workers = int(two.out.split("process(es), ")[1].split(" captures")[0])
    assert "extraction: 2 process(es)" in two.out and in_workers >= PAGES // 2, two.out
    expected = _digests(alone)
    assert len(expected) >= PAGES  # every page and seed gave a record (a few dev pages may hold no article)
    assert _digests(cli) == expected  # same captures, same text, nothing twice
    check = warcio_check(warc_files(cli.data))
    assert check.returncode == 0, check.stdout[-2000:]
    again = cli("replay", str(pages), str(shared_seeds), "--jobs", "2", check=True)
    assert f"0 records written, {len(expected)} unchanged" in again.out


def _descendants(pid: int) -> dict[int, int]:
    """Return {pid: parent pid} of every process below `pid` (read from /proc)."""
    parents = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    found: dict[int, int] = {}
    frontier = [pid]
    while frontier:
        parent = frontier.pop()
        for child, its_parent in parents.items():
            if its_parent == parent and child not in found:
                found[child] = parent
                frontier.append(child)
    return found


def _start_replay(pages: Path, data: Path, db: str, output: Path) -> subprocess.Popen[bytes]:
    """Start `scraper replay --jobs 2`; its output goes to a file (a pipe would wait on any process holding it)."""
    env = {**os.environ, "SCRAPER_DB": db, "SCRAPER_DATA": str(data), "PYTHONWARNINGS": "error"}
    with output.open("wb") as sink:
        return subprocess.Popen(
            [sys.executable, "-m", "archive.cli", "replay", str(pages), "--jobs", "2"],
            cwd=output.parent,
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )


def _workers_of(run: subprocess.Popen[bytes]) -> dict[int, int]:
    """Wait until the replay's two workers run; return its process tree (workers: replay -> forkserver -> worker)."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and run.poll() is None:
        tree = _descendants(run.pid)
        if sum(parent != run.pid for parent in tree.values()) >= 2:
            time.sleep(1.0)  # let them take captures
            return tree
        time.sleep(0.05)
    raise AssertionError("the replay never started worker processes")


@dataclass
class Pages:
    """200 pages in one folder, and what a --jobs 1 replay of that folder archives (id -> text digest)."""

    folder: Path
    by_one_job: dict[str, str]


@pytest.fixture(scope="module")
def pages_200(tmp_path_factory: pytest.TempPathFactory) -> Pages:
    """Copy 200 pages once and replay them with --jobs 1 once: the archive the killed runs must end up with.

    Record ids name the pages' file URLs, so the killed runs replay this same folder.
    """
    work = tmp_path_factory.mktemp("pages-200")
    folder = _copy(_pages(200), work / "pages")
    alone = Cli(cwd=work, data=work / "alone", db=f"sqlite:///{work / 'alone.sqlite'}")
    alone("replay", str(folder), "--jobs", "1", check=True)
    return Pages(folder, _digests(alone))


def _replay_with_workers(tmp_path: Path, pages: Pages) -> tuple[subprocess.Popen[bytes], Path, dict[int, int], Cli]:
    """Start a --jobs 2 replay of 200 pages; return it, its output file, its process tree once workers run, its CLI."""
    need(Path("/proc/self/stat").exists(), "finding worker processes needs /proc (Linux)")
    data, db = tmp_path / "data", f"sqlite:///{tmp_path / 'catalog.sqlite'}"
    output = tmp_path / "replay.out"
    run = _start_replay(pages.folder, data, db, output)
    return run, output, _workers_of(run), Cli(cwd=tmp_path, data=data, db=db)


def _archived_as_by_one_job(cli: Cli, pages: Pages) -> None:
    """Check the archive holds what a --jobs 1 replay of the same pages holds, and its WARC files are valid."""
    assert _digests(cli) == pages.by_one_job  # nothing lost, nothing twice
    check = warcio_check(warc_files(cli.data))
    assert check.returncode == 0, check.stdout[-2000:]


def test_a_worker_killed_mid_replay_loses_no_capture(tmp_path: Path, pages_200: Pages) -> None:
    run, output, tree, cli = _replay_with_workers(tmp_path, pages_200)
    os.kill(next(p for p, parent in tree.items() if parent != run.pid), signal.SIGKILL)
    run.wait(timeout=600)
    text = output.read_text()
    assert run.returncode == 0, text[-3000:]
    assert "1 worker restarts" in text, text
    _archived_as_by_one_job(cli, pages_200)


def test_killing_the_replay_leaves_no_worker_behind(tmp_path: Path, pages_200: Pages) -> None:
    """Workers hold their own task pipes open, so only a watch on the main process ends them."""
    run, _, tree, cli = _replay_with_workers(tmp_path, pages_200)
    run.kill()
    run.wait()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and any(Path(f"/proc/{pid}").exists() for pid in tree):
        time.sleep(0.1)
    left = [pid for pid in tree if Path(f"/proc/{pid}").exists()]
    for pid in left:  # do not leave them to the next test
        os.kill(pid, signal.SIGKILL)
    assert left == [], f"processes outlived the replay: {left}"
    # What the killed run archived is intact, and a second run archives the rest.
    cli("replay", str(pages_200.folder), "--jobs", "2", check=True)
    _archived_as_by_one_job(cli, pages_200)


def test_a_crawl_with_two_jobs_archives_what_one_job_archives(cli: Cli, tmp_path: Path) -> None:
    """Live crawls build records in workers too; the pages are the dev set's, served on 127.0.0.1."""
    import gzip

    from benchmarks.__main__ import serve

    pages = [(p.name, gzip.decompress(p.read_bytes())) for p in _pages(PAGES)]
    alone = Cli(cwd=tmp_path, data=tmp_path / "alone", db=f"sqlite:///{tmp_path / 'alone.sqlite'}")
    with serve(pages) as url:
        options = ["--delay", "0", "--concurrency", "8", "--depth", "1", "--allow-network", "127.0.0.1/32"]
        one = alone("crawl", url, *options, "--jobs", "1")
        two = cli("crawl", url, *options, "--jobs", "2")
    assert "extraction: 1 process(es), 0 captures extracted in workers" in one.out, one.out + one.err
    in_workers = int(two.out.split("process(es), ")[1].split(" captures")[0])
    assert "extraction: 2 process(es)" in two.out and in_workers >= PAGES // 3, two.out + two.err
    expected = _digests(alone)
    assert len(expected) >= PAGES * 3 // 4  # the index holds no article; a few dev pages may hold none either
    assert _digests(cli) == expected
    check = warcio_check(warc_files(cli.data))
    assert check.returncode == 0, check.stdout[-2000:]
