"""Turn a Scrapy response into a capture: the one place that reads a Response."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from scrapy.http import Headers, Request, Response
from scrapy.responsetypes import responsetypes

from scraper import Capture, WireRequest, media_kind

__all__ = ["Wire", "archived_response", "capture_from_response", "capture_from_wire", "header_pairs"]


@dataclass(frozen=True, slots=True)
class Wire:
    """One HTTP exchange as it went over the wire."""

    request: WireRequest | None  # None when the request as sent was not recorded
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
    `content` the body Scrapy decoded from it; the headers are the ones received. Without
    it (the middleware turned off), the response as Scrapy hands it over is all there is.
    """
    attached = response.meta.get("capture")
    if isinstance(attached, Capture):
        return attached
    wire = response.meta.get("wire")
    if not (isinstance(wire, Wire) and wire.url == response.url and wire.status == response.status):
        wire = Wire(
            request=None,
            status=response.status,
            headers=tuple(header_pairs(response.headers)),
            protocol=response.protocol or "HTTP/1.1",
            body=response.body,
            ip_address=None,
            fetched_at=datetime.now(UTC),
            url=response.url,
        )
    return capture_from_wire(wire, content=response.body)


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


def header_pairs(headers: Any) -> list[tuple[str, str]]:
    """Return Scrapy headers as (name, value) text pairs, one per value, in order."""
    return [(k.decode("latin-1"), v.decode("latin-1")) for k, values in headers.items() for v in values]


def archived_response(
    url: str, status: int, headers: list[tuple[str, str]], body: bytes, request: Request | None
) -> Response:
    """Return a Scrapy response rebuilt from an archived capture (body as transferred, still encoded)."""
    kind = responsetypes.from_args(headers=Headers(headers), url=url, body=body)
    return kind(url, status=status, headers=headers, body=body, request=request)
