"""The live crawler: seeds, sitemaps, feeds and links in; records, revisits and redirects out."""

from __future__ import annotations

import asyncio
import logging
import re
import threading
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin

import feedparser
from scrapy import signals
from scrapy.exceptions import DontCloseSpider, DownloadCancelledError, IgnoreRequest
from scrapy.http import Headers, Request, Response, TextResponse
from scrapy.linkextractors import LinkExtractor
from scrapy.responsetypes import responsetypes
from scrapy.spidermiddlewares.httperror import HttpError
from scrapy.utils.sitemap import sitemap_urls_from_robots
from twisted.internet.defer import CancelledError
from twisted.python.failure import Failure

from archive.crawl.items import CaptureFailure, ExchangeItem, HttpErrorItem, RevisitItem
from archive.crawl.requisites import Requisite, allot, css_requisites, html_requisites
from archive.crawl.responses import archived_response, capture_from_response
from archive.crawl.scope import CAPPED, FETCH, CrawlScope, LocalLedger, ScopeOptions
from archive.crawl.seeds import Seed
from archive.crawl.sitemaps import INDEX, IndexCache, SitemapError, read_sitemap
from archive.warc.sources import SourceError, decode_content
from scraper import media_kind
from scraper.capture import HTML_TYPES
from scraper.urls import is_robots_txt
from spiders._args import as_flag, as_list, as_number, as_seeds
from spiders.base import ArchiveSpider

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

__all__ = ["SiteSpider"]

logger = logging.getLogger(__name__)

_HTML_LIKE = HTML_TYPES | {"text/plain"}
_FEED_TYPES = ("application/rss+xml", "application/atom+xml", "application/rdf+xml")
_FEED_HEAD = re.compile(rb"<(?:rss|feed|rdf:RDF)\b", re.IGNORECASE)
_SITEMAP_HEAD = re.compile(rb"<(?:urlset|sitemapindex)\b", re.IGNORECASE)
_SITEMAP_MAX_BYTES = 64 * 1024 * 1024
_MAX_SITEMAP_DEPTH = 5  # sitemap indexes nested deeper than this (or pointing at themselves) stop
SITEMAPS_AHEAD = 2  # child sitemaps of one index asked for at once (ARCHIVE_SITEMAPS_AHEAD)
LINKS_PER_PAGE = 10_000  # links a page may give the crawl, in document order (ARCHIVE_LINKS_PER_PAGE)
_PACE = 256  # requests handed to Scrapy between turns of the reactor
PAGES_PER_BATCH = 500  # a sitemap's pages queued at a time; more as the queue runs low (ARCHIVE_SITEMAP_BATCH)
_CSS_TYPES = ("text/css",)
_BUILD_RECORD = object()  # yielded by _page where the page's record goes: route builds it (maybe in a worker)
# The spider's `archived`, set by the archive pipeline: a URL's latest capture (status, headers, body as stored).
_Archived = Callable[[str], tuple[int, list[tuple[str, str]], bytes] | None]


class SiteSpider(ArchiveSpider):
    """Fetch seeds; follow sitemaps, feeds and links within limits; archive HTML-like pages.

    Limits: `depth` link hops from a page seed (a seed may set its own), same site unless
    `any_site`, allow/deny domains and URL patterns, at most `max_pages` pages in all and
    `max_per_site` per site. Non-HTML responses are skipped, or archived raw with `archive_other`.
    With `discover_feeds`, the RSS/Atom feeds a seed page advertises are crawled too. With
    `requisites`, each HTML page's stylesheets, scripts, images, media and fonts (and what its
    stylesheets load) are fetched once per crawl and archived as exchanges, within a cap per page
    (`requisites_per_page`), a size cap per requisite (`requisite_max_bytes`) and the page's site
    unless `requisites_any_site` (ScopeOptions).
    """

    name = "site"

    def __init__(
        self,
        seeds: Sequence[Seed] | str = (),
        *,
        depth: int | str = 1,
        any_site: bool = False,
        allow_domains: Sequence[str] = (),
        deny_domains: Sequence[str] = (),
        allow: Sequence[str] = (),
        deny: Sequence[str] = (),
        max_pages: int | None = None,
        max_per_site: int | None = None,
        archive_other: bool = False,
        discover_feeds: bool = False,
        requisites: bool = False,
        requisites_per_page: int | None = None,
        requisite_max_bytes: int | None = None,
        requisites_any_site: bool = False,
        scope: CrawlScope | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        seeds = as_seeds(seeds)  # `scrapy crawl site -a seeds=URL,URL -a depth=2`: arguments come as text
        options = ScopeOptions.from_dict(  # None: the option's default
            {
                "depth": as_number("depth", depth),
                "any_site": as_flag("any_site", any_site),
                "allow_domains": as_list(allow_domains),
                "deny_domains": as_list(deny_domains),
                "allow": as_list(allow),
                "deny": as_list(deny),
                "max_pages": as_number("max_pages", max_pages),
                "max_per_site": as_number("max_per_site", max_per_site),
                "archive_other": as_flag("archive_other", archive_other),
                "discover_feeds": as_flag("discover_feeds", discover_feeds),
                "requisites": as_flag("requisites", requisites),
                "requisites_per_page": as_number("requisites_per_page", requisites_per_page),
                "requisite_max_bytes": as_number("requisite_max_bytes", requisite_max_bytes),
                "requisites_any_site": as_flag("requisites_any_site", requisites_any_site),
            }
        )
        # A crawl in this process has one scope; a frontier worker asks its worker for each crawl's.
        self.scope = scope or CrawlScope(options, LocalLedger(seeds))
        self.seeds = list(seeds)
        self.links = LinkExtractor(unique=True)  # every link; CrawlScope.in_scope is the one rule for what is followed
        self.links_per_page = LINKS_PER_PAGE
        self.sitemaps_ahead = SITEMAPS_AHEAD
        self.indexes = IndexCache()  # the children of sitemap indexes read, each asked for when the one before is read
        self.offload = False  # parse in threads (a running crawl); else inline, for callers with no reactor
        self.sitemap_batch = PAGES_PER_BATCH
        # Sitemaps read but not yet all queued: (request meta, their page URLs, how far queued).
        self.unqueued: deque[tuple[dict[str, Any], list[str], int]] = deque()
        self._counting = threading.Lock()

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> SiteSpider:
        spider = super().from_crawler(crawler, *args, **kwargs)
        assert isinstance(spider, SiteSpider)
        settings = crawler.settings
        spider.links_per_page = max(0, settings.getint("ARCHIVE_LINKS_PER_PAGE", LINKS_PER_PAGE))
        spider.sitemaps_ahead = max(1, settings.getint("ARCHIVE_SITEMAPS_AHEAD", SITEMAPS_AHEAD))
        spider.sitemap_batch = max(1, settings.getint("ARCHIVE_SITEMAP_BATCH", PAGES_PER_BATCH))
        spider.offload = True
        crawler.signals.connect(spider._on_idle, signal=signals.spider_idle)
        return spider

    async def start(self) -> AsyncIterator[Request]:
        if self.frontier_worker is not None:  # seeds reach a shared frontier through `scraper enqueue`
            return
        for request in self.seed_requests(self.scope, range(len(self.seeds))):
            yield request

    def seed_requests(self, scope: CrawlScope, indexes: Iterable[int]) -> Iterator[Request]:
        """Yield the requests of a crawl's seeds (those its scope takes: new, in scope, under its caps)."""
        for index in indexes:
            seed = scope.seed(index)
            request = self._request(
                scope, seed.url, seed.kind, scope.seed_depth(seed), index, sitemap_depth=0, from_seed=True
            )
            if request is not None:
                yield request

    def scope_of(self, meta: dict[str, Any]) -> CrawlScope:
        """Return the scope of the crawl a request belongs to."""
        run = meta.get("crawl")
        if run is None or self.frontier_worker is None:
            return self.scope
        return self.frontier_worker.scope(run)

    # --- dispatch -----------------------------------------------------------------------

    async def route(self, response: Response) -> AsyncIterator[Any]:
        """Handle a response by what it was fetched as, or (for `auto`) by what it turns out to be."""
        try:
            async for item in self._route(response):
                yield self.tagged(item, response.meta)
        finally:  # everything it gave is with the pipeline or the scheduler now
            self.request_done(response.meta)
            self._queue_sitemap_pages(low=self.sitemap_batch // 4)

    async def _route(self, response: Response) -> AsyncIterator[Any]:
        kind = response.meta["kind"]
        if kind == "auto":
            kind = self._sniff(response)
        if kind in ("robots", "sitemap", "feed") and not response.meta.get("archive_resumed"):
            # What the crawl was steered by goes into the WARC too (as fetched, no record).
            yield ExchangeItem(capture_from_response(response), "discovery")
        found: Iterable[Any]
        if self.offload and not (kind == "page" and response.status == 304):  # a 304 reads the archive: here
            # Parsing links, sitemaps and feeds takes seconds on a large page: never on the reactor thread.
            found = await self.in_thread(self._found, response, kind)
        else:
            found = self._found(response, kind)
        for count, item in enumerate(found, 1):
            # A page's record is built in a worker process when a pool runs (ArchiveSpider.build).
            yield await self.build(response) if item is _BUILD_RECORD else item
            if count % _PACE == 0:  # thousands of requests: let downloads in between
                await asyncio.sleep(0)

    def _found(self, response: Response, kind: str) -> list[Any]:
        """Return what a response of `kind` gives the crawl: items, requests, and where its record goes."""
        if kind == "robots":
            return list(self._robots(response))
        if kind == "sitemap":
            return list(self._sitemap(response))
        if kind == "feed":
            return list(self._feed(response))
        if kind == "requisite":
            return list(self._requisite(response))
        return list(self._page(response))

    def _sniff(self, response: Response) -> str:
        if is_robots_txt(response.url):
            return "robots"
        media, _ = media_kind((response.headers.get("Content-Type") or b"").decode("latin-1"))
        head = response.body[:2048]
        if media in _FEED_TYPES or _FEED_HEAD.search(head):
            return "feed"
        if _SITEMAP_HEAD.search(head) or response.body[:2] == b"\x1f\x8b" or response.url.endswith(".xml.gz"):
            return "sitemap"
        return "page"

    # --- discovery ----------------------------------------------------------------------

    def _robots(self, response: Response) -> Iterator[Request]:
        meta = response.meta
        scope = self.scope_of(meta)
        for url in sitemap_urls_from_robots(response.body, base_url=response.url):
            request = self._request(scope, url, "sitemap", meta["hops_left"], meta["seed"], sitemap_depth=1)
            if request is not None:
                yield request

    def _sitemap(self, response: Response) -> Iterator[Any]:
        """Request a sitemap's pages while the crawl wants more, or an index's first few children.

        An index's children are asked for `sitemaps_ahead` at a time: each one read (or failed)
        asks for the next, behind the pages already queued, until the crawl's page caps are reached.
        """
        meta = response.meta
        try:
            sitemap = read_sitemap(response.body, _SITEMAP_MAX_BYTES)
        except SitemapError as exc:  # named; the crawl, and the index this sitemap came from, go on
            yield CaptureFailure(response.url, str(exc))
            yield from self._next_sitemap(meta)
            return
        scope = self.scope_of(meta)
        if sitemap.kind == INDEX:
            if meta["sitemap_depth"] >= _MAX_SITEMAP_DEPTH:
                yield CaptureFailure(response.url, f"sitemap index nested deeper than {_MAX_SITEMAP_DEPTH} levels")
                yield from self._next_sitemap(meta)
                return
            self.indexes.put(response.url, sitemap.locs)
            resume = meta.get("sitemap_resume")  # read again for a chain whose index this process had not read
            ahead = 1 if resume is not None else self.sitemaps_ahead
            yield from self._children(scope, response.url, meta, resume or 0, ahead)
            return
        yield from self._sitemap_pages(meta, sitemap.locs, 0)

    def _sitemap_pages(self, meta: dict[str, Any], locs: list[str], start: int) -> Iterator[Request]:
        """Request a sitemap's pages from `start` while the crawl wants more, a batch at a time; then its next sibling.

        In one process, what is left after a batch waits here (`unqueued`) until the queue runs
        low; a shared frontier queues it all, where every worker can take it.
        """
        scope = self.scope_of(meta)
        seed = meta["seed"]
        depth = scope.entry_depth(seed)
        batch = self.sitemap_batch if self.offload and self.frontier_worker is None else len(locs)
        position = start
        while position < len(locs) and batch > 0:
            if not scope.wants_pages(seed) or (position % _PACE == 0 and self.closing()):
                return
            request = self._request(scope, locs[position], "page", depth, seed, sitemap_depth=0)
            position += 1
            if request is not None:
                batch -= 1
                yield request
        if position < len(locs):
            self.unqueued.append((meta, locs, position))
        else:
            yield from self._next_sitemap(meta)

    def _queue_sitemap_pages(self, low: int) -> bool:
        """Queue the next batch of a sitemap's pages when fewer than `low` requests wait; return whether it did."""
        engine = getattr(getattr(self, "crawler", None), "engine", None)
        slot = getattr(engine, "_slot", None)
        if engine is None or slot is None or not self.unqueued or self.closing():
            return False
        if len(slot.scheduler) >= low:
            return False
        meta, locs, position = self.unqueued.popleft()
        queued = False
        for request in self._sitemap_pages(meta, locs, position):
            engine.crawl(request)
            queued = True
        return queued

    def _on_idle(self) -> None:
        """Keep the crawl open while a sitemap still has pages to queue."""
        while self.unqueued and not self.closing():  # a sitemap whose batch queues nothing gives way to the next
            if self._queue_sitemap_pages(low=1):
                raise DontCloseSpider

    def _next_sitemap(self, meta: dict[str, Any]) -> Iterator[Request]:
        """Ask for the next child of the index a child sitemap came from (if any, and if pages are still wanted)."""
        index = meta.get("sitemap_index")
        if index is None:
            return
        index_meta = {**meta, "sitemap_depth": meta["sitemap_depth"] - 1}
        yield from self._children(self.scope_of(meta), index, index_meta, meta["sitemap_position"] + 1, 1)

    def _children(
        self, scope: CrawlScope, index: str, meta: dict[str, Any], start: int, count: int
    ) -> Iterator[Request]:
        """Request up to `count` child sitemaps of `index` from position `start`, each marked with its place."""
        children = self.indexes.get(index)
        if children is None:  # read by another worker, or forgotten: read it again, to go on from `start`
            again: dict[str, Any] = {k: meta[k] for k in ("hops_left", "seed", "sitemap_depth") if k in meta}
            again.update(kind="sitemap", from_seed=False, sitemap_resume=start)
            if scope.run is not None:
                again["crawl"] = scope.run
            yield Request(index, callback=self.route, errback=self.on_error, meta=again, dont_filter=True, priority=-1)
            return
        for position in range(start, len(children)):
            if count <= 0 or not scope.wants_pages(meta["seed"]) or self.closing():
                return
            request = self._request(
                scope,
                children[position],
                "sitemap",
                meta["hops_left"],
                meta["seed"],
                sitemap_depth=meta["sitemap_depth"] + 1,
                priority=-1,  # behind the pages already queued: a sitemap is read when they are taken
            )
            if request is not None:
                request.meta.update(sitemap_index=index, sitemap_position=position)
                count -= 1
                yield request

    def _feed(self, response: Response) -> Iterator[Any]:
        meta = response.meta
        # feedparser resolves no external entities and caps nothing; the body is already bounded
        # by DOWNLOAD_MAXSIZE. A malformed feed still yields what entries it could read.
        parsed = feedparser.parse(response.body, response_headers={"content-location": response.url})
        entries = parsed.get("entries", [])
        if not entries and parsed.get("bozo"):
            yield CaptureFailure(response.url, f"unreadable feed: {parsed.get('bozo_exception')}")
            return
        scope = self.scope_of(meta)
        depth = scope.entry_depth(meta["seed"])
        for entry in entries:
            for url in _entry_links(entry):
                request = self._request(scope, urljoin(response.url, url), "page", depth, meta["seed"], sitemap_depth=0)
                if request is not None:
                    yield request

    def _page(self, response: Response) -> Iterator[Any]:
        if response.status == 304:
            yield RevisitItem(capture_from_response(response))
            archived = self._archived_copy(response)  # unchanged, so its links are the archived copy's
            if archived is not None:
                yield from self._page_requisites(archived)
                yield from self._follow(archived)
            return
        media, _ = media_kind((response.headers.get("Content-Type") or b"").decode("latin-1"))
        html_like = media in _HTML_LIKE or (media is None and isinstance(response, TextResponse))
        if not html_like:
            self._count("crawl/skipped_not_html")
            if self.scope_of(response.meta).options.archive_other and not response.meta.get("archive_resumed"):
                yield ExchangeItem(capture_from_response(response), "other")
            return
        if not response.meta.get("archive_resumed"):
            yield _BUILD_RECORD
        if isinstance(response, TextResponse) and media in HTML_TYPES:
            yield from self._page_requisites(response)
            yield from self._follow(response)

    def _archived_copy(self, response: Response) -> TextResponse | None:
        archived: _Archived | None = getattr(self, "archived", None)
        found = archived(response.url) if archived is not None else None
        if found is None:
            return None
        archived_copy = archived_response(response.url, *found, request=response.request)
        encoding = (archived_copy.headers.get(b"Content-Encoding") or b"").decode("latin-1")
        try:
            body = decode_content(archived_copy.body, encoding)
        except SourceError:
            return None
        # Its class was chosen for the body as stored, still encoded (a gzipped page is a plain Response,
        # which has no links to follow): choose again for the decoded body, as HttpCompressionMiddleware does.
        headers = Headers(archived_copy.headers)
        headers.pop(b"Content-Encoding", None)
        kind = responsetypes.from_args(headers=headers, url=response.url, body=body)
        decoded = archived_copy.replace(cls=kind, headers=headers, body=body)
        return decoded if isinstance(decoded, TextResponse) else None

    def _follow(self, response: TextResponse) -> Iterator[Request]:
        meta = response.meta
        scope = self.scope_of(meta)
        if meta.get("from_seed") and scope.options.discover_feeds:
            # A seed page's own feeds: <link rel="alternate" type="application/rss+xml" href="...">.
            for href in response.xpath("//link[@rel='alternate']").xpath(_FEED_LINK_XPATH).getall():
                request = self._request(scope, response.urljoin(href), "feed", 0, meta["seed"], sitemap_depth=0)
                if request is not None:
                    yield request
        if meta["hops_left"] <= 0:
            return
        links = self.links.extract_links(response)
        if len(links) > self.links_per_page:  # counted and named: a page of 50,000 links is not a mistake to hide
            self._count("crawl/links_capped", len(links) - self.links_per_page)
            logger.warning("%s: %d links, the first %d followed", response.url, len(links), self.links_per_page)
            links = links[: self.links_per_page]
        for link in links:
            request = self._request(scope, link.url, "page", meta["hops_left"] - 1, meta["seed"], sitemap_depth=0)
            if request is not None:
                yield request

    # --- page requisites ------------------------------------------------------------------

    def _page_requisites(self, response: TextResponse) -> Iterator[Request]:
        """Request the page's requisites its crawl takes (in scope, within the per-page cap).

        Each crawl fetches them again, as it does the page (a recrawl or a resumed crawl too): the
        catalog lists pages, not requisites, so only a crawl's own duplicate filter knows them.
        """
        scope = self.scope_of(response.meta)
        if not scope.options.requisites:
            return
        found = html_requisites(response.selector, response.url)
        yield from self._requisite_requests(
            scope, response.meta, response.url, found, scope.options.requisites_per_page
        )

    def _requisite(self, response: Response) -> Iterator[Any]:
        """Archive a requisite as fetched; a stylesheet's own references are requested within its share of the cap."""
        meta = response.meta
        self._count("crawl/requisites")
        yield ExchangeItem(capture_from_response(response), "requisite")
        media, _ = media_kind((response.headers.get("Content-Type") or b"").decode("latin-1"))
        if media not in _CSS_TYPES and not (meta.get("stylesheet") and media in (None, "text/plain")):
            return
        css = response.text if isinstance(response, TextResponse) else response.body.decode("utf-8", "replace")
        scope = self.scope_of(meta)
        found = css_requisites(css, response.url)
        yield from self._requisite_requests(scope, meta, meta["requisite_of"], found, meta.get("requisite_budget", 0))

    def _requisite_requests(
        self, scope: CrawlScope, meta: dict[str, Any], page_url: str, found: list[Requisite], budget: int
    ) -> Iterator[Request]:
        """Return requests for the requisites in scope, the first `budget` of them; count the rest.

        Not claimed like pages: the crawl's duplicate filter (the frontier's, for a shared crawl)
        drops a URL requested before, so a stylesheet fifty pages share is fetched once.
        """
        in_scope = [r for r in found if scope.requisite_in_scope(r.url, page_url)]
        self._count("crawl/requisites_out_of_scope", len(found) - len(in_scope))
        allotted, over = allot(in_scope, budget)
        self._count("crawl/requisites_capped", over)
        maxsize = self._requisite_maxsize(scope)
        for requisite, share in allotted:
            request_meta: dict[str, Any] = {
                "kind": "requisite",
                "hops_left": 0,
                "seed": meta["seed"],
                "sitemap_depth": 0,
                "from_seed": False,
                "requisite_of": page_url,
                "stylesheet": requisite.stylesheet,
                "requisite_budget": share,
                "download_maxsize": maxsize,
            }
            if scope.run is not None:
                request_meta["crawl"] = scope.run
            # Ahead of further pages, so a page and what it renders with are fetched close together.
            yield Request(requisite.url, callback=self.route, errback=self.on_error, meta=request_meta, priority=1)

    def _requisite_maxsize(self, scope: CrawlScope) -> int:
        """Return the size cap of one requisite: the crawl's, within this process's body limit (DOWNLOAD_MAXSIZE)."""
        crawler = getattr(self, "crawler", None)
        limit = crawler.settings.getint("DOWNLOAD_MAXSIZE") if crawler is not None else 0
        cap = scope.options.requisite_max_bytes
        return min(cap, limit) if limit > 0 else cap

    def _requisite_failed(self, failure: Failure, request: Request) -> None:
        """Count a requisite that did not arrive: too large, or failed (an HTTP error, a refusal, a timeout)."""
        reason = str(failure.value) or type(failure.value).__name__
        if isinstance(failure.value, HttpError):
            reason = f"HTTP {failure.value.response.status}"
        # Scrapy cancels a download only at its size cap (download_maxsize): up front, naming the size a
        # Content-Length promised, or without a word once the bytes received pass it.
        too_large = isinstance(failure.value, (CancelledError, DownloadCancelledError))
        if too_large and not reason.startswith("Expected"):
            reason = f"larger than its size cap ({request.meta.get('download_maxsize')} bytes)"
        self._count("crawl/requisites_too_large" if too_large else "crawl/requisites_failed")
        logger.info("requisite not archived: %s: %s", request.url, reason)

    # --- requests and limits --------------------------------------------------------------

    def _request(
        self,
        scope: CrawlScope,
        url: str,
        kind: str,
        depth: int,
        seed: int,
        *,
        sitemap_depth: int,
        from_seed: bool = False,
        priority: int = 0,
    ) -> Request | None:
        """Return the request for a URL the crawl's scope takes (new, in scope, under its caps), else None.

        In one process a seed's own page is fetched even when seen; a shared crawl fetches a URL once,
        however often it is enqueued. Seeds count against the caps too: they come first, so they are kept.
        """
        verdict, claim = scope.admit(url, kind, seed, again=from_seed and scope.run is None)
        if verdict == CAPPED:
            self._count("crawl/capped")
        if verdict != FETCH:
            return None
        meta: dict[str, Any] = {
            "kind": kind,
            "hops_left": depth,
            "seed": seed,
            "sitemap_depth": sitemap_depth,
            "from_seed": from_seed,
        }
        if kind in ("page", "auto"):
            meta["archive_page"] = True
        if scope.run is not None:
            meta["crawl"] = scope.run
            meta["claim"] = claim  # taken when the frontier queues the request (archive.frontier.store)
        # Sitemaps and feeds are visited once per crawl, however many indexes point at them.
        return Request(
            url, callback=self.route, errback=self.on_error, meta=meta, dont_filter=from_seed, priority=priority
        )

    def _count(self, key: str, amount: int = 1) -> None:
        crawler = getattr(self, "crawler", None)  # `scraper enqueue` builds seed requests with no crawler
        if amount and crawler is not None and crawler.stats is not None:
            with self._counting:  # parse threads count too
                crawler.stats.inc_value(key, amount)

    def _failed(self, failure: Failure) -> Iterator[Any]:
        """Name the URL and the reason; robots.txt refusals are policy, counted but not failures.

        A child sitemap that failed still asks for the next child of its index.
        """
        request = getattr(failure, "request", None)
        if request is not None:
            yield from self._next_sitemap(request.meta)
        if isinstance(failure.value, IgnoreRequest) and "robots.txt" in str(failure.value):
            self._count("crawl/robots_forbidden")
            return
        request = getattr(failure, "request", None)
        if request is not None and request.meta.get("kind") == "requisite":  # counted, not a page's failure
            self._requisite_failed(failure, request)
            return
        if isinstance(failure.value, HttpError):
            response = failure.value.response
            if request is not None and not request.meta.get("from_seed"):  # the site's answer to a link it gave
                yield HttpErrorItem(response.url, f"HTTP {response.status}", status=response.status)
            else:  # a URL the user gave: theirs to look at
                yield CaptureFailure(response.url, f"HTTP {response.status}")
            return
        yield from super()._failed(failure)


_FEED_LINK_XPATH = "@href[" + " or ".join(f"../@type='{t}'" for t in _FEED_TYPES) + "]"


def _entry_links(entry: Any) -> list[str]:
    links = [link.get("href") for link in entry.get("links", ()) if link.get("rel", "alternate") == "alternate"]
    if entry.get("link"):
        links.insert(0, entry["link"])
    return list(dict.fromkeys(link for link in links if link))
