"""Turn a Scrapy response into a capture: the one place that reads a Response."""

from __future__ import annotations

from datetime import UTC, datetime

from scrapy.http import Response

from scraper import Capture, media_kind

__all__ = ["capture_from_response"]


def capture_from_response(response: Response) -> Capture:
    """Return the capture a response carries: replay attaches one, a live fetch is built here."""
    attached = response.meta.get("capture")
    if isinstance(attached, Capture):
        return attached
    content_type = response.headers.get("Content-Type", b"").decode("latin-1")
    media, charset = media_kind(content_type)
    return Capture(
        payload=response.body,
        source_kind="live",
        source_location=response.url,
        media_type=media or "application/octet-stream",
        url=response.url,
        captured_at=datetime.now(UTC),
        charset=charset,
        http_status=response.status,
        http_headers=tuple(
            (key.decode("latin-1"), value.decode("latin-1"))
            for key, values in response.headers.items()
            for value in values
        ),
        http_protocol=response.protocol or "HTTP/1.1",
        http_reason=None,
    )
