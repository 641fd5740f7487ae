"""The parse path every spider shares: response -> capture -> record -> archive item."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import scrapy
from scrapy.http import Response
from twisted.python.failure import Failure

from archive.items import ArchiveItem, CaptureFailure
from archive.responses import capture_from_response
from archive.workers import build_item
from scraper import SiteEvidence

__all__ = ["ArchiveSpider"]


class ArchiveSpider(scrapy.Spider):
    """Base for live and replay spiders: builds one record per response.

    `site_evidence` (set by the archive pipeline when ARCHIVE_SITE_EVIDENCE is on) tells
    extraction which lines the capture's site repeats on other archived pages.
    """

    site_evidence: SiteEvidence | None = None
    evidence_for_html: bool = False

    def parse(self, response: Response, **kwargs: Any) -> Iterator[ArchiveItem | CaptureFailure]:
        yield build_item(capture_from_response(response), self.site_evidence, self.evidence_for_html)

    def on_error(self, failure: Failure) -> Iterator[CaptureFailure]:
        """Report a capture that could not be fetched or loaded, naming it and the reason."""
        request = getattr(failure, "request", None)
        source = request.meta.get("replay_source") if request is not None else None
        where = source.location if source is not None else getattr(request, "url", "?")
        yield CaptureFailure(where, str(failure.value) or failure.type.__name__)
