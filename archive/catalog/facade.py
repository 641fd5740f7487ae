"""The SQL catalog: what was extracted, and where in the WARC files the source lives.

`Catalog` is a thin facade: each method is one call into the module that does the work
(engine, schema, runs, captures, ingest, site_lines, search, similarity). Calls a crawl makes
while it runs retry while a PostgreSQL server restarts; writes retry on a deadlock.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from archive.catalog import captures, runs, schema, search, site_lines
from archive.catalog.captures import AmbiguousId
from archive.catalog.engine import make_engine, reconnecting, retrying_deadlocks
from archive.catalog.filters import SearchFilters
from archive.catalog.runs import CrawlRun
from archive.catalog.search import SearchHit

if TYPE_CHECKING:
    from archive.catalog.similarity import Similar, Story
    from scraper import Record

__all__ = ["AmbiguousId", "Catalog", "CrawlRun", "SearchHit"]

NO_FILTERS = SearchFilters()


class Catalog:
    """Reads and writes the catalog at one SQLAlchemy URL."""

    def __init__(self, url: str, *, writing: bool = False) -> None:
        """Open the catalog at `url`; `writing`: for a run that archives (engine.make_engine)."""
        self.url = url
        self.engine = make_engine(url, writing=writing)
        self.dialect = self.engine.dialect.name

    def close(self) -> None:
        """Release the connection pool."""
        self.engine.dispose()

    def migrate(self) -> None:
        """Bring the schema to the newest revision (creating it on an empty database)."""
        schema.migrate(self.engine, self.url)

    # --- Runs ---------------------------------------------------------------------------------

    @reconnecting
    def start_crawl(self, kind: str, args: dict[str, Any], *, owned: bool = True) -> str:
        """Return the id of a new run row for a run that starts now (`owned`: by this process, not a frontier's)."""
        return runs.start(self.engine, kind, args, owned=owned)

    @reconnecting
    def beat_crawl(self, crawl_id: str) -> None:
        """Note that the process running `crawl_id` is alive now."""
        runs.beat(self.engine, crawl_id)

    @reconnecting
    def close_dead_crawls(self, *, dry_run: bool = False) -> list[CrawlRun]:
        """Mark running runs whose process died `interrupted`, counts re-read from what they archived; return them."""
        return runs.close_dead(self.engine, dry_run=dry_run)

    @reconnecting
    def finish_crawl(self, crawl_id: str, status: str, counts: dict[str, Any]) -> None:
        """Record how a run ended and what it counted."""
        runs.finish(self.engine, crawl_id, status, counts)

    @reconnecting
    def ensure_crawls(self, crawl_ids: Iterable[str]) -> None:
        """Add a row for each run id the catalog lacks (captures re-indexed from WARC files name their run)."""
        runs.ensure(self.engine, crawl_ids)

    @reconnecting
    def resume_crawl(self, crawl_id: str) -> str:
        """Reopen the crawl with this id to continue it; return the id."""
        return runs.resume(self.engine, crawl_id)

    def resumable(self, crawl_id: str) -> CrawlRun | None:
        """Return the crawl `crawl_id` (an id or its prefix; "latest": the newest unfinished crawl)."""
        return runs.resumable(self.engine, crawl_id)

    def find_crawl(self, crawl_id: str) -> CrawlRun | None:
        """Return the run with this id or id prefix ("latest": the newest run of any kind)."""
        return runs.find(self.engine, crawl_id)

    def crawls(self, limit: int = 50) -> list[CrawlRun]:
        """Return the newest runs first."""
        return runs.newest(self.engine, limit)

    @reconnecting
    def add_problems(self, crawl_id: str, found: Iterable[runs.Problem]) -> None:
        """Keep what run `crawl_id` met (inputs that failed, pages answered with an HTTP error)."""
        runs.add_problems(self.engine, crawl_id, found)

    def problems(self, crawl_id: str, *, kind: str | None = None, limit: int | None = None) -> list[runs.Problem]:
        """Return what run `crawl_id` met, in order (`kind`: "failed" or "http" only)."""
        return runs.problems(self.engine, crawl_id, kind=kind, limit=limit)

    # --- Captures -----------------------------------------------------------------------------

    @reconnecting
    def add_records(self, records: Sequence[Record]) -> int:
        """Insert records (their WARC records already durable); return how many were new.

        A PostgreSQL deadlock or serialization failure is retried (the inserts are idempotent).
        """
        from archive.catalog import ingest

        return retrying_deadlocks(lambda: ingest.add_records(self.engine, records))

    @reconnecting
    def replace_extractions(self, records: Sequence[Record]) -> int:
        """Give captures the catalog holds their new extraction (its WARC records durable); return how many it held."""
        from archive.catalog import ingest

        return retrying_deadlocks(lambda: ingest.replace_extractions(self.engine, records))

    def forget_captures(self, ids: Iterable[str]) -> int:
        """Delete captures whose WARC records are lost (repair only); return how many."""
        return captures.forget(self.engine, ids)

    @reconnecting
    def known_captures(self, ids: Iterable[str]) -> set[str]:
        """Return which of `ids` the catalog already holds."""
        return captures.known(self.engine, ids)

    @reconnecting
    def add_revisits(self, rows: Sequence[dict[str, Any]]) -> None:
        """Name revisits written, their WARC records durable (see captures.add_revisits); deadlocks retried."""
        retrying_deadlocks(lambda: captures.add_revisits(self.engine, rows))

    @reconnecting
    def revisited(self, url: str, captured_at: str) -> bool:
        """Return whether the archive holds a revisit of `url` taken at `captured_at`."""
        return captures.revisited(self.engine, url, captured_at)

    @reconnecting
    def captures_of_raw_records(self, record_ids: Collection[str]) -> dict[str, str]:
        """Return, by WARC-Record-ID, the capture whose raw record it is (of those the catalog holds)."""
        return captures.captures_of_raw_records(self.engine, record_ids)

    @reconnecting
    def revisits_of(self, capture_ids: Collection[str]) -> dict[str, list[tuple[str, str]]]:
        """Return (time, profile) of each revisit of these captures, oldest first, by capture id."""
        return captures.revisits_of(self.engine, capture_ids)

    @reconnecting
    def get(self, record_id: str) -> Record | None:
        """Return the record with this id (or unique id prefix of 6+ characters), or None."""
        return captures.get(self.engine, record_id)

    def history(self, url: str) -> list[tuple[Record, str | None]]:
        """Return every capture of the URL's canonical form, oldest first, with the capture it replaced."""
        return captures.history(self.engine, url)

    @reconnecting
    def latest_capture(self, url: str) -> Record | None:
        """Return the newest capture fetched from `url` (or, failing that, of its canonical form)."""
        return captures.latest(self.engine, url)

    @reconnecting
    def validators(self, url: str) -> tuple[str | None, str | None] | None:
        """Return (ETag, Last-Modified) the latest live capture of `url` was served with, if any."""
        return captures.validators(self.engine, url)

    @reconnecting
    def captured_in_crawl(self, crawl_id: str, url: str) -> Record | None:
        """Return the capture of `url` this crawl archived, if it did."""
        return captures.captured_in_crawl(self.engine, crawl_id, url)

    @reconnecting
    def capture_at(self, file: str, offset: int) -> Record | None:
        """Return the capture whose raw record is at `offset` in WARC file `file` (a name), if any."""
        return captures.capture_at(self.engine, file, offset)

    def capture_of(self, url: str, captured_at: str) -> Record | None:
        """Return the capture fetched from `url` at exactly `captured_at` (what a revisit refers to)."""
        return captures.capture_of(self.engine, url, captured_at)

    def crawl_records(self, crawl_id: str) -> list[Record]:
        """Return the records a run archived, in capture order."""
        return captures.crawl_records(self.engine, crawl_id)

    def raw_files(self, crawl_id: str | None = None) -> list[str]:
        """Return the WARC files holding captures' raw records (of one run, if given), by name."""
        return captures.raw_files(self.engine, crawl_id)

    def iter_records(self, batch: int = 500) -> Iterator[Record]:
        """Yield every record, oldest capture first, in batches."""
        return captures.iter_records(self.engine, batch)

    def count(self) -> dict[str, int]:
        """Return how many crawls, documents and captures the catalog holds."""
        return captures.count(self.engine)

    # --- Cross-capture evidence ---------------------------------------------------------------

    @reconnecting
    def count_site_lines(self, site: str, url: str, keys: Collection[str]) -> bool:
        """Count the line keys of one page of `site` as evidence; False if `url` was counted before."""
        return site_lines.count_page(self.engine, site, url, keys)

    @reconnecting
    def recurring(self, site: str, url: str, keys: Collection[str]) -> set[str]:
        """Return the keys among `keys` seen on enough other pages of `site` to be its furniture."""
        return site_lines.recurring(self.engine, site, url, keys)

    # --- Search and similarity ----------------------------------------------------------------

    def search(
        self,
        query: str | None = None,
        filters: SearchFilters = NO_FILTERS,
        *,
        versions: bool = False,
        sort: str = "relevance",
        limit: int = 20,
        offset: int = 0,
    ) -> list[SearchHit]:
        """Return records matching the full-text `query` and `filters`, in `sort` order, one page of them."""
        return search.search(self.engine, query, filters, versions=versions, sort=sort, limit=limit, offset=offset)

    def similar(self, record_id: str) -> list[Similar] | None:
        """Return what shares the text or story of a record (None when no record has this id or prefix)."""
        from archive.catalog import similarity

        record = self.get(record_id)
        return similarity.similar(self.engine, record.id) if record is not None else None

    def stories(
        self, filters: SearchFilters = NO_FILTERS, *, min_size: int = 2, limit: int | None = None
    ) -> list[Story]:
        """Return groups of documents that tell one story, largest first; `filters` narrow them as `search`'s do."""
        from archive.catalog import similarity

        return similarity.stories(self.engine, filters, min_size=min_size, limit=limit)
