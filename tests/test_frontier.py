"""The shared frontier on a real Redis server: leases, acknowledgements, dead workers, runs, caps, politeness."""

from __future__ import annotations

import itertools
import json
import threading
import time
from dataclasses import asdict

import pytest
from scrapy import Request
from scrapy.utils.request import request_from_dict

from archive.crawl.scope import CAPPED, FETCH, OUT, SEEN, CrawlScope, LocalLedger, ScopeOptions, SharedLedger
from archive.crawl.seeds import Seed
from archive.frontier.store import Frontier, FrontierError, RequestCodec, redacted
from spiders.site import SiteSpider


def _items(frontier: Frontier, worker: str, kind: str = "crawl") -> list[bytes]:
    taken = []
    while (lease := frontier.lease(worker, kind)) is not None:
        taken.append(lease.data)
    return taken


def test_items_come_by_priority_then_in_order_and_stay_in_flight_until_acknowledged(frontier: Frontier) -> None:
    frontier.open_run("r1", "crawl")
    for data, priority in ((b"low-1", 0), (b"high", 5), (b"low-2", 0), (b"lowest", -3)):
        assert frontier.push("r1", data, priority) == 1
    frontier.push("r1", b"high", 5)  # the same item twice is one item
    first = frontier.lease("w1", "crawl")
    assert first is not None and (first.run, first.data) == ("r1", b"high")
    rest = [frontier.lease("w1", "crawl") for _ in range(3)]
    assert [lease.data for lease in rest if lease] == [b"low-1", b"low-2", b"lowest"]
    assert frontier.lease("w1", "crawl") is None
    assert sorted(frontier.in_flight("w1")) == [b"high", b"low-1", b"low-2", b"lowest"]
    assert frontier.busy("crawl")  # nothing queued, but four in flight: the run is not over
    assert frontier.ack("w1", [first.id, rest[0].id]) == []  # type: ignore[union-attr]
    assert frontier.ack("w1", [lease.id for lease in rest[1:] if lease]) == ["r1"]  # the last one drains it
    assert frontier.state("r1")["status"] == "drained" and not frontier.busy("crawl")
    assert frontier.push("r1", b"late") == -2  # a drained run takes nothing more


def test_a_dead_workers_items_go_back_to_their_queues_and_a_live_worker_keeps_its_own(frontier: Frontier) -> None:
    frontier.open_run("r1", "crawl")
    for n in range(4):
        frontier.push("r1", f"page-{n}".encode())
    frontier.register("dead", {"host": "a"}, ttl=0.3)
    frontier.register("alive", {"host": "b"}, ttl=30)
    held_by_dead = [frontier.lease("dead", "crawl") for _ in range(2)]
    held_by_live = frontier.lease("alive", "crawl")
    assert all(held_by_dead) and held_by_live is not None
    time.sleep(0.5)  # the dead worker's heartbeat runs out; the live one's does not
    assert frontier.reap() == [("dead", 2, [])]
    assert [w["worker"] for w in frontier.workers()] == ["alive"]
    assert frontier.in_flight("alive") == [held_by_live.data]
    back = _items(frontier, "alive")
    assert sorted(back) == sorted([b"page-3", *(lease.data for lease in held_by_dead if lease)])
    assert frontier.reap() == []  # nothing more to put back


def test_a_dead_worker_is_given_up_once_when_two_workers_reap_at_the_same_moment(frontier: Frontier) -> None:
    frontier.open_run("r1", "crawl")
    frontier.push("r1", b"page")
    frontier.register("dead", {"host": "a"}, ttl=0.2)
    assert frontier.lease("dead", "crawl") is not None
    time.sleep(0.4)
    # Both reapers listed it as silent; the first to get there puts its item back, the other finds it gone.
    assert frontier.release("dead", only_if_dead=True) == (1, [])
    assert frontier.release("dead", only_if_dead=True) == (-1, [])
    # One that beats again in time is not given up at all.
    frontier.register("late", {"host": "b"}, ttl=30)
    assert frontier.release("late", only_if_dead=True) == (-1, [])
    assert [w["worker"] for w in frontier.workers()] == ["late"]


def test_a_worker_that_stops_puts_back_what_it_holds(frontier: Frontier) -> None:
    frontier.open_run("r1", "crawl")
    frontier.push("r1", b"only")
    assert frontier.lease("w1", "crawl") is not None
    assert frontier.release("w1") == (1, [])
    assert _items(frontier, "w2") == [b"only"]


def test_runs_take_turns_and_a_cancelled_run_ends_when_its_last_item_is_done(frontier: Frontier) -> None:
    frontier.open_run("a", "crawl")
    frontier.open_run("b", "crawl")
    frontier.open_run("x", "reextract")
    for n in range(3):
        frontier.push("a", f"a{n}".encode())
        frontier.push("b", f"b{n}".encode())
    frontier.push("x", b'{"file": "one.warc.gz"}')
    leases = [lease for lease in (frontier.lease("w", "crawl") for _ in range(5)) if lease]
    runs = [lease.run for lease in leases]
    assert sorted(runs[:4]) == ["a", "a", "b", "b"] and runs[0] != runs[1]  # turns, not one run first
    gone = runs[4]  # the run that has one item left in its queue after this
    other = "b" if gone == "a" else "a"
    assert frontier.cancel(gone) == (0, False)  # its queue is empty now; three of its items are in flight
    assert frontier.state(gone)["status"] == "cancelled" and frontier.push(gone, b"more") == -2
    held = [lease.id for lease in leases if lease.run == gone]
    assert frontier.ack("w", held[:-1]) == []
    assert frontier.ack("w", held[-1:]) == [gone]  # the last one in flight ends it
    assert frontier.state(gone)["status"] == "cancelled-drained"
    assert frontier.queued("crawl") == 1 and frontier.active("crawl") == [other]
    assert frontier.lease("w", "reextract") is not None  # kinds are taken separately
    assert frontier.cancel("nonexistent") is None


def test_a_run_with_nothing_queued_can_be_settled_at_once(frontier: Frontier) -> None:
    frontier.open_run("empty", "crawl")
    assert frontier.settle("empty") and frontier.state("empty")["status"] == "drained"
    frontier.open_run("busy", "crawl")
    frontier.push("busy", b"x")
    assert not frontier.settle("busy")


def _shared_verdict(frontier: Frontier, scope: CrawlScope, url: str, kind: str, seed: int) -> str:
    """Ask a shared scope as a worker does: admit, then queue with the claim; return what that came to."""
    verdict, claim = scope.admit(url, kind, seed)
    if verdict != FETCH:
        return verdict
    assert claim is not None
    pushed = frontier.push(str(scope.run), url.encode(), claim=claim)
    return {1: FETCH, 0: SEEN, -1: CAPPED}[pushed]


def test_a_shared_crawl_answers_every_scope_question_as_a_crawl_in_one_process_does(frontier: Frontier) -> None:
    seeds = [Seed("https://a.example/", "page", None, 3), Seed("https://b.example/feed.xml", "feed")]
    options = ScopeOptions(max_pages=6, max_per_site=4, deny=(r"/private/",))
    frontier.open_run("scope", "crawl", options=options.to_dict())
    frontier.add_seeds("scope", [asdict(s) for s in seeds])
    local = CrawlScope(options, LocalLedger(seeds))
    shared = CrawlScope(options, SharedLedger(frontier, "scope"), "scope")
    asks = [
        ("https://a.example/", "page", 0),
        ("https://a.example/1", "page", 0),
        ("https://a.example/1#top", "page", 0),  # the same page
        ("https://a.example/private/x", "page", 0),
        ("https://c.example/", "page", 0),  # another site
        ("https://a.example/2", "page", 0),
        ("https://a.example/3", "page", 0),  # over seed 0's own cap of 3
        ("https://b.example/feed.xml", "feed", 1),
        ("https://b.example/feed.xml", "feed", 1),
        ("https://b.example/1", "page", 1),
        ("https://b.example/2", "page", 1),
        ("https://b.example/3", "page", 1),
        ("https://b.example/4", "page", 1),  # the crawl's 6 pages are taken
        ("ftp://b.example/5", "page", 1),
    ]
    mine = [local.admit(u, k, s)[0] for u, k, s in asks]
    theirs = [_shared_verdict(frontier, shared, u, k, s) for u, k, s in asks]
    assert (
        mine == theirs == [FETCH, FETCH, SEEN, OUT, OUT, FETCH, CAPPED, FETCH, SEEN, FETCH, FETCH, FETCH, CAPPED, OUT]
    )
    assert local.admit("https://a.example/", "page", 0, again=True)[0] == CAPPED  # a seed again still counts


def test_a_finished_run_keeps_the_count_of_pages_it_saw(frontier: Frontier) -> None:
    """Retiring a run drops its seen-set; `scraper frontier` still says how many pages the run saw."""
    seeds = [Seed("https://a.example/", "page")]
    frontier.open_run("done", "crawl", options=ScopeOptions().to_dict())
    frontier.add_seeds("done", [asdict(s) for s in seeds])
    shared = CrawlScope(ScopeOptions(), SharedLedger(frontier, "done"), "done")
    for url in ("https://a.example/", "https://a.example/1", "https://a.example/2", "https://a.example/1#top"):
        _shared_verdict(frontier, shared, url, "page", 0)
    [before] = [r for r in frontier.runs() if r["id"] == "done"]
    frontier.retire("done")
    [after] = [r for r in frontier.runs() if r["id"] == "done"]
    assert before["pages_seen"] == after["pages_seen"] == 3  # the fragment is the same page
    assert after["queued"] == 0


def test_caps_hold_when_workers_queue_pages_at_the_same_moment(frontier: Frontier) -> None:
    seeds = [Seed("https://a.example/", "page")]
    frontier.open_run("race", "crawl", options={"max_pages": 30})
    frontier.add_seeds("race", [asdict(s) for s in seeds])
    claimed: list[str] = []
    lock = threading.Lock()

    def worker(start: int) -> None:
        client = Frontier(frontier.url, frontier.name)  # a connection of its own, as a worker has
        scope = CrawlScope(ScopeOptions(max_pages=30), SharedLedger(client, "race"), "race")
        for n in range(start, 200, 2):
            for url in (f"https://a.example/{n}", f"https://a.example/{n + 1}"):  # neighbours ask the same URLs
                if _shared_verdict(client, scope, url, "page", 0) == FETCH:
                    with lock:
                        claimed.append(url)
        client.close()

    threads = [threading.Thread(target=worker, args=(s,)) for s in (0, 1, 0, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(claimed) == 30 and len(set(claimed)) == 30
    assert frontier.queued("crawl") == 30


def test_a_url_found_but_never_queued_is_not_taken(frontier: Frontier) -> None:
    frontier.open_run("r", "crawl")
    frontier.add_seeds("r", [asdict(Seed("https://a.example/", "page"))])
    scope = CrawlScope(ScopeOptions(), SharedLedger(frontier, "r"), "r")
    first = scope.admit("https://a.example/1", "page", 0)
    assert first[0] == FETCH  # found by a worker that dies before queueing it
    again, claim = scope.admit("https://a.example/1", "page", 0)  # the page that links to it, fetched again
    assert again == FETCH and claim is not None
    assert frontier.push("r", b"one", claim=claim) == 1
    assert frontier.push("r", b"one-again", claim=claim) == 0
    assert frontier.push("r", b"fp", fingerprint="f1") == 1 and frontier.push("r", b"fp2", fingerprint="f1") == 0


def test_a_crawl_request_survives_the_trip_through_the_frontier() -> None:
    seed = Seed("https://a.example/", "page")
    spider = SiteSpider([seed])
    request = Request(
        "https://a.example/news?id=7",
        callback=spider.route,
        errback=spider.on_error,
        method="POST",
        body=b"\x00\xffbinary",
        headers={"If-None-Match": '"abc"', "X-Bytes": b"\xe2\x82\xac"},
        meta={"kind": "page", "seed": 0, "hops_left": 2, "redirect_urls": ["https://a.example/old"], "n": {"$b": 1}},
        priority=-2,
    )
    data = RequestCodec.dumps(request.to_dict(spider=spider))
    json.loads(data)  # plain JSON: nothing is unpickled from a shared server
    back = request_from_dict(RequestCodec.loads(data), spider=spider)
    assert (back.url, back.method, back.body, back.priority) == (request.url, "POST", b"\x00\xffbinary", -2)
    assert back.headers.getlist(b"X-Bytes") == [b"\xe2\x82\xac"] and back.meta == request.meta
    assert back.callback == spider.route and back.errback == spider.on_error
    with pytest.raises(TypeError, match="cannot put a object into the frontier"):
        RequestCodec.dumps({"meta": {"wire": object()}})


def test_requests_to_one_host_take_turns_on_one_timetable(frontier: Frontier) -> None:
    other = Frontier(frontier.url, frontier.name)
    waits = [client.reserve("a.example", 0.4) for client in (frontier, other, frontier, other)]
    assert waits[0] == 0.0
    for before, after in itertools.pairwise(waits):
        assert 0.3 < after - before <= 0.4  # each turn 0.4 s after the last, less the time the calls took
    assert frontier.reserve("b.example", 0.4) == 0.0  # another host has its own
    other.close()


def test_one_worker_fetches_a_hosts_robots_txt_for_all(frontier: Frontier) -> None:
    assert frontier.robots("a.example") is None
    assert frontier.lock_robots("a.example", "w1", 30)
    assert not frontier.lock_robots("a.example", "w2", 30)  # w2 waits for w1's copy
    frontier.store_robots("a.example", 200, b"User-agent: *\nDisallow: /private/\n", ttl=60)
    assert frontier.robots("a.example") == (200, b"User-agent: *\nDisallow: /private/\n")
    assert frontier.lock_robots("a.example", "w2", 30)  # the lock went with the store


@pytest.mark.slow  # waits out the client's retries
def test_an_unreachable_frontier_is_named_without_its_password() -> None:
    with pytest.raises(FrontierError) as failed:
        Frontier.connect("redis://:hunter2@127.0.0.1:1/0")
    message = str(failed.value)
    assert "127.0.0.1:1" in message and "hunter2" not in message and "***" in message
    assert redacted("redis://user:pw@h:6379/2") == "redis://user:***@h:6379/2"
    with pytest.raises(FrontierError, match="not a Redis URL"):
        Frontier("http://127.0.0.1:6379/0")
    with pytest.raises(FrontierError, match="frontier name"):
        Frontier("redis://127.0.0.1:6379/0", "bad name:with colon")
