"""A frontier worker's life (archive.crawl.heartbeat.FrontierExtension) in this process, on a real Redis frontier.

The extension is made with `from_crawler` on a get_crawler crawler (conftest's make_crawler)
naming the frontier, and driven by the signals a crawl sends. Its catalog is a real SQLite
file. tests/test_scaleout.py shows the same lives through real worker processes.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.exceptions import DontCloseSpider, NotConfigured
from twisted.python.failure import Failure

from archive.catalog.facade import Catalog
from archive.crawl.heartbeat import FrontierExtension
from archive.crawl.scheduler import ARCHIVE_CHECKPOINT, LEASE
from archive.frontier.store import Frontier, FrontierError
from tests.conftest import crawl_rows

MakeCrawler = Callable[..., Crawler]


class Worker:
    """A crawler that is one worker of the frontier, its FrontierExtension, and the catalog it records runs in."""

    def __init__(self, make_crawler: MakeCrawler, frontier: Frontier, tmp_path: Path, **settings: Any) -> None:
        self.data = tmp_path / "data"
        (self.data / "warc").mkdir(parents=True, exist_ok=True)
        self.db = f"sqlite:///{tmp_path / 'catalog.sqlite'}"
        self.crawler = make_crawler(
            {
                "ARCHIVE_FRONTIER_URL": frontier.url,
                "ARCHIVE_FRONTIER_NAME": frontier.name,
                "ARCHIVE_WORKER_ID": "w1",
                "ARCHIVE_FRONTIER_HEARTBEAT": 0.5,
                "ARCHIVE_FRONTIER_WORKER_TTL": 2,
                "ARCHIVE_DATA_DIR": str(self.data),
                "ARCHIVE_DB_URL": self.db,
                **settings,
            }
        )
        self.crawler.engine = self.crawler._create_engine()  # made, never started (the idle waker looks at it)
        self.extension = FrontierExtension.from_crawler(self.crawler)
        self.worker = self.extension.worker
        self.opened = False

    def open(self) -> None:
        self.crawler.signals.send_catch_log(signal=signals.spider_opened, spider=self.crawler.spider)
        self.opened = True

    def close(self) -> None:
        self.crawler.signals.send_catch_log(signal=signals.spider_closed, spider=self.crawler.spider, reason="finished")
        self.opened = False

    @property
    def stats(self) -> dict[str, Any]:
        return self.crawler.stats.get_stats()

    def catalog(self) -> Catalog:
        catalog = Catalog(self.db)
        catalog.migrate()
        return catalog


@pytest.fixture
def worker(make_crawler: MakeCrawler, frontier: Frontier, tmp_path: Path) -> Iterator[Worker]:
    found = Worker(make_crawler, frontier, tmp_path)
    yield found
    if found.opened:  # stop its heartbeat even when the test failed half-way
        found.close()


def _drained_run(frontier: Frontier, catalog: Catalog, counts: dict[str, int]) -> str:
    """Return a crawl whose only item a worker acknowledged before it could record the end in the catalog."""
    run = catalog.start_crawl("crawl", {})
    frontier.open_run(run, "crawl")
    frontier.push(run, b"page")
    lease = frontier.lease("gone", "crawl")
    assert lease is not None and frontier.ack("gone", [lease.id]) == [run]
    frontier.add_counts(run, counts)
    return run


def test_without_a_frontier_the_extension_switches_itself_off_and_says_why(make_crawler: MakeCrawler) -> None:
    with pytest.raises(NotConfigured, match=r"no shared frontier \(ARCHIVE_FRONTIER_URL\)"):
        FrontierExtension.from_crawler(make_crawler())


def test_a_worker_registers_as_it_opens_ends_runs_left_unrecorded_and_leaves_as_it_closes(
    worker: Worker, frontier: Frontier
) -> None:
    catalog = worker.catalog()
    run = _drained_run(frontier, catalog, {"records_written": 1})
    assert [c["status"] for c in crawl_rows(worker.db)] == ["running"]

    worker.open()
    [registered] = frontier.workers()
    assert registered["worker"] == worker.worker.name and registered["alive"]
    assert registered["kind"] == "crawl" and registered["data"] == str(worker.data)
    assert worker.stats["frontier/worker"] == worker.worker.name
    [ended] = crawl_rows(worker.db)
    assert ended["id"] == run and ended["status"] == "finished" and ended["counts"] == {"records_written": 1}
    assert frontier.drained() == [] and worker.stats["frontier/runs_finished"] == 1
    assert worker.extension.beats is not None and worker.extension.beats.running

    worker.close()
    assert frontier.workers() == []
    assert not worker.extension.beats.running
    catalog.close()


def test_each_beat_puts_a_dead_workers_items_back_and_asks_the_pipeline_to_commit(
    worker: Worker, frontier: Frontier
) -> None:
    frontier.open_run("r1", "crawl")
    frontier.push("r1", b"page-1")
    frontier.push("r1", b"page-2")
    frontier.register("dead", {"host": "elsewhere"}, ttl=0.2)
    assert frontier.lease("dead", "crawl") is not None and frontier.lease("dead", "crawl") is not None
    checkpoints: list[set[str]] = []
    worker.crawler.signals.connect(lambda active: checkpoints.append(set(active)), ARCHIVE_CHECKPOINT, weak=False)
    worker.open()
    time.sleep(0.3)  # the dead worker's heartbeat runs out

    worker.extension.beat()
    assert worker.stats["frontier/workers_reaped"] == 1 and worker.stats["frontier/items_put_back"] == 2
    assert frontier.queued("crawl") == 2 and [w["worker"] for w in frontier.workers()] == [worker.worker.name]
    assert checkpoints == [{"r1"}]  # commit now, so leases are acknowledged within a beat

    # Given up for dead while alive (its reactor blocked longer than the TTL): it registers again.
    frontier.leave(worker.worker.name)
    worker.extension.beat()
    assert worker.stats["frontier/reaped_while_alive"] == 1
    assert [w["worker"] for w in frontier.workers()] == [worker.worker.name]


def test_leases_are_acknowledged_only_after_a_commit_and_the_last_one_ends_the_run(
    worker: Worker, frontier: Frontier
) -> None:
    catalog = worker.catalog()
    run = catalog.start_crawl("crawl", {})
    frontier.open_run(run, "crawl")
    frontier.push(run, b"page")
    worker.open()
    lease = worker.worker.take()
    assert lease is not None
    worker.worker.all_listed(lease.id)
    worker.worker.finished({LEASE: lease.id})  # its callback handed everything on
    assert frontier.in_flight(worker.worker.name) == [b"page"]  # still held: nothing is durable yet

    worker.extension.committed({run: {"records_written": 1, "captures_read": 1}})
    assert frontier.in_flight(worker.worker.name) == []
    assert worker.stats["frontier/acknowledged"] == 1 and worker.stats["frontier/runs_finished"] == 1
    [ended] = crawl_rows(worker.db)
    assert ended["status"] == "finished" and ended["counts"] == {"records_written": 1, "captures_read": 1}
    catalog.close()


def test_an_idle_worker_waits_for_work_unless_told_to_stop_when_the_frontier_is_idle(
    make_crawler: MakeCrawler, frontier: Frontier, tmp_path: Path
) -> None:
    waiting = Worker(make_crawler, frontier, tmp_path / "a")
    with pytest.raises(DontCloseSpider):
        waiting.extension.idle(waiting.crawler.spider)  # nothing anywhere, but it waits for work
    until_idle = Worker(
        make_crawler, frontier, tmp_path / "b", ARCHIVE_WORKER_ID="w2", ARCHIVE_FRONTIER_UNTIL_IDLE=True
    )
    assert until_idle.extension.idle(until_idle.crawler.spider) is None  # nothing queued or leased: it may close
    frontier.open_run("r1", "crawl")
    frontier.push("r1", b"page")
    assert frontier.lease("elsewhere", "crawl") is not None  # another worker holds the crawl's last item
    with pytest.raises(DontCloseSpider):
        until_idle.extension.idle(until_idle.crawler.spider)
    # A re-extraction worker does not stop for a crawl in flight.
    reextract = Worker(
        make_crawler,
        frontier,
        tmp_path / "c",
        ARCHIVE_WORKER_ID="r1",
        ARCHIVE_FRONTIER_UNTIL_IDLE=True,
        ARCHIVE_CRAWL_KIND="reextract",
    )
    assert reextract.extension.idle(reextract.crawler.spider) is None


def test_a_frontier_that_fails_stops_the_worker_and_its_items_stay_leased_for_others_to_put_back(
    worker: Worker, frontier: Frontier
) -> None:
    frontier.open_run("r1", "crawl")
    frontier.push("r1", b"page")
    worker.open()
    assert worker.worker.take() is not None
    worker.worker.frontier.broken = "frontier redis://127.0.0.1:6379/0 (test): Connection refused"
    assert worker.extension.idle(worker.crawler.spider) is None  # no DontCloseSpider: the run is stopping
    assert worker.stats["archive/stopped"] == "frontier redis://127.0.0.1:6379/0 (test): Connection refused"
    worker.close()
    assert frontier.in_flight(worker.worker.name) == [b"page"]  # not released: it goes back once the heartbeat is gone
    assert not worker.extension.beats.running  # type: ignore[union-attr]


def test_a_callback_that_could_not_reach_the_frontier_fails_the_worker(worker: Worker) -> None:
    worker.extension.spider_error(Failure(FrontierError("frontier redis://x (test): timed out")))
    assert worker.worker.failed == "frontier redis://x (test): timed out"
    assert worker.stats["archive/stopped"] == "frontier redis://x (test): timed out"
    worker.extension.spider_error(Failure(ValueError("a page's own error")))  # not the frontier's: no effect
    assert worker.worker.failed == "frontier redis://x (test): timed out"
