"""Feeding a shared frontier: a crawl's seeds, or a re-extraction's WARC files, as runs the workers take from."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from archive.catalog import Catalog
from archive.frontier import Frontier, FrontierError, RequestCodec
from archive.scope import CrawlScope, ScopeOptions, SharedLedger
from archive.seeds import Seed

__all__ = ["Enqueued", "enqueue_files", "enqueue_seeds", "finish_if_empty", "record_ended"]


@dataclass(frozen=True, slots=True)
class Enqueued:
    """What an enqueue did: the run, whether it was started now, items queued and items left out."""

    run: str
    new: bool
    queued: int
    skipped: int


def enqueue_seeds(
    frontier: Frontier,
    catalog: Catalog,
    seeds: Sequence[Seed],
    *,
    options: Mapping[str, Any],
    crawl_args: Mapping[str, Any],
    job: str | None = None,
    run: str | None = None,
) -> Enqueued:
    """Queue seeds in crawl `run`, or in a new crawl (a catalog row, then a frontier run) with `options`.

    A seed the crawl has taken already, or one out of its scope or over its caps, is skipped:
    the same rules as every link a worker finds (archive.scope).
    """
    from spiders.site import SiteSpider

    new = run is None
    if run is None:
        run = catalog.start_crawl("crawl", dict(crawl_args))
        frontier.open_run(run, "crawl", options=options, job=job)
    elif frontier.state(run).get("status") != "running":
        raise FrontierError(f"crawl {run} is not running in the frontier: start a new one")
    first = frontier.add_seeds(run, [asdict(seed) for seed in seeds])
    scope = CrawlScope(ScopeOptions.from_dict(frontier.options(run)), SharedLedger(frontier, run), run)
    spider = SiteSpider(scope=scope)
    queued = 0
    for request in spider.seed_requests(scope, range(first, first + len(seeds))):
        claim = request.meta.pop("claim", None)
        data = RequestCodec.dumps(request.to_dict(spider=spider))
        queued += frontier.push(run, data, request.priority, claim=claim) == 1
    if new and not queued:
        finish_if_empty(frontier, catalog, run)
    return Enqueued(run, new, queued, len(seeds) - queued)


def enqueue_files(frontier: Frontier, catalog: Catalog, files: Iterable[str], *, args: Mapping[str, Any]) -> Enqueued:
    """Start a re-extraction run whose items are WARC file names (relative to each worker's DATA/warc)."""
    names = sorted(set(files))
    run = catalog.start_crawl("reextract", dict(args))
    frontier.open_run(run, "reextract", options={})
    queued = sum(frontier.push(run, RequestCodec.dumps({"file": name})) == 1 for name in names)
    if not queued:
        finish_if_empty(frontier, catalog, run)
    return Enqueued(run, True, queued, len(names) - queued)


def finish_if_empty(frontier: Frontier, catalog: Catalog, run: str) -> bool:
    """End a run that holds nothing (nothing queued, nothing leased): in the frontier, then in the catalog."""
    if not frontier.settle(run):
        return False
    record_ended(frontier, catalog, run)
    return True


def record_ended(frontier: Frontier, catalog: Catalog, run: str) -> str:
    """Record a drained run as ended in the catalog, with every worker's counts, then retire it; return its status.

    Recording twice (two workers that both saw the run drained) writes the same row again.
    """
    status = "cancelled" if frontier.state(run).get("status", "").startswith("cancelled") else "finished"
    catalog.finish_crawl(run, status, frontier.counts(run))
    frontier.retire(run)
    return status
