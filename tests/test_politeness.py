"""Politeness across a frontier's workers, in this process on a real Redis frontier: one robots.txt, one timetable.

Each worker is a crawler of its own (conftest's make_crawler) naming the same frontier, as two
`scraper crawl --frontier` processes would; the middlewares are called as Scrapy calls them.
tests/test_scaleout.py shows the same with real worker processes.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import pytest
from scrapy import Request, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import IgnoreRequest, NotConfigured
from scrapy.robotstxt import ProtegoRobotParser

from archive.crawl.politeness import PolitenessGateMiddleware, SharedRobotsTxtMiddleware
from archive.frontier.store import Frontier, FrontierError

MakeCrawler = Callable[..., Crawler]
RunAsync = Callable[..., Any]
ROBOTS = b"User-agent: *\nDisallow: /private/\n"


def _worker(make_crawler: MakeCrawler, frontier: Frontier, worker_id: str, **settings: Any) -> Crawler:
    """Return a crawler that is worker `worker_id` of `frontier`."""
    return make_crawler(
        {
            "ROBOTSTXT_OBEY": True,
            "ARCHIVE_FRONTIER_URL": frontier.url,
            "ARCHIVE_FRONTIER_NAME": frontier.name,
            "ARCHIVE_WORKER_ID": worker_id,
            **settings,
        }
    )


async def _outcome(coroutine: Any) -> str:
    try:
        await coroutine
    except IgnoreRequest:
        return "refused"
    return "allowed"


# --- SharedRobotsTxtMiddleware --------------------------------------------------------------


def test_without_robots_txt_obeyed_the_middleware_is_off(make_crawler: MakeCrawler) -> None:
    with pytest.raises(NotConfigured):
        SharedRobotsTxtMiddleware.from_crawler(make_crawler({"ROBOTSTXT_OBEY": False}))


def test_a_robots_txt_another_worker_shared_is_obeyed_without_fetching_it(
    make_crawler: MakeCrawler, run_async: RunAsync, frontier: Frontier
) -> None:
    crawler = _worker(make_crawler, frontier, "w2")
    robots_mw = SharedRobotsTxtMiddleware.from_crawler(crawler)
    frontier.store_robots("a.example", 200, ROBOTS, ttl=60)
    asks = ["https://a.example/news/1", "https://a.example/private/admin", "https://a.example/news/2"]
    assert [run_async(_outcome(robots_mw.process_request(Request(url)))) for url in asks] == [
        "allowed",
        "refused",
        "allowed",
    ]
    stats = crawler.stats.get_stats()
    assert stats["robotstxt/shared"] == 1  # asked the frontier once, then kept it
    assert "robotstxt/request_count" not in stats  # and fetched nothing itself
    assert stats["robotstxt/forbidden"] == 1


def test_every_request_waiting_for_a_hosts_robots_txt_gets_it(
    make_crawler: MakeCrawler, run_async: RunAsync, frontier: Frontier
) -> None:
    """Three requests wait while another worker fetches robots.txt: each is judged by it, the third too.

    Scrapy 2.19's own middleware hands the parser to the first waiter only; the others got None
    and went out (tests/test_crawl.py shows it through a real crawl).
    """
    crawler = _worker(make_crawler, frontier, "w2")
    robots_mw = SharedRobotsTxtMiddleware.from_crawler(crawler)
    assert frontier.lock_robots("a.example", "w1", 30)  # w1 is fetching it

    async def scenario() -> list[str]:
        async def w1_shares_it() -> str:
            await asyncio.sleep(0.3)
            frontier.store_robots("a.example", 200, ROBOTS, ttl=60)
            return "shared"

        asks = ["https://a.example/harbour/fish-market", "https://a.example/council/cycle-routes"]
        asks.append("https://a.example/private/admin")
        waiting = [_outcome(robots_mw.process_request(Request(url))) for url in asks]
        return await asyncio.gather(*waiting, w1_shares_it())

    started = time.monotonic()
    assert run_async(scenario()) == ["allowed", "allowed", "refused", "shared"]
    assert time.monotonic() - started >= 0.3  # they waited for w1's copy
    assert crawler.stats.get_value("robotstxt/shared") == 1


def test_a_worker_asks_again_once_what_it_learned_is_older_than_the_robots_ttl(
    make_crawler: MakeCrawler, run_async: RunAsync, frontier: Frontier
) -> None:
    crawler = _worker(make_crawler, frontier, "w2", ARCHIVE_FRONTIER_ROBOTS_TTL=0.2)
    robots_mw = SharedRobotsTxtMiddleware.from_crawler(crawler)
    frontier.store_robots("a.example", 200, ROBOTS, ttl=60)
    assert run_async(_outcome(robots_mw.process_request(Request("https://a.example/news/1")))) == "allowed"
    frontier.store_robots("a.example", 200, b"User-agent: *\nDisallow: /news/\n", ttl=60)  # the site changed it
    assert run_async(_outcome(robots_mw.process_request(Request("https://a.example/news/2")))) == "allowed"  # kept
    time.sleep(0.3)
    assert run_async(_outcome(robots_mw.process_request(Request("https://a.example/news/3")))) == "refused"
    assert crawler.stats.get_value("robotstxt/shared") == 2


def test_a_frontier_that_fails_while_robots_txt_is_awaited_fails_the_worker(
    make_crawler: MakeCrawler, run_async: RunAsync, frontier: Frontier
) -> None:
    robots_mw = SharedRobotsTxtMiddleware.from_crawler(_worker(make_crawler, frontier, "w2"))
    worker = robots_mw.worker
    assert worker is not None
    worker.frontier.broken = "frontier redis://127.0.0.1:6379/0 (test): Connection refused"  # every call fails now
    with pytest.raises(FrontierError, match="Connection refused"):
        run_async(robots_mw.process_request(Request("https://a.example/news/1")))
    assert worker.failed is not None and "Connection refused" in worker.failed  # not "no robots.txt: go ahead"


# --- PolitenessGateMiddleware ---------------------------------------------------------------


def test_the_gate_is_off_without_a_frontier_and_for_re_extraction(
    make_crawler: MakeCrawler, frontier: Frontier
) -> None:
    with pytest.raises(NotConfigured, match="no shared frontier: each download slot keeps its own delay"):
        PolitenessGateMiddleware.from_crawler(make_crawler())
    with pytest.raises(NotConfigured):
        PolitenessGateMiddleware.from_crawler(_worker(make_crawler, frontier, "r1", ARCHIVE_CRAWL_KIND="reextract"))


def _timed(run_async: RunAsync, gate: PolitenessGateMiddleware, url: str, run: str = "run-1") -> float:
    started = time.monotonic()
    run_async(gate.process_request(Request(url, meta={"crawl": run})))
    return time.monotonic() - started


def test_two_workers_take_turns_on_one_timetable_per_host_at_the_crawls_delay(
    make_crawler: MakeCrawler, run_async: RunAsync, frontier: Frontier
) -> None:
    frontier.open_run("run-1", "crawl", options={"delay": 0.4})
    first, second = (_worker(make_crawler, frontier, w) for w in ("w1", "w2"))
    gate_1, gate_2 = PolitenessGateMiddleware.from_crawler(first), PolitenessGateMiddleware.from_crawler(second)
    assert _timed(run_async, gate_1, "https://a.example/1") < 0.3  # the host's first turn: at once
    assert 0.3 <= _timed(run_async, gate_2, "https://a.example/2") < 0.8  # the other worker waits one turn
    assert _timed(run_async, gate_2, "https://b.example/1") < 0.3  # another host has its own timetable
    assert _timed(run_async, gate_1, "data:,hello") < 0.1  # not HTTP: no turn taken
    assert first.stats.get_value("frontier/politeness_waits") is None
    assert second.stats.get_value("frontier/politeness_waits") == 1


def test_the_interval_is_the_largest_of_floor_crawl_delay_and_robots_crawl_delay(
    make_crawler: MakeCrawler, run_async: RunAsync, frontier: Frontier
) -> None:
    frontier.open_run("quick", "crawl", options={"delay": 0.05})
    frontier.open_run("plain", "crawl", options={})
    # The worker's own --delay (ARCHIVE_FRONTIER_DELAY) is a floor under the crawl's delay.
    floored = PolitenessGateMiddleware.from_crawler(_worker(make_crawler, frontier, "w1", ARCHIVE_FRONTIER_DELAY=0.4))
    _timed(run_async, floored, "https://a.example/1", "quick")
    assert _timed(run_async, floored, "https://a.example/2", "quick") >= 0.3
    # A crawl that asks no delay gets the default (the worker's DOWNLOAD_DELAY, set by the CLI).
    default = PolitenessGateMiddleware.from_crawler(
        _worker(make_crawler, frontier, "w2", ARCHIVE_FRONTIER_DEFAULT_DELAY=0.4)
    )
    _timed(run_async, default, "https://b.example/1", "plain")
    assert _timed(run_async, default, "https://b.example/2", "plain") >= 0.3
    # A host's robots.txt Crawl-delay, once parsed, raises it for every crawl.
    crawler = _worker(make_crawler, frontier, "w3")
    learning = PolitenessGateMiddleware.from_crawler(crawler)
    robots = ProtegoRobotParser.from_crawler(crawler, b"User-agent: *\nCrawl-delay: 0.4\n")
    crawler.signals.send_catch_log(
        signal=signals.robots_parsed, robotparser=robots, request=Request("https://c.example/robots.txt")
    )
    _timed(run_async, learning, "https://c.example/1", "quick")
    assert _timed(run_async, learning, "https://c.example/2", "quick") >= 0.3
    _timed(run_async, learning, "https://d.example/1", "quick")
    assert _timed(run_async, learning, "https://d.example/2", "quick") < 0.3  # its robots.txt asked nothing
