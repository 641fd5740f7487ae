"""What a crawl may fetch: its seeds, its scope rules and its page limits, kept in this process or in the frontier.

One rule set serves a crawl in one process (LocalLedger: sets and counters here) and a crawl
shared by many workers (SharedLedger: the same sets and counters in the frontier, where a URL is
taken in the Redis step that queues its request), so a page is fetched once and a cap holds
however many workers run.
"""

from __future__ import annotations

import re
import threading
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlsplit

from archive.crawl.seeds import Seed
from scraper import normalize_url, site_of

if TYPE_CHECKING:
    from archive.frontier.store import Frontier

__all__ = [
    "CAPPED",
    "DEFAULT_REQUISITES_PER_PAGE",
    "DEFAULT_REQUISITE_MAX_BYTES",
    "FETCH",
    "OUT",
    "SEEN",
    "CrawlScope",
    "LocalLedger",
    "ScopeOptions",
    "SharedLedger",
]

# What admit() says of a URL.
FETCH, SEEN, CAPPED, OUT = "fetch", "seen", "capped", "out"
DEFAULT_REQUISITES_PER_PAGE = 100
DEFAULT_REQUISITE_MAX_BYTES = 16 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class ScopeOptions:
    """A crawl's rules: link hops, which sites and URLs, how many pages, what else to archive.

    With `requisites`, each archived page's stylesheets, scripts, images, media and fonts are
    fetched too (archive.crawl.requisites): at most `requisites_per_page` of them (with those its
    stylesheets load), each at most `requisite_max_bytes`, from the page's own site (and the
    allowed domains) unless `requisites_any_site`.
    """

    depth: int = 1
    any_site: bool = False
    allow_domains: tuple[str, ...] = ()
    deny_domains: tuple[str, ...] = ()
    allow: tuple[str, ...] = ()
    deny: tuple[str, ...] = ()
    max_pages: int | None = None
    max_per_site: int | None = None
    archive_other: bool = False
    discover_feeds: bool = False
    requisites: bool = False
    requisites_per_page: int = DEFAULT_REQUISITES_PER_PAGE
    requisite_max_bytes: int = DEFAULT_REQUISITE_MAX_BYTES
    requisites_any_site: bool = False

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ScopeOptions:
        """Return the options in `data` (other keys, such as a crawl's politeness, are ignored)."""
        known = {f.name for f in fields(cls)}
        given = {k: v for k, v in data.items() if k in known and v is not None}
        for key in ("allow_domains", "deny_domains", "allow", "deny"):
            if key in given:
                given[key] = tuple(given[key])
        return cls(**given)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Ledger(Protocol):
    """Where a crawl keeps its seeds, and takes the pages and discovery documents it fetches (its claims)."""

    def seed(self, index: int) -> Seed: ...

    def claim(self, ticket: Mapping[str, Any]) -> int | None:
        """Return 1 (taken: fetch it), 0 (seen) or -1 (over a cap); None: taken when its request is queued."""
        ...

    def taken(self, seed: int) -> tuple[int, int] | None:
        """Return the pages taken by the crawl and through `seed`, or None where they are not counted here."""
        ...


class LocalLedger:
    """A crawl's ledger in this process."""

    def __init__(self, seeds: Sequence[Seed]) -> None:
        self.seeds = list(seeds)
        self.pages: set[str] = set()
        self.discovery: set[str] = set()
        self.per_site: Counter[str] = Counter()
        self.per_seed: Counter[int] = Counter()
        self._lock = threading.Lock()  # links, sitemaps and feeds are read in several threads

    def seed(self, index: int) -> Seed:
        return self.seeds[index]

    def taken(self, seed: int) -> tuple[int, int]:
        return len(self.pages), self.per_seed[seed]

    def claim(self, ticket: Mapping[str, Any]) -> int:
        """Take a URL for the crawl, as the frontier's push script does (archive.frontier.store)."""
        with self._lock:
            return self._claim(ticket)

    def _claim(self, ticket: Mapping[str, Any]) -> int:
        key = ticket["key"]
        if ticket["kind"] == "discovery":
            if key in self.discovery or key in self.pages:  # a seed of kind auto is a page so far
                return 0
            self.discovery.add(key)
            return 1
        site, seed = ticket["site"], ticket["seed"]
        max_pages, max_site, max_seed = ticket["caps"]
        if key in self.pages and not ticket["again"]:
            return 0
        if (
            (max_pages is not None and len(self.pages) >= max_pages)
            or (max_site is not None and self.per_site[site] >= max_site)
            or (max_seed is not None and self.per_seed[seed] >= max_seed)
        ):
            return -1
        self.pages.add(key)
        self.per_site[site] += 1
        self.per_seed[seed] += 1
        return 1


class SharedLedger:
    """A crawl's ledger in the frontier: a URL is taken in the same Redis step that queues its request.

    Taking it when the link is found would lose it if the worker died before queueing it: the
    page that linked to it is fetched again by another worker, which would find it taken.
    """

    def __init__(self, frontier: Frontier, run: str) -> None:
        self.frontier = frontier
        self.run = run
        self.seeds: list[Seed] = []

    def seed(self, index: int) -> Seed:
        if index >= len(self.seeds):  # seeds enqueued after this worker last looked
            self.seeds.extend(Seed(**s) for s in self.frontier.seeds(self.run, len(self.seeds)))
        return self.seeds[index]

    def claim(self, ticket: Mapping[str, Any]) -> None:
        return None

    def taken(self, seed: int) -> None:  # counted in the frontier, as each request is queued
        return None


class CrawlScope:
    """One crawl's rules over its ledger: which URLs it may fetch, and whether each is new and within its caps.

    `run` is the crawl's id in a shared frontier (None for a crawl in one process).
    """

    def __init__(self, options: ScopeOptions, ledger: Ledger, run: str | None = None) -> None:
        self.options = options
        self.ledger = ledger
        self.run = run
        self.allow_domains = [d.lower() for d in options.allow_domains]
        self.deny_domains = [d.lower() for d in options.deny_domains]
        self.allow_patterns = [re.compile(p) for p in options.allow]
        self.deny_patterns = [re.compile(p) for p in options.deny]

    def seed(self, index: int) -> Seed:
        return self.ledger.seed(index)

    def seed_depth(self, seed: Seed) -> int:
        """Return the link hops a seed's own request may take: its own, else the crawl's for pages, else none."""
        if seed.depth is not None:
            return seed.depth
        return self.options.depth if seed.kind in ("auto", "page") else 0

    def entry_depth(self, seed: int) -> int:
        """Pages listed by a sitemap or feed are archived, their links followed only if the seed says."""
        return self.seed(seed).depth or 0

    def wants_pages(self, seed: int) -> bool:
        """Return False once no further page can be taken through `seed`: the crawl's or the seed's page cap is met.

        A shared crawl counts in the frontier, so here it always wants more (its pushes say no).
        """
        taken = self.ledger.taken(seed)
        if taken is None:
            return True
        crawl_cap, seed_cap = self.options.max_pages, self.seed(seed).max_pages
        return not (
            (crawl_cap is not None and taken[0] >= crawl_cap) or (seed_cap is not None and taken[1] >= seed_cap)
        )

    def admit(self, url: str, kind: str, seed: int, *, again: bool = False) -> tuple[str, dict[str, Any] | None]:
        """Return (FETCH, SEEN, CAPPED or OUT, claim) for a URL found through seed `seed`, taking it when FETCH.

        In a shared crawl the URL is taken when its request is queued: `claim` then goes with the
        request to the frontier (FrontierQueue). `again`: a seed's own page is fetched even when
        seen (a crawl in one process lists each seed once).
        """
        if not url.startswith(("http://", "https://")) or not self.in_scope(url, seed):
            return OUT, None
        key = normalize_url(url)
        ticket: dict[str, Any] = {"kind": "discovery", "key": key}
        if kind in ("page", "auto"):
            caps = [self.options.max_pages, self.options.max_per_site, self.seed(seed).max_pages]
            ticket = {
                "kind": "page",
                "key": key,
                "site": site_of(url) or "",
                "seed": seed,
                "again": again,
                "caps": caps,
            }
        claimed = self.ledger.claim(ticket)
        if claimed is None:
            return FETCH, ticket
        return {1: FETCH, 0: SEEN}.get(claimed, CAPPED), None

    def in_scope(self, url: str, seed: int) -> bool:
        """Return whether the crawl's site, domain and pattern rules let it fetch `url`."""
        host = (urlsplit(url).hostname or "").lower()
        if any(host == d or host.endswith("." + d) for d in self.deny_domains):
            return False
        seed_url = self.seed(seed).url
        if self.allow_domains:
            if not any(host == d or host.endswith("." + d) for d in self.allow_domains):
                return False
        elif not self.options.any_site and site_of(url) != site_of(seed_url):
            return False
        if any(p.search(url) for p in self.deny_patterns):
            return False
        return not self.allow_patterns or any(p.search(url) for p in self.allow_patterns) or url == seed_url

    def requisite_in_scope(self, url: str, page_url: str) -> bool:
        """Return whether the crawl fetches `url` as a requisite of the page at `page_url`.

        Same site as the page, or an allowed domain, unless `requisites_any_site`; denied domains
        and URL patterns hold for requisites too. Page rules (`--allow`, caps) do not apply: a
        requisite is not a page, and it is fetched once per crawl by its request fingerprint.
        """
        if not url.startswith(("http://", "https://")):
            return False
        host = (urlsplit(url).hostname or "").lower()
        if any(host == d or host.endswith("." + d) for d in self.deny_domains):
            return False
        if any(p.search(url) for p in self.deny_patterns):
            return False
        if self.options.requisites_any_site or site_of(url) == site_of(page_url):
            return True
        return any(host == d or host.endswith("." + d) for d in self.allow_domains)
