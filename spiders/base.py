"""The parse path every spider shares: response -> capture -> record -> archive item."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import scrapy
from scrapy.http import Response
from twisted.python.failure import Failure

from archive.items import ArchiveItem, CaptureFailure
from archive.responses import capture_from_response
from scraper import CaptureError, SiteEvidence, build_record

__all__ = ["ArchiveSpider"]


class ArchiveSpider(scrapy.Spider):
    """Base for live and replay spiders: builds one record per response.

    `site_evidence` (set by the archive pipeline when ARCHIVE_SITE_EVIDENCE is on) tells
    extraction which lines the capture's site repeats on other archived pages.
    """

    site_evidence: SiteEvidence | None = None
    evidence_for_html: bool = False

    def parse(self, response: Response, **kwargs: Any) -> Iterator[ArchiveItem | CaptureFailure]:
        capture = capture_from_response(response)
        try:
            record = build_record(capture, evidence=self.site_evidence, evidence_for_html=self.evidence_for_html)
        except CaptureError as exc:
            yield CaptureFailure(capture.source_location, str(exc))
            return
        except Exception as exc:  # a bug or an extractor crash must still be counted, not lost in a log
            self.logger.exception("extraction crashed on %s", capture.source_location)
            yield CaptureFailure(capture.source_location, f"extraction crashed: {type(exc).__name__}: {exc}")
            return
        yield ArchiveItem(capture, record)

    def on_error(self, failure: Failure) -> Iterator[CaptureFailure]:
        """Report a capture that could not be fetched or loaded, naming it and the reason."""
        request = getattr(failure, "request", None)
        source = request.meta.get("replay_source") if request is not None else None
        where = source.location if source is not None else getattr(request, "url", "?")
        yield CaptureFailure(where, str(failure.value) or failure.type.__name__)
