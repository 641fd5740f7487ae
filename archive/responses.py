"""Turn a Scrapy response into a capture: the one place that reads a Response."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from scrapy.http import Response

from scraper import Capture, WireRequest, media_kind

__all__ = ["Wire", "capture_from_response", "capture_from_wire"]


@dataclass(frozen=True, slots=True)
class Wire:
    """One HTTP exchange as it went over the wire."""

    request: WireRequest
    status: int
    headers: tuple[tuple[str, str], ...]
    protocol: str
    body: bytes
    ip_address: str | None
    fetched_at: datetime
    url: str


def capture_from_response(response: Response) -> Capture:
    """Return the capture a response carries: replay attaches one, a live fetch is built here.

    With the wire recorded (WireMiddleware), the payload is the body as transferred and
    `content` the body Scrapy decoded from it; the headers are the ones received.
    """
    attached = response.meta.get("capture")
    if isinstance(attached, Capture):
        return attached
    wire = response.meta.get("wire")
    if isinstance(wire, Wire) and wire.url == response.url and wire.status == response.status:
        return capture_from_wire(wire, content=response.body)
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


def capture_from_wire(wire: Wire, *, content: bytes | None = None) -> Capture:
    """Return the capture of one exchange as it went over the wire."""
    content_type = next((v for k, v in wire.headers if k.lower() == "content-type"), "")
    media, charset = media_kind(content_type)
    return Capture(
        payload=wire.body,
        content=content if content is not None and content != wire.body else None,
        source_kind="live",
        source_location=wire.url,
        media_type=media or "application/octet-stream",
        url=wire.url,
        captured_at=wire.fetched_at,
        charset=charset,
        http_status=wire.status,
        http_headers=wire.headers,
        http_protocol=wire.protocol,
        request=wire.request,
        ip_address=wire.ip_address,
    )
