"""Replay without network: a download handler for `replay:` URLs that loads saved captures."""

from __future__ import annotations

from typing import TYPE_CHECKING

from scrapy.core.downloader.handlers.base import BaseDownloadHandler
from scrapy.http import Response
from scrapy.utils.asyncio import run_in_thread

from archive.warc.sources import DEFAULT_MAX_CAPTURE_BYTES, SourceRef, load_capture

if TYPE_CHECKING:
    from scrapy import Request
    from scrapy.crawler import Crawler

__all__ = ["REPLAY_SCHEME", "ReplayDownloadHandler", "replay_url"]

REPLAY_SCHEME = "replay"


def replay_url(serial: int) -> str:
    """Return the request URL for the `serial`-th capture of a replay."""
    return f"{REPLAY_SCHEME}://capture/{serial}"


class ReplayDownloadHandler(BaseDownloadHandler):
    """Answers a replay request with the saved capture its meta names; never opens a socket."""

    def __init__(self, crawler: Crawler) -> None:
        super().__init__(crawler)
        self.max_bytes = crawler.settings.getint("REPLAY_MAX_CAPTURE_BYTES", DEFAULT_MAX_CAPTURE_BYTES)

    async def download_request(self, request: Request) -> Response:
        source: SourceRef = request.meta["replay_source"]
        capture = await run_in_thread(load_capture, source, max_bytes=self.max_bytes)
        request.meta["capture"] = capture
        return Response(url=request.url, status=capture.http_status or 200, body=capture.body, request=request)
