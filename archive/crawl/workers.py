"""Extraction in worker processes: replays and crawls build records on every core, the pipeline archives them.

Scrapy runs one reactor thread, and extraction is CPU-bound, so with --jobs N a spider
sends each capture to one of N worker processes and awaits its record; WARC writes and
catalog commits stay in the main process (archive.crawl.pipeline), in one place and order.

Workers fork from a forkserver that has imported the extraction code once, so a new pool
is ready in well under a second after the first; until it is, and for the first captures
of a run (a small run never starts one), extraction runs in the main process as with
--jobs 1. A worker that dies (a crash in a C library, the OOM killer) breaks the pool: it
is replaced and its captures are tried once more; a capture that breaks it twice fails
with a message naming it.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Awaitable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

from archive._malloc import release_large_blocks
from archive.catalog.facade import Catalog
from archive.crawl.items import ArchiveItem, CaptureFailure, NoTextItem
from scraper import Capture, CaptureError, Record, SiteEvidence, build_record
from scraper.notext import no_text_record

__all__ = ["START_AFTER", "ExtractionPool", "available_cores", "build_item", "without_text"]

# Captures extracted in the main process before a pool starts: below this a replay ends
# sooner than a pool gets going, and starting one only costs.
START_AFTER = 16
_WATCH_SECONDS = 0.5  # how often a worker checks that the main process still runs

logger = logging.getLogger(__name__)


def available_cores() -> int:
    """Return how many cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def build_item(
    capture: Capture, evidence: SiteEvidence | None = None, evidence_for_html: bool = False, comments: bool = False
) -> ArchiveItem | CaptureFailure:
    """Return the archive item of `capture`, or the failure that names it and why it has no main text.

    A capture with bytes that extraction fails on is still archived (`NoTextItem`). With
    `comments`, reader comments are kept in the main text. The record carries its text's
    similarity features, so a worker computes them and the catalog only weighs and writes them.
    """
    try:
        record = build_record(capture, evidence=evidence, evidence_for_html=evidence_for_html, comments=comments)
        return ArchiveItem(capture, record.with_text_features())
    except CaptureError as exc:
        return without_text(capture, str(exc))
    except Exception as exc:  # a bug or an extractor crash must still be counted, not lost in a log
        logger.exception("extraction crashed on %s", capture.source_location)
        return without_text(capture, f"extraction crashed: {type(exc).__name__}: {exc}")


def without_text(capture: Capture, reason: str, record: Record | None = None) -> CaptureFailure:
    """Return the failure of a capture extraction failed on, archived raw with no main text when it holds bytes.

    An empty capture has nothing to keep: a plain failure.
    """
    if not capture.payload.strip():
        return CaptureFailure(capture.source_location, reason)
    record = record or no_text_record(capture, reason)
    return NoTextItem(capture.source_location, reason, capture=capture, record=record)


# In a worker: the catalog it reads site evidence from (its own connection), the mode, and
# whether reader comments are kept.
_evidence: SiteEvidence | None = None
_evidence_for_html = False
_comments = False


def _alive(pid: int) -> bool:
    """Return whether process `pid` runs (a zombie, killed but not yet reaped, does not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True  # no /proc: os.kill said it exists


def _exit_with(main_pid: int) -> None:
    """Exit this worker once the main process is gone.

    Workers hold both ends of their task pipes (and the forkserver's), so the main process
    dying (SIGKILL, the OOM killer) would leave them and the forkserver waiting forever.
    """
    while _alive(main_pid):
        time.sleep(_WATCH_SECONDS)
    os._exit(1)


def _start_worker(main_pid: int, db_url: str | None, evidence_for_html: bool, comments: bool = False) -> None:
    global _evidence, _evidence_for_html, _comments
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the main process's to handle
    release_large_blocks()
    threading.Thread(target=_exit_with, args=(main_pid,), daemon=True, name="watch-main").start()
    if db_url is not None:
        _evidence = Catalog(db_url)
    _evidence_for_html = evidence_for_html
    _comments = comments


def _extract(capture: Capture) -> Record | CaptureFailure:
    item = build_item(capture, _evidence, _evidence_for_html, _comments)
    # Only the record goes back: the main process has the capture.
    if isinstance(item, NoTextItem) and item.record is not None:
        return item.record
    return item.record if isinstance(item, ArchiveItem) else item


def _ready() -> bool:
    return True


class ExtractionPool:
    """`jobs` worker processes building records; `evidence_db_url` names the catalog for site evidence.

    With `comments`, the workers keep reader comments in the main text.
    """

    def __init__(
        self, jobs: int, evidence_db_url: str | None, evidence_for_html: bool = False, comments: bool = False
    ) -> None:
        self.jobs = jobs
        self.initargs = (os.getpid(), evidence_db_url, evidence_for_html, comments)
        self.seen = 0
        self.executor: ProcessPoolExecutor | None = None
        self.launcher: threading.Thread | None = None
        self.ready = False
        self.replaced = 0

    def submit(self, capture: Capture) -> Awaitable[ArchiveItem | CaptureFailure] | None:
        """Return the item being built in a worker, or None: build it here (the pool is not ready)."""
        self.seen += 1
        if self.launcher is None and self.seen > START_AFTER:
            # Starting the forkserver and forking workers blocks for seconds: not on the reactor thread.
            self.launcher = threading.Thread(target=self._launch, daemon=True, name="extraction-pool")
            self.launcher.start()
        if not self.ready:
            return None
        return self._in_worker(capture)

    async def _in_worker(self, capture: Capture) -> ArchiveItem | CaptureFailure:
        for _attempt in range(2):
            executor = self.executor
            assert executor is not None
            try:
                item = await asyncio.wrap_future(executor.submit(_extract, capture))
            except BrokenProcessPool:
                if executor is self.executor:  # the first of its captures to hear of it replaces it
                    self._replace()
                continue
            if isinstance(item, CaptureFailure):
                return item
            if item.provenance.no_text is not None:  # built in the worker: the capture is here
                return without_text(capture, item.provenance.no_text, item)
            return ArchiveItem(capture, item)
        return without_text(capture, "extraction worker died on this capture twice")

    @property
    def started(self) -> bool:
        """Return whether the workers were started (a run of START_AFTER captures or fewer never starts them)."""
        return self.launcher is not None

    def _launch(self) -> None:
        executor = self._executor()
        for ping in [executor.submit(_ready) for _ in range(self.jobs)]:  # every worker forked and started
            ping.result()
        self.executor = executor
        self.ready = True

    def _replace(self) -> None:
        logger.warning("an extraction worker died: starting a new pool")
        self.replaced += 1
        if self.executor is not None:
            self.executor.shutdown(wait=False, cancel_futures=True)
        self.executor = self._executor()

    def prepare(self) -> None:
        """Start loading the extractors in the forkserver now, on another core, so workers fork warm later."""
        if _context().get_start_method() == "forkserver":
            from multiprocessing import forkserver

            forkserver.ensure_running()  # returns at once; the server loads while this process goes on

    def _executor(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(self.jobs, mp_context=_context(), initializer=_start_worker, initargs=self.initargs)

    def close(self) -> None:
        """Stop the workers (after the captures they are on)."""
        if self.launcher is not None:
            self.launcher.join()
        if self.executor is not None:
            self.executor.shutdown(wait=True, cancel_futures=True)
            self.executor = None


def _context() -> multiprocessing.context.BaseContext:
    """Return the forkserver context with the extractors preloaded (spawn where there is no forkserver)."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    # Imported once in the server; every worker forks from it with extraction loaded and warm.
    context.set_forkserver_preload(["archive.crawl.workers", "archive.catalog.facade", "archive.crawl._warmup"])
    return context
