"""The archive pipeline: WARC first, then the catalog, so the catalog never points at missing bytes."""

from __future__ import annotations

import errno
import json
import logging
import os
from collections import Counter, defaultdict
from collections.abc import Callable, Collection, Iterable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from scrapy import signals
from scrapy.exceptions import NotConfigured
from scrapy.utils.defer import deferred_from_coro
from sqlalchemy.exc import SQLAlchemyError
from twisted.internet.task import LoopingCall

from archive.catalog.facade import Catalog
from archive.catalog.runs import RUN_COUNTS, Problem, died_line
from archive.crawl.items import (
    ArchiveItem,
    CaptureFailure,
    ExchangeItem,
    HttpErrorItem,
    NoTextItem,
    RevisitItem,
    SkippedRecord,
)
from archive.crawl.middlewares import ERROR_RECEIVED, REDIRECT_RECEIVED, TRUNCATED_RECEIVED, running_engine
from archive.crawl.politeness import ROBOTS_RECEIVED
from archive.crawl.scheduler import ARCHIVE_CHECKPOINT, ARCHIVE_COMMITTED
from archive.integrity.repair import reindex_file
from archive.layout import DataLayout, settings_catalog_url
from archive.warc.reader import WarcReadError, read_payload
from archive.warc.recovery import recover_open_files
from archive.warc.writer import DEFAULT_MAX_SIZE, WarcFileWriter
from scraper import Capture, Record, WarcLocation, evidence_scope, iso_utc
from scraper.urls import is_robots_txt

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from scrapy.statscollectors import StatsCollector

__all__ = [
    "SITE_EVIDENCE_MODES",
    "ArchivePipeline",
    "close_dead_runs",
    "recover_into",
]

# off: no cross-capture evidence; text: text captures lose the lines their site repeats
# on other pages; all: HTML captures' extracted text too.
SITE_EVIDENCE_MODES = ("off", "text", "all")

logger = logging.getLogger(__name__)
T = TypeVar("T")
# Errors of the place WARC files go, not of one capture: no later write can succeed either.
_DISK_ERRORS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EFBIG, errno.EACCES, errno.EPERM, errno.EIO}


def _first_line(exc: BaseException) -> str:
    lines = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def _source_of(item: Any) -> str:
    capture = getattr(item, "capture", None)
    return str(getattr(capture, "source_location", None) or getattr(item, "source", "?"))


def recover_into(data_dir: Path, catalog: Catalog, stats: StatsCollector | None = None) -> int:
    """Mend the WARC files killed writers left open under `data_dir` (cut torn tails, re-index); return how many.

    Files a live process holds are left alone.
    """

    def reindex(path: Path) -> None:
        added, problems = reindex_file(path, catalog)
        if stats is not None:
            stats.inc_value("archive/reindexed", added)
        for problem in problems:
            logger.warning("recovery: %s", problem)

    recovered = recover_open_files(DataLayout(data_dir).warc, reindex)
    for name, cut in recovered:
        if stats is not None:
            stats.inc_value("archive/recovered_files")
        if cut:
            if stats is not None:
                stats.inc_value("archive/torn_tails_cut")
            logger.warning("WARC file %s was left open by a killed run: cut %d torn bytes", name, cut)
    return len(recovered)


def close_dead_runs(catalog: Catalog, stats: StatsCollector | None = None) -> list[str]:
    """Mark the runs whose process died `interrupted` (counts re-read from the catalog); return a line on each."""
    lines = [died_line(run) for run in catalog.close_dead_crawls()]
    for line in lines:
        logger.info("%s", line)
    if stats is not None and lines:
        stats.set_value("archive/dead_runs_closed", lines)
    return lines


class ArchivePipeline:
    """Writes each record's WARC records, then commits catalog rows in batches after an fsync.

    A run in one process archives into its own crawl (a row it starts, or resumes). A worker of
    a shared frontier (ARCHIVE_FRONTIER_URL) archives each item into the run its request came
    from, with one WARC file per run, and its frontier worker ends the runs. With
    ARCHIVE_CRAWL_KIND "reextract", captures the catalog holds get their extraction replaced.
    """

    def __init__(self, crawler: Crawler, data_dir: Path, db_url: str) -> None:
        settings = crawler.settings
        self.stats: StatsCollector = crawler.stats
        self.data_dir = data_dir
        self.catalog = Catalog(db_url, writing=True)
        self.commit_every = max(1, settings.getint("ARCHIVE_COMMIT_EVERY", 50))
        self.heartbeat_every = settings.getfloat("ARCHIVE_RUN_HEARTBEAT", 60.0)
        self._heartbeat: LoopingCall | None = None
        self.crawl_kind = settings.get("ARCHIVE_CRAWL_KIND") or "crawl"
        self.crawl_args: dict[str, Any] = dict(settings.getdict("ARCHIVE_CRAWL_ARGS"))
        self.shared = bool(settings.get("ARCHIVE_FRONTIER_URL"))
        worker_id = settings.get("ARCHIVE_WORKER_ID") or (str(os.getpid()) if self.shared else None)
        self.writer_options: dict[str, Any] = {
            "prefix": settings.get("ARCHIVE_WARC_PREFIX", "scraper"),
            "max_size": settings.getint("ARCHIVE_WARC_MAX_SIZE", DEFAULT_MAX_SIZE),
            "info": {**_crawl_info(settings), **settings.getdict("ARCHIVE_WARCINFO")},
            "worker": worker_id,
        }
        self.site_evidence = settings.get("ARCHIVE_SITE_EVIDENCE") or "off"
        if self.site_evidence not in SITE_EVIDENCE_MODES:
            raise ValueError(f"ARCHIVE_SITE_EVIDENCE must be one of {SITE_EVIDENCE_MODES}, not {self.site_evidence!r}")
        self.crawler = crawler
        self.resume_crawl: str | None = settings.get("ARCHIVE_RESUME_CRAWL") or None
        self.status = "running"
        self.crawl_id = ""  # this process's own run ("" for a frontier worker: items name theirs)
        self.writers: dict[str, WarcFileWriter] = {}  # one per run, opened at its first record
        self.retired: list[WarcFileWriter] = []  # their run ended: closed and settled at the next commit
        self.done_writers: list[WarcFileWriter] = []  # closed and settled (kept for the run's summary)
        self.runs: set[str] = set()  # every run this process archived into
        self.pending: list[Record] = []
        self.pending_revisits: list[dict[str, Any]] = []  # revisits written, named in the catalog at the next commit
        self.pending_visits: set[tuple[str, str]] = set()  # their (url, captured_at)
        self.extractions: list[tuple[str, Record]] = []  # (run, re-extracted record), committed with the rest
        self.run_counts: defaultdict[str, Counter[str]] = defaultdict(Counter)  # per run, since the last commit
        self.failures: list[list[str]] = []
        self.problems: defaultdict[str, list[Problem]] = defaultdict(list)  # per run, kept at the next commit
        # Replayed revisits whose original this run has not archived yet (replay runs captures out of order).
        self.deferred: list[tuple[Capture, str, str, tuple[str, str]]] = []

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ArchivePipeline:
        data_dir = crawler.settings.get("ARCHIVE_DATA_DIR")
        if not data_dir:
            raise NotConfigured("ARCHIVE_DATA_DIR is not set: nowhere to write WARC files")
        return cls(crawler, Path(data_dir), settings_catalog_url(crawler.settings))

    def open_spider(self) -> None:
        DataLayout(self.data_dir).check_writable()
        self.catalog.migrate()
        recover_into(self.data_dir, self.catalog, self.stats)
        close_dead_runs(self.catalog, self.stats)
        if self.shared:
            pass  # runs are started by `scraper enqueue` and ended by whichever worker drains them
        elif self.resume_crawl:
            self.crawl_id = self.catalog.resume_crawl(self.resume_crawl)
        else:
            self.crawl_id = self.catalog.start_crawl(self.crawl_kind, self.crawl_args)
        if self.crawl_id and self.heartbeat_every > 0:  # another host's next run tells a live run by its beats
            self._heartbeat = LoopingCall(self._beat)
            self._heartbeat.start(self.heartbeat_every, now=False)
        self.stats.set_value("archive/crawl_id", self.crawl_id or None)
        self.stats.set_value("archive/failures", self.failures)
        spider = self.crawler.spider
        if spider is not None:
            # Live spiders read validators (conditional requests) and, on --resume, what this
            # crawl already archived, from the catalog (archive.crawl.middlewares).
            spider.catalog = self.catalog  # type: ignore[attr-defined]
            spider.archived = self._archived_response  # type: ignore[attr-defined]
            if self.resume_crawl:
                spider.resume_from = lambda url: self._archived_response(url, crawl_id=self.crawl_id)  # type: ignore[attr-defined]
        self.crawler.signals.connect(self._spider_closed, signal=signals.spider_closed)
        self.crawler.signals.connect(self._redirect, signal=REDIRECT_RECEIVED)
        self.crawler.signals.connect(self._robots, signal=ROBOTS_RECEIVED)
        self.crawler.signals.connect(self._error, signal=ERROR_RECEIVED)
        self.crawler.signals.connect(self._truncated, signal=TRUNCATED_RECEIVED)
        self.crawler.signals.connect(self._checkpoint, signal=ARCHIVE_CHECKPOINT)
        if self.site_evidence != "off" and spider is not None:
            # The spider's parse consults the catalog through these (spiders.base.ArchiveSpider).
            spider.site_evidence = self.catalog  # type: ignore[attr-defined]
            spider.evidence_for_html = self.site_evidence == "all"  # type: ignore[attr-defined]

    def process_item(self, item: Any) -> Any:
        try:
            self._dispatch(item)
        except SQLAlchemyError as exc:  # the catalog is gone or full: this capture and every later one
            reason = f"catalog error: {_first_line(exc)}"
            self._fail(_source_of(item), reason, self._run_of(item))
            self._stop(reason)
        return item

    def _run_of(self, item: Any) -> str:
        return getattr(item, "crawl_id", None) or self.crawl_id

    def _dispatch(self, item: Any) -> None:
        run = self._run_of(item)
        if isinstance(item, NoTextItem) and item.capture is not None and item.record is not None:
            if self.crawl_kind == "reextract":
                self._reextract_no_text(item, run)
            else:
                self._archive_no_text(item, run)
        elif isinstance(item, HttpErrorItem):
            self._http_error(item, run)
        elif isinstance(item, CaptureFailure):
            kept = " (the capture keeps its earlier extraction)" if self.crawl_kind == "reextract" else ""
            self._fail(item.source, item.reason + kept, run)
        elif isinstance(item, SkippedRecord):
            self.stats.inc_value(f"replay/warc_skipped/{item.record_type}")
        elif isinstance(item, ArchiveItem):
            if self.crawl_kind == "reextract":
                self._reextract(item, run)
            else:
                self._archive(item, run)
        elif isinstance(item, ExchangeItem):
            self._exchange(item, run)
        elif isinstance(item, RevisitItem):
            self._revisit(item.capture, item.profile, run, refers_to=item.refers_to)

    def _stop(self, reason: str) -> None:
        """Stop the run: what it archived so far stays (committed, or re-indexed by the next run)."""
        if self.status != "running":
            return
        self.status = "failed"
        self.stats.set_value("archive/stopped", reason)
        engine = running_engine(self.crawler)
        if engine is not None and self.crawler.spider is not None:
            deferred_from_coro(engine.close_spider_async(reason="archive_write_failed"))

    def _redirect(self, capture: Capture, crawl_id: str | None = None) -> None:
        self._exchange(ExchangeItem(capture, "redirect"), crawl_id or self.crawl_id)

    def _error(self, capture: Capture, crawl_id: str | None = None) -> None:
        """Archive a 4xx or 5xx answer as it was received (a response record, no catalog page).

        A robots.txt answered so (most often a 404: a site with no rules) is counted with the
        robots.txt the crawl read, so the summary's error answers are the pages' and match its HTTP errors.
        """
        if self.status == "running":
            why = "robots" if is_robots_txt(capture.url or "") else "error"
            self._exchange(ExchangeItem(capture, why), crawl_id or self.crawl_id)

    def _truncated(self, capture: Capture, crawl_id: str | None = None) -> None:
        """Archive an exchange whose body was cut short (WARC-Truncated): a response record, no catalog page."""
        if self.status == "running":
            self._exchange(ExchangeItem(capture, "truncated"), crawl_id or self.crawl_id)

    def _robots(self, capture: Capture, crawl_id: str | None = None) -> None:
        """Archive a robots.txt the crawl read (and obeyed) as an exchange: the rules it was held to."""
        if self.status == "running":
            self._exchange(ExchangeItem(capture, "robots"), crawl_id or self.crawl_id)

    def _writer(self, run: str) -> WarcFileWriter:
        """Return the run's WARC writer; its files say `isPartOf: RUN`, its seeds and scope (and name this worker)."""
        if run not in self.writers:
            self.runs.add(run)
            info = {**self.writer_options["info"], "isPartOf": run, **self._run_info(run)}
            self.writers[run] = WarcFileWriter(DataLayout(self.data_dir).warc, **{**self.writer_options, "info": info})
        return self.writers[run]

    def _run_info(self, run: str) -> dict[str, str]:
        """Return a crawl run's seeds and scope for its warcinfo (a frontier run's from the frontier)."""
        if self.crawl_kind != "crawl":
            return {}
        worker = getattr(self.crawler.spider, "frontier_worker", None)
        args = self.crawl_args if worker is None else {**worker.run_options(run), "seeds": worker.frontier.seeds(run)}
        seeds = " ".join(str(seed.get("url")) for seed in args.get("seeds", ()) if isinstance(seed, dict))
        scope = {k: v for k, v in args.items() if k not in ("seeds", "command", "job", "frontier", "frontier_name")}
        return {"seeds": seeds, "scope": json.dumps(scope, sort_keys=True, separators=(",", ":"))}

    def close_spider(self) -> None:
        if self.status == "running":
            self.status = "finished"
        settled = False
        try:
            self._revisit_deferred()
            self._commit()
            settled = True
        except SQLAlchemyError as exc:
            self.status = "failed"
            self.stats.set_value("archive/stopped", f"catalog error: {_first_line(exc)}")
        except Exception as exc:  # Scrapy logs what a pipeline's close raises and exits 0: the run must say it
            self.status = "failed"
            self.stats.set_value("archive/stopped", f"{type(exc).__name__}: {_first_line(exc)}")
            raise
        finally:
            for writer in [*self.retired, *self.writers.values()]:
                writer.close(settled=settled)  # unsettled: the next run re-indexes what rows are missing
            writers = [*self.done_writers, *self.retired, *self.writers.values()]
            self.stats.set_value("archive/warc_files", [name for w in writers for name in w.files])
            self.stats.set_value("archive/warc_bytes", sum(w.bytes_written for w in writers))
            if self.shared:
                self.stats.set_value("archive/runs", sorted(self.runs))

    def _beat(self) -> None:
        try:
            self.catalog.beat_crawl(self.crawl_id)
        except SQLAlchemyError as exc:  # the next commit meets the same error and says so
            logger.warning("could not note that run %s is alive: %s", self.crawl_id, _first_line(exc))

    def _spider_closed(self, spider: Any, reason: str) -> None:
        """Record how the run ended (Scrapy names the reason only after the pipelines closed)."""
        if self._heartbeat is not None and self._heartbeat.running:
            self._heartbeat.stop()
        try:
            if self.shared:
                return  # a frontier's runs end when drained (archive.crawl.scheduler)
            status = self.status
            if status == "finished" and reason != "finished":
                status = "interrupted"  # Ctrl-C or a close-spider limit: --resume continues it
            self.catalog.finish_crawl(self.crawl_id, status, self._counts())
        except SQLAlchemyError as exc:  # the run's row says "running": resumable, as it should be
            if not self.stats.get_value("archive/stopped"):
                self.stats.set_value("archive/stopped", f"catalog error: {_first_line(exc)}")
        finally:
            self.catalog.close()

    def _checkpoint(self, active: Collection[str]) -> None:
        """Commit now (a frontier worker's beat); close the files of runs that ended, settled with this commit."""
        for run in [r for r in self.writers if r not in active]:
            writer = self.writers.pop(run)
            writer.flush()
            self.retired.append(writer)
        try:
            self._commit(always=True)
        except SQLAlchemyError as exc:
            reason = f"catalog error: {_first_line(exc)}"
            self.stats.set_value("archive/stopped", reason)
            self._stop(reason)

    def _archive(self, item: ArchiveItem, run: str) -> None:
        self._count(run, "captures_read")
        record = item.record.with_provenance(crawl_id=run)
        if any(p.id == record.id for p in self.pending) or self.catalog.known_captures([record.id]):
            self._count(run, "unchanged")
            if item.capture.source_kind == "live":  # fetched again, same bytes: a revisit, no new document
                self._revisit(item.capture, "identical-payload-digest", run, record.id)
            return
        located = self._write(
            record.provenance.source_location, run, self._writer(run).write_capture, item.capture, record
        )
        if located is None:
            return
        self.pending.append(located)
        scope = evidence_scope(item.capture.url)
        if self.site_evidence != "off" and scope is not None and record.line_keys:
            self.catalog.count_site_lines(*scope, record.line_keys)
        self._count(run, "words_kept", record.word_count)
        self._count(run, "boilerplate_words_dropped", record.boilerplate_word_count)
        if len(self.pending) >= self.commit_every:
            self._commit()

    def _archive_no_text(self, item: NoTextItem, run: str) -> None:
        """Archive a capture extraction failed on, raw, with its no-text record; it still counts as failed."""
        assert item.capture is not None and item.record is not None
        record = item.record.with_provenance(crawl_id=run)
        self._fail(item.source, f"{item.reason} (raw capture archived; catalogued with no main text)", run)
        self._count(run, "no_text")
        if any(p.id == record.id for p in self.pending) or self.catalog.known_captures([record.id]):
            if item.capture.source_kind == "live":  # fetched again, same bytes: a revisit
                self._revisit(item.capture, "identical-payload-digest", run, record.id)
            return
        located = self._write(item.source, run, self._writer(run).write_capture, item.capture, record)
        if located is None:
            return
        self.pending.append(located)
        if len(self.pending) >= self.commit_every:
            self._commit()

    def _reextract_no_text(self, item: NoTextItem, run: str) -> None:
        """A capture re-extraction found no main text in: it keeps what it had (text, or its no-text record)."""
        assert item.record is not None
        self._count(run, "captures_read")
        held = self._held_at(item.record.id, item.capture.source_location if item.capture else "")
        if held is None:
            self._count(run, "not_in_catalog")
        elif held.provenance.no_text is not None:
            self._count(run, "unchanged")  # no main text before, none now
            self._fail(item.source, f"{item.reason} (still no main text)", run)
        else:
            self._fail(item.source, f"{item.reason} (the capture keeps its earlier extraction)", run)

    def _held_at(self, record_id: str, source: str) -> Record | None:
        """Return the catalog's capture at raw record `source` (path#offset): by id, else by where its raw record is.

        A capture first catalogued with no main text has the id of its fetched URL; extracted at
        last, it may name a canonical URL of its own site, and so another id.
        """
        held = self.catalog.get(record_id)
        if held is not None and _same_record(held.provenance.warc_raw, source):
            return held
        path, _, offset = source.rpartition("#")
        return self.catalog.capture_at(Path(path).name, int(offset)) if offset.isdigit() else None

    def _reextract(self, item: ArchiveItem, run: str) -> None:
        """Give the catalog's capture at this raw record the new extraction, if it differs; the raw record stays."""
        self._count(run, "captures_read")
        source = item.capture.source_location
        held = self._held_at(item.record.id, source)
        if held is None:
            self._count(run, "not_in_catalog")  # a copy the catalog holds elsewhere, or not at all: `repair`'s
            return
        if held.same_extraction(item.record):
            self._count(run, "unchanged")
            return
        note = {
            "at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "previous_extractor_version": held.provenance.extractor_version,
            "previous_conversion": held.provenance.warc_conversion.record_id
            if held.provenance.warc_conversion
            else None,
        }
        updated = held.with_extraction(item.record, reextraction=note)
        located = self._write(source, run, self._writer(run).write_extraction, updated)
        if located is None:
            return
        self.extractions.append((run, located))
        self._count(run, "words_kept", located.word_count)
        if len(self.extractions) + len(self.pending) >= self.commit_every:
            self._commit()

    def _exchange(self, item: ExchangeItem, run: str) -> None:
        if self._write(item.capture.source_location, run, self._writer(run).write_exchange, item.capture) is None:
            return
        self.stats.inc_value(f"archive/exchanges/{item.why}")

    def _revisit(
        self,
        capture: Capture,
        profile: str,
        run: str,
        record_id: str | None = None,
        refers_to: tuple[str, str] | None = None,
    ) -> None:
        """Archive a revisit of the capture it repeats.

        The original is found by record id (same bytes fetched again), by the URI and date a
        replayed revisit record names, else as the URL's latest capture (a live 304).
        """
        if record_id:
            original = self._pending_or_catalog(record_id)
        elif refers_to is not None:
            original = self._referred(*refers_to)
            if original is None:  # not archived (yet): the original may come later in this replay
                self.deferred.append((capture, profile, run, refers_to))
                return
        else:
            original = self.catalog.latest_capture(capture.url or "")
        if original is None:
            self._fail(capture.source_location, "304 Not Modified, but the archive holds no earlier capture", run)
            return
        moment = capture.captured_at or datetime.now(UTC)
        capture = replace(capture, captured_at=moment)  # the revisit's WARC-Date and its row's time are one
        when = iso_utc(moment)
        url = capture.url or original.source_url
        if refers_to is not None and self._holds_revisit(url, when):  # the same record replayed again
            self.stats.inc_value("replay/warc_skipped/revisit already in this archive")
            return
        written = self._write(
            capture.source_location, run, self._writer(run).write_revisit, capture, profile=profile, original=original
        )
        if written is None:
            return
        self.pending_visits.add((url, when))
        self.pending_revisits.append(
            {"capture_id": original.id, "url": url, "captured_at": when, "crawl_id": run or None, "profile": profile}
            | {"record_id": written.record_id}
        )
        self._count(run, "revisits")
        if len(self.pending) + len(self.pending_revisits) >= self.commit_every:
            self._commit()

    def _holds_revisit(self, url: str, when: str) -> bool:
        """Return whether this archive wrote a revisit of `url` at `when` (an ISO time) already: a visit, a revisit."""
        return (url, when) in self.pending_visits or self.catalog.revisited(url, when)

    def _revisit_deferred(self) -> None:
        """Archive the replayed revisits whose original came later in the run; count those whose never came."""
        deferred, self.deferred = self.deferred, []
        for capture, profile, run, refers_to in deferred:
            if self._referred(*refers_to) is None:
                self.stats.inc_value("replay/warc_skipped/revisit of a capture not in this archive")
            else:
                self._revisit(capture, profile, run, refers_to=refers_to)

    def _referred(self, uri: str, date: str) -> Record | None:
        """Return the capture of `uri` taken at WARC date `date` (pending or in the catalog), else its latest."""
        when = iso_utc(datetime.fromisoformat(date.replace("Z", "+00:00"))) if date else None
        for record in reversed(self.pending):
            if record.source_url == uri and (when is None or record.provenance.captured_at == when):
                return record
        found = self.catalog.capture_of(uri, when) if when else None
        return found or self.catalog.latest_capture(uri)

    def _write(self, source: str, run: str, write: Callable[..., T], *args: Any, **kwargs: Any) -> T | None:
        """Return what a WARC write gave back; on failure, report it (None), and stop the run if the disk is at fault.

        A full disk, a read-only or over-quota directory fails every capture after this one
        too: the run stops with that reason instead, and what it archived so far is committed.
        """
        try:
            return write(*args, **kwargs)
        except OSError as exc:
            reason = f"WARC write failed: {exc.strerror or exc}"
            self._fail(source, reason, run)
            if exc.errno in _DISK_ERRORS:
                self._stop(reason)
            return None

    def _pending_or_catalog(self, record_id: str) -> Record | None:
        return next((p for p in self.pending if p.id == record_id), None) or self.catalog.get(record_id)

    def _archived_response(
        self, url: str, *, crawl_id: str | None = None
    ) -> tuple[int, list[tuple[str, str]], bytes] | None:
        """Return (status, headers, body as transferred) of `url`'s latest capture (in `crawl_id`, if given)."""
        record = self.catalog.captured_in_crawl(crawl_id, url) if crawl_id else self.catalog.latest_capture(url)
        if record is None or record.provenance.warc_raw is None:
            return None
        try:
            body = read_payload(DataLayout(self.data_dir).warc, record.provenance.warc_raw)
        except WarcReadError:
            return None  # the pointer is bad: fetch it again rather than trust it
        return record.provenance.http_status or 200, list(record.provenance.http_headers), body

    def _commit(self, *, always: bool = False) -> None:
        """Make the WARC bytes durable, then commit the pending rows; then say so (ARCHIVE_COMMITTED)."""
        if not (self.pending or self.pending_revisits or self.extractions or self.problems or always):
            return
        writers = [*self.retired, *self.writers.values()]
        for writer in writers:
            writer.flush()  # bytes durable before any row points at them
        for run, records in _by_run((r.provenance.crawl_id or "", r) for r in self.pending).items():
            with_text = [r for r in records if r.provenance.no_text is None]
            inserted = self.catalog.add_records(with_text)
            self._count(run, "records_written", inserted)
            self.stats.inc_value("catalog/inserted", inserted)
            if inserted < len(with_text):  # another writer archived the same capture meanwhile
                self._count(run, "unchanged", len(with_text) - inserted)
            no_text = [r for r in records if r.provenance.no_text is not None]
            if no_text:  # archived raw, catalogued with no main text (counted as such)
                self.stats.inc_value("catalog/inserted", self.catalog.add_records(no_text))
        self.catalog.add_revisits(self.pending_revisits)
        for run, records in _by_run(self.extractions).items():
            self._count(run, "reextracted", self.catalog.replace_extractions(records))
        problems, self.problems = self.problems, defaultdict(list)
        for run, found in problems.items():
            self.catalog.add_problems(run, found)
        for writer in writers:
            writer.settle()
        for writer in self.retired:
            writer.close()
            self.done_writers.append(writer)
        self.retired.clear()
        self.pending.clear()
        self.pending_revisits.clear()
        self.pending_visits.clear()
        self.extractions.clear()
        counts, self.run_counts = self.run_counts, defaultdict(Counter)
        self.crawler.signals.send_catch_log(signal=ARCHIVE_COMMITTED, counts={r: dict(c) for r, c in counts.items()})

    def _count(self, run: str, key: str, amount: int = 1) -> None:
        self.stats.inc_value(f"archive/{key}", amount)
        if run:
            self.run_counts[run][key] += amount

    def _fail(self, source: str, reason: str, run: str = "") -> None:
        self._count(run, "failed")
        self.failures.append([source, reason])
        if run:
            self.problems[run].append(Problem("failed", source, reason))
        logger.debug("capture failed: %s: %s", source, reason)

    def _http_error(self, item: HttpErrorItem, run: str) -> None:
        """Count a page the site answered with an error (archived as received): not the run's failure."""
        self._count(run, "http_errors")
        self.stats.inc_value(f"archive/http_status/{item.status}")
        if run:
            self.problems[run].append(Problem("http", item.source, item.reason, item.status))

    def _counts(self) -> dict[str, Any]:
        return {key: self.stats.get_value(f"archive/{key}", 0) for key in RUN_COUNTS}


def _crawl_info(settings: Any) -> dict[str, Any]:
    """Return what a run's warcinfo says of how it was made: operator; for a crawl, user agent and robots policy."""
    info: dict[str, Any] = {"operator": settings.get("ARCHIVE_OPERATOR")}
    if (settings.get("ARCHIVE_CRAWL_KIND") or "crawl") == "crawl":
        info["http-header-user-agent"] = settings.get("USER_AGENT")
        info["robots"] = "obey" if settings.getbool("ROBOTSTXT_OBEY") else "ignore"
    return info


def _by_run(pairs: Iterable[tuple[str, Record]]) -> dict[str, list[Record]]:
    """Group (run, record) pairs by run, each run's records in their order (per-run counts need them apart)."""
    grouped: defaultdict[str, list[Record]] = defaultdict(list)
    for run, record in pairs:
        grouped[run].append(record)
    return grouped


def _same_record(raw: WarcLocation | None, source: str) -> bool:
    """Return whether a catalog raw-record pointer names the WARC record at `source` (`path#offset`)."""
    path, _, offset = source.rpartition("#")
    return raw is not None and offset.isdigit() and raw.file == Path(path).name and raw.offset == int(offset)
