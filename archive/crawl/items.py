"""What spiders hand to the archive pipeline."""

from __future__ import annotations

from dataclasses import dataclass

from archive.warc.sources import CaptureFailure, SkippedRecord
from scraper import Capture, Record

__all__ = [
    "ArchiveItem",
    "CaptureFailure",
    "ExchangeItem",
    "HttpErrorItem",
    "NoTextItem",
    "RevisitItem",
    "SkippedRecord",
]


@dataclass(frozen=True, slots=True)
class ArchiveItem:
    """A capture and the record built from it, ready to archive."""

    capture: Capture
    record: Record
    crawl_id: str | None = None  # the shared-frontier run it belongs to (None: the pipeline's own run)


@dataclass(frozen=True, slots=True)
class NoTextItem(CaptureFailure):
    """A capture extraction failed on (`reason`): archived all the same, raw, with a record that has no main text.

    A failure to the user (named as they know it, `source`), and an archive item to the pipeline.
    """

    capture: Capture | None = None
    record: Record | None = None


@dataclass(frozen=True, slots=True)
class HttpErrorItem(CaptureFailure):
    """A page the crawl found (not a seed) that its site answered with a 4xx or 5xx status, retries spent.

    The site's answer, not the crawl's failure: archived as received (an "error" exchange),
    counted by status and kept for `scraper crawls RUN`; the run still did its job.
    """

    status: int = 0


@dataclass(frozen=True, slots=True)
class ExchangeItem:
    """A live exchange archived as transferred, with no record: a redirect, an error, robots.txt, a raw body."""

    capture: Capture
    why: str  # "redirect" | "error" | "robots" | "other" (and "requisite": a page's CSS, scripts, images, fonts)
    crawl_id: str | None = None


@dataclass(frozen=True, slots=True)
class RevisitItem:
    """A capture that repeats an earlier one: archived as a revisit record pointing at it.

    A live crawl's 304 answer (profile "server-not-modified") repeats the URL's latest capture;
    a revisit record replayed from a WARC file names the capture it repeats (`refers_to`:
    target URI and WARC date) and its profile.
    """

    capture: Capture
    crawl_id: str | None = None
    profile: str = "server-not-modified"
    refers_to: tuple[str, str] | None = None
