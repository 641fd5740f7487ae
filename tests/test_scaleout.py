"""Many workers, one frontier (Redis) and one catalog: real worker processes crawl a site on 127.0.0.1.

The workers are `scraper crawl --frontier ...` subprocesses sharing one data directory and one
catalog (PostgreSQL where the issue asks for it, a SQLite file elsewhere). One is killed mid-crawl
in the first test; every page must still be archived exactly once.
"""

from __future__ import annotations

import json
import re
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import redis
from warcio.archiveiterator import ArchiveIterator

from archive.frontier.store import Frontier
from tests.conftest import ROOT, Cli, need, warc_files, warcio_check
from tests.courier import MIRRORED, Courier, articles, pages
from tests.frontier_faults import freeze_one_holding, paths_of, reaped, rows, start_workers

WORKER_NAME = re.compile(r"^scraper-\d{17}-\d{5}-[A-Za-z0-9._-]+-(w\d)\.warc\.gz$")


def _cli(data: Path, db: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Run `scraper ARGS` (conftest's Cli: enqueue, frontier, verify, crawls in this process; others spawned)."""
    done = Cli(cwd=ROOT, data=data, db=db)(*args)
    return subprocess.CompletedProcess(list(args), done.code, done.out, done.err)


def _on_sqlite(tmp_path: Path) -> tuple[Path, str]:
    """Return a data directory and a SQLite catalog URL under `tmp_path` (workers on one machine share them)."""
    return tmp_path / "data", f"sqlite:///{tmp_path / 'catalog.sqlite'}"


def _where(frontier: Frontier) -> list[str]:
    return ["--frontier", frontier.url, "--frontier-name", frontier.name]


@contextmanager
def workers(
    data: Path, db: str, frontier: Frontier, ids: list[str], *extra: str
) -> Iterator[list[subprocess.Popen[str]]]:
    """Start one `scraper crawl --frontier ... --until-idle` process per id; kill what is left at the end."""
    with reaped(start_workers(data, db, frontier, ids, *extra)) as procs:
        yield procs


def _finish(procs: list[subprocess.Popen[str]]) -> list[tuple[int, str, str]]:
    return [(proc.wait(timeout=600), *proc.communicate()) for proc in procs]


def _enqueue(data: Path, db: str, frontier: Frontier, url: str, *args: str) -> str:
    done = _cli(data, db, "enqueue", url, *_where(frontier), *args)
    assert done.returncode == 0, done.stderr
    found = re.search(r"new crawl ([0-9a-f-]{36}): (\d+) seed", done.stdout)
    assert found is not None, done.stdout
    return found.group(1)


def _archive_checks(data: Path, db: str, crawl: str, ids: set[str]) -> None:
    """Every WARC file names its worker, belongs to the crawl, reads back whole; verify finds nothing wrong."""
    files = warc_files(data)
    assert files
    for path in files:
        named = WORKER_NAME.match(path.name)
        assert named is not None and named.group(1) in ids, path.name
        with open(path, "rb") as handle:
            info = next(iter(ArchiveIterator(handle)))
            fields = info.content_stream().read().decode()
        assert f"isPartOf: {crawl}" in fields and f"worker: {named.group(1)}" in fields
    check = warcio_check(files)
    assert check.returncode == 0, check.stdout + check.stderr
    verified = _cli(data, db, "verify")
    assert verified.returncode == 0, verified.stdout + verified.stderr


@pytest.mark.slow
@pytest.mark.postgres
def test_workers_share_one_crawl_and_a_killed_workers_pages_are_archived_once(
    tmp_path: Path, postgres_url: str, frontier: Frontier
) -> None:
    data = tmp_path / "data"
    with Courier(latency=0.15) as site:
        crawl = _enqueue(data, postgres_url, frontier, f"{site.base}/", "--depth", "3", "--delay", "0")
        with workers(data, postgres_url, frontier, ["w1", "w2", "w3"], "--concurrency", "2") as procs:
            victim, held = _stop_a_worker_holding_pages(site, frontier, procs)
            victim.send_signal(signal.SIGKILL)
            victim.wait()
            results = _finish([p for p in procs if p is not victim])
        assert [code for code, _, _ in results] == [0, 0], [err[-2000:] for _, _, err in results]
        expected = {site.base + path for path in pages()}
        archived = [str(url) for (url,) in rows(postgres_url, "SELECT source_url FROM captures")]
        assert sorted(archived) == sorted(expected)  # every page, each once
        assert held <= {u.removeprefix(site.base) for u in archived}  # what the dead worker held was done by others
        # Mirrors are byte-identical copies: two captures, one document.
        assert rows(postgres_url, "SELECT count(*) FROM documents") == [(len(expected) - len(MIRRORED),)]
        # No URL fetched twice, but for what the killed worker held when it died.
        twice = {path for path, hits in site.hits.items() if hits > 1}
        assert twice <= held, twice - held
        assert site.hits["/robots.txt"] == 1 and not [p for p in site.hits if p.startswith("/private/")]
        status = rows(postgres_url, f"SELECT status FROM crawls WHERE id = '{crawl}'")
        assert status == [("finished",)]
        reaped = sum(int(re.search(r"(\d+) dead worker", out).group(1)) for _, out, _ in results)  # type: ignore[union-attr]
        assert reaped == 1
    _archive_checks(data, postgres_url, crawl, {"w1", "w2", "w3"})
    assert frontier.workers() == [] and not frontier.busy("crawl")


def _stop_a_worker_holding_pages(
    site: Courier, frontier: Frontier, procs: list[subprocess.Popen[str]]
) -> tuple[subprocess.Popen[str], set[str]]:
    """Freeze a worker that holds requests once the crawl is under way; return it and the paths it holds."""
    by_id = dict(zip(("w1", "w2", "w3"), procs, strict=True))
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if sum(h for p, h in site.hits.items() if p.startswith("/news/")) >= 6:
            frozen = freeze_one_holding(frontier, by_id)
            if frozen is not None:
                return by_id[frozen[0]], paths_of(frozen[1])
        assert all(p.poll() is None for p in procs), "a worker ended before the crawl was under way"
        time.sleep(0.02)
    raise AssertionError("no worker held a request while the crawl ran")


@pytest.mark.slow
def test_two_workers_fetch_each_url_once_and_keep_one_timetable_per_host(tmp_path: Path, frontier: Frontier) -> None:
    data, db = _on_sqlite(tmp_path)
    with Courier() as site:
        crawl = _enqueue(data, db, frontier, f"{site.base}/", "--depth", "3", "--delay", "0.05")
        with workers(data, db, frontier, ["w1", "w2"], "--concurrency", "4") as procs:
            results = _finish(procs)
    assert [code for code, _, _ in results] == [0, 0], [err[-2000:] for _, _, err in results]
    assert {path: site.hits[path] for path in pages()} == dict.fromkeys(pages(), 1)
    assert site.hits["/robots.txt"] == 1 and sum(site.hits.values()) == len(pages()) + 1
    # Both workers fetched, yet the host saw one request per 0.05 s at most, robots.txt included.
    spans = [out for _, out, _ in results]
    assert all(re.search(r"(\d+) item\(s\) done", out).group(1) != "0" for out in spans)  # type: ignore[union-attr]
    times = sorted(t for _, t in site.times)
    assert times[-1] - times[0] >= 0.05 * (len(times) - 1) - 0.1
    counts = rows(db, f"SELECT counts FROM crawls WHERE id = '{crawl}'")[0][0]
    totals = json.loads(counts) if isinstance(counts, str) else counts
    assert totals["records_written"] == len(pages()) == rows(db, "SELECT count(*) FROM captures")[0][0]
    listed = _cli(data, db, "crawls")
    assert f"{crawl[:8]}  crawl" in listed.stdout and "finished" in listed.stdout
    _archive_checks(data, db, crawl, {"w1", "w2"})


@pytest.mark.slow
def test_a_crawls_caps_hold_across_workers_and_scheduled_runs_wait_for_the_last(
    tmp_path: Path, frontier: Frontier
) -> None:
    data, db = _on_sqlite(tmp_path)
    with Courier() as site:
        schedule = tmp_path / "schedule.toml"
        schedule.write_text(
            f'[jobs.courier]\nseeds = ["{site.base}/"]\nevery = "1h"\n'
            'args = ["--depth", "3", "--max-pages", "12", "--delay", "0"]\n'
        )
        first = _cli(data, db, "schedule", str(schedule), "--once", *_where(frontier))
        again = _cli(data, db, "schedule", str(schedule), "--once", *_where(frontier))
        assert "courier: enqueue ended with status 0" in first.stdout, first.stdout + first.stderr
        assert re.search(r"courier: skipped, its crawl \S+ is still running in the frontier", again.stdout)
        with workers(data, db, frontier, ["w1", "w2"], "--concurrency", "4") as procs:
            results = _finish(procs)
    assert [code for code, _, _ in results] == [0, 0], [err[-2000:] for _, _, err in results]
    runs = rows(db, "SELECT status, args FROM crawls")
    assert len(runs) == 1 and runs[0][0] == "finished" and '"job": "courier"' in str(runs[0][1]).replace("'", '"')
    assert rows(db, "SELECT count(*) FROM captures") == [(12,)]
    assert sum(h for p, h in site.hits.items() if p != "/robots.txt") == 12  # the 13th page was never asked for


@pytest.mark.slow
def test_a_frontier_that_cannot_be_reached_or_used_is_refused_with_its_reason(tmp_path: Path) -> None:
    data, db = _on_sqlite(tmp_path)
    gone = ["--frontier", "redis://:secret@127.0.0.1:1/0"]
    crawled = _cli(data, db, "crawl", *gone, "--until-idle")
    assert crawled.returncode == 1 and "127.0.0.1:1" in crawled.stderr and "secret" not in crawled.stderr
    enqueued = _cli(data, db, "enqueue", "https://news.example/", *gone)
    assert enqueued.returncode == 2 and "error: frontier redis://:***@127.0.0.1:1/0" in enqueued.stderr
    assert _cli(data, db, "enqueue", "https://news.example/").returncode == 2  # no frontier given
    resumed = _cli(data, db, "crawl", "--resume", "--frontier", "redis://127.0.0.1:6379/0")
    assert resumed.returncode == 2 and "a frontier keeps its crawls itself" in resumed.stderr
    assert not warc_files(data)


@contextmanager
def private_redis() -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """Start a Redis server of this test's own on a free loopback port (the shared one must not be stopped)."""
    binary = shutil.which("redis-server")
    need(binary is not None, "redis-server is not installed (a test stops a frontier of its own mid-crawl)")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [str(binary), "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"redis://127.0.0.1:{port}/0"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                redis.Redis.from_url(url, socket_connect_timeout=1).ping()
                break
            except redis.RedisError:
                assert time.monotonic() < deadline, "the private Redis server did not start"
                time.sleep(0.05)
        yield url, server
    finally:
        server.kill()
        server.wait()


@pytest.mark.slow
def test_a_frontier_lost_mid_crawl_stops_the_worker_with_its_reason_and_a_sound_archive(tmp_path: Path) -> None:
    data, db = _on_sqlite(tmp_path)
    with private_redis() as (url, server), Courier(latency=0.2) as site:
        frontier = Frontier(url, "lost")
        _enqueue(data, db, frontier, f"{site.base}/", "--depth", "3", "--delay", "0")
        with workers(data, db, frontier, ["w1"], "--concurrency", "2") as procs:
            deadline = time.monotonic() + 300
            while sum(h for p, h in site.hits.items() if p.startswith("/news/")) < 4:
                assert time.monotonic() < deadline and procs[0].poll() is None, "the crawl did not get under way"
                time.sleep(0.02)
            server.kill()  # the frontier is gone, and with it every queue (this server keeps nothing on disk)
            server.wait()
            [(code, out, err)] = _finish(procs)
    assert code == 1, out + err
    assert f"error: the run stopped: frontier {url} (lost):" in err, err[-2000:]
    archived = rows(db, "SELECT count(*) FROM captures")[0][0]
    assert isinstance(archived, int) and 0 < archived < len(pages())
    check = warcio_check(warc_files(data))
    assert check.returncode == 0, check.stdout
    verified = _cli(data, db, "verify")
    assert verified.returncode == 0, verified.stdout  # the catalog points at nothing that is not there


def test_seeds_join_a_running_crawl_and_a_cancelled_crawl_ends_cancelled(tmp_path: Path, frontier: Frontier) -> None:
    data, db = _on_sqlite(tmp_path)
    crawl = _enqueue(data, db, frontier, "https://news.example/a", "--depth", "0")
    joined = _cli(
        data, db, "enqueue", "https://news.example/a", "https://news.example/b", "--crawl", crawl[:8], *_where(frontier)
    )
    assert joined.returncode == 0, joined.stderr
    assert f"crawl {crawl}: 1 seed(s) queued, 1 skipped" in joined.stdout  # /a is in the crawl already
    status = _cli(data, db, "frontier", *_where(frontier))
    assert f"{crawl[:8]}  crawl" in status.stdout and "2 queued, 0 in flight" in status.stdout
    cancelled = _cli(data, db, "frontier", *_where(frontier), "--cancel", crawl[:8])
    assert cancelled.returncode == 0 and "2 queued item(s) dropped; ended" in cancelled.stdout
    assert rows(db, f"SELECT status FROM crawls WHERE id = '{crawl}'") == [("cancelled",)]
    assert "cancelled" in _cli(data, db, "frontier", *_where(frontier)).stdout
    again = _cli(data, db, "enqueue", "https://news.example/c", "--crawl", crawl, *_where(frontier))
    assert again.returncode == 2 and "is not running in the frontier" in again.stderr


@pytest.mark.slow
def test_a_worker_stopped_with_ctrl_c_puts_back_what_it_had_not_done(tmp_path: Path, frontier: Frontier) -> None:
    data, db = _on_sqlite(tmp_path)
    with Courier(latency=0.3) as site:
        crawl = _enqueue(data, db, frontier, f"{site.base}/", "--depth", "3", "--delay", "0")
        procs = start_workers(data, db, frontier, ["w1"], "--concurrency", "2")
        with reaped(procs):
            deadline = time.monotonic() + 300
            while sum(h for p, h in site.hits.items() if p.startswith("/news/")) < 3:
                assert time.monotonic() < deadline and procs[0].poll() is None
                time.sleep(0.02)
            procs[0].send_signal(signal.SIGINT)  # Scrapy finishes what it downloads, then closes
            procs[0].wait(timeout=300)
        assert frontier.workers() == []  # it left the frontier
        left = frontier.queued("crawl")
        assert left > 0  # what it had not done is back in the queue, none of it still held
        archived = rows(db, "SELECT count(*) FROM captures")[0][0]
        assert isinstance(archived, int) and archived + left <= len(pages())
        with workers(data, db, frontier, ["w2"], "--concurrency", "4") as more:
            [(code, _, err)] = _finish(more)
        assert code == 0, err[-2000:]
    expected = {site.base + path for path in pages()}
    assert sorted(str(u) for (u,) in rows(db, "SELECT source_url FROM captures")) == sorted(expected)
    assert rows(db, f"SELECT status FROM crawls WHERE id = '{crawl}'") == [("finished",)]


@pytest.mark.slow
def test_sitemaps_and_robots_txt_enqueued_as_seeds_are_read_once_by_the_workers(
    tmp_path: Path, frontier: Frontier
) -> None:
    data, db = _on_sqlite(tmp_path)
    with Courier() as site:
        seeds = tmp_path / "seeds.txt"
        seeds.write_text(f"{site.base}/robots.txt robots\n{site.base}/sitemap.xml sitemap\n", encoding="utf-8")
        done = _cli(data, db, "enqueue", "--seeds", str(seeds), "--delay", "0", *_where(frontier))
        assert done.returncode == 0 and "2 seed(s) queued" in done.stdout, done.stdout + done.stderr
        with workers(data, db, frontier, ["w1", "w2"], "--concurrency", "4") as procs:
            results = _finish(procs)
    assert [code for code, _, _ in results] == [0, 0], [err[-2000:] for _, _, err in results]
    # robots.txt names the sitemap the seed list names too: it is read once, and lists every article.
    assert site.hits["/sitemap.xml"] == 1
    archived = sorted(str(u) for (u,) in rows(db, "SELECT source_url FROM captures"))
    assert archived == sorted(f"{site.base}/news/{a}" for a in articles())
    # robots.txt twice: once as the seed it is, once for permission (shared by both workers).
    assert site.hits["/robots.txt"] == 2


def test_a_run_whose_last_worker_died_before_the_catalog_heard_of_it_is_ended_by_the_next_worker(
    tmp_path: Path, frontier: Frontier
) -> None:
    data, db = _on_sqlite(tmp_path)
    crawl = _enqueue(data, db, frontier, "https://news.example/a", "--depth", "0")
    # The worker that took the crawl's one request acknowledged it (its capture committed), which
    # drained the crawl, and died before it could record that in the catalog.
    lease = frontier.lease("host-gone", "crawl")
    assert lease is not None and lease.run == crawl
    assert frontier.ack("host-gone", [lease.id]) == [crawl]
    assert rows(db, f"SELECT status FROM crawls WHERE id = '{crawl}'") == [("running",)]
    assert f"{crawl[:8]}  crawl" in (shown := _cli(data, db, "frontier", *_where(frontier)).stdout)
    assert "drained (not yet in the catalog)" in shown
    # The next worker to start (it has nothing to fetch) records it, with the counts the frontier holds.
    frontier.add_counts(crawl, {"records_written": 1})
    with workers(data, db, frontier, ["w1"]) as procs:
        [(code, _, err)] = _finish(procs)
    assert code == 0, err[-2000:]
    [(status, counts)] = rows(db, f"SELECT status, counts FROM crawls WHERE id = '{crawl}'")
    assert status == "finished" and json.loads(counts)["records_written"] == 1
    assert frontier.drained() == []
    shown = _cli(data, db, "frontier", *_where(frontier)).stdout
    assert "finished" in shown and "not yet in the catalog" not in shown
