"""A frontier run's end, recorded in the catalog: the step every worker and `scraper frontier` share."""

from __future__ import annotations

from archive.catalog.facade import Catalog
from archive.frontier.store import Frontier

__all__ = ["finish_if_empty", "record_ended"]


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
