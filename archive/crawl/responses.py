"""Turn a Scrapy response into a capture: the one place that reads a Response."""

from __future__ import annotations

import io
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from scrapy.http import Headers, Request, Response
from scrapy.responsetypes import responsetypes
from warcio.statusandheaders import StatusAndHeadersParser

from archive.crawl.wire import RecordedExchange, recorded_exchange
from scraper import Capture, WireRequest, media_kind
from scraper.capture import dechunk, is_chunked

__all__ = [
    "Wire",
    "archived_response",
    "capture_from_response",
    "capture_from_wire",
    "header_pairs",
    "redacted",
    "wire_of",
]


@dataclass(frozen=True, slots=True)
class Wire:
    """One HTTP exchange as it went over the wire."""

    request: WireRequest | None  # None when the request as sent was not recorded
    status: int
    headers: tuple[tuple[str, str], ...]
    protocol: str
    body: bytes  # as transferred: chunk framing kept when recorded (`head`), before decompression
    ip_address: str | None
    fetched_at: datetime
    url: str
    head: bytes | None = None  # the response head exactly as received, when the exchange was recorded
    reason: str | None = None  # the reason phrase as received, when recorded
    truncated: str | None = None  # WARC-Truncated reason: `body` is the start of the body


# Request headers carrying a credential the crawl was configured with: a proxy's password
# (HttpProxyMiddleware), a site's (HttpAuthMiddleware, DEFAULT_REQUEST_HEADERS), a session's cookies.
CREDENTIAL_HEADERS = frozenset({"proxy-authorization", "authorization", "cookie"})
REDACTED = "[redacted]"


def wire_of(request: Request, response: Response, *, keep_credentials: bool = False) -> Wire:
    """Return the exchange that brought `response`: as it crossed the connection when the download handler
    recorded it (archive.crawl.wire), else rebuilt from what Scrapy parsed (names re-cased, body de-chunked).

    The request's credential headers (CREDENTIAL_HEADERS) keep their names and lose their values,
    `Proxy-Authorization: [redacted]`, unless `keep_credentials`.
    """
    ip_address = str(response.ip_address) if response.ip_address is not None else None
    recorded = recorded_exchange(response)
    if recorded is None:
        wire = _rebuilt_wire(request, response, ip_address)
        return wire if keep_credentials or wire.request is None else replace(wire, request=redacted(wire.request))
    protocol, statusline, headers = _parsed_head(recorded.response_head)
    sent = _recorded_request(recorded)
    return Wire(
        request=sent if keep_credentials else redacted(sent),
        status=response.status,
        headers=headers,
        protocol=protocol or "HTTP/1.1",
        body=recorded.body,
        ip_address=ip_address,
        fetched_at=datetime.now(UTC),
        url=request.url,
        head=recorded.response_head,
        reason=statusline.partition(" ")[2],
        truncated=recorded.truncated,
    )


def _recorded_request(recorded: RecordedExchange) -> WireRequest:
    method, line, headers = _parsed_head(recorded.request_head)
    target, _, protocol = line.partition(" ")  # as archive.warc.sources reads a request record back
    return WireRequest(method, target, headers, protocol or "HTTP/1.1", recorded.request_head, recorded.request_body)


def redacted(sent: WireRequest) -> WireRequest:
    """Return the request with each credential header's value replaced by `[redacted]`, in its parsed
    headers and in its head as written (a folded value's continuation lines go with it).
    """
    headers = tuple((k, REDACTED if k.lower() in CREDENTIAL_HEADERS else v) for k, v in sent.headers)
    if sent.raw_head is None:
        return replace(sent, headers=headers)
    lines: list[bytes] = []
    dropping = False
    for line in sent.raw_head.split(b"\r\n"):
        if dropping and line[:1] in (b" ", b"\t"):
            continue
        name, colon, _ = line.partition(b":")
        dropping = bool(colon) and bool(lines) and name.strip().lower().decode("latin-1") in CREDENTIAL_HEADERS
        lines.append(name + b": " + REDACTED.encode() if dropping else line)
    return replace(sent, headers=headers, raw_head=b"\r\n".join(lines))


def _parsed_head(head: bytes) -> tuple[str, str, tuple[tuple[str, str], ...]]:
    """Return (first word, rest of the first line, header pairs) of an HTTP head, as warcio reads it from a WARC."""
    parsed = StatusAndHeadersParser([], verify=False).parse(io.BytesIO(head))
    return str(parsed.protocol), str(parsed.statusline), tuple((str(k), str(v)) for k, v in parsed.headers)


def _rebuilt_wire(request: Request, response: Response, ip_address: str | None) -> Wire:
    parts = urlsplit(request.url)
    sent = header_pairs(request.headers)
    if not any(k.lower() == "host" for k, _ in sent):
        sent.insert(0, ("Host", parts.netloc))  # the HTTP client adds it on the wire
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return Wire(
        request=WireRequest(request.method, target, tuple(sent), "HTTP/1.1"),  # Twisted's client speaks 1.1
        status=response.status,
        headers=tuple(header_pairs(response.headers)),
        protocol=response.protocol or "HTTP/1.1",
        body=response.body,
        ip_address=ip_address,
        fetched_at=datetime.now(UTC),
        url=request.url,
    )


def capture_from_response(response: Response) -> Capture:
    """Return the capture a response carries: replay attaches one, a live fetch is built here.

    With the wire recorded (WireMiddleware), the payload is the body as transferred and
    `content` the body Scrapy decoded from it (de-chunked, decompressed); the head and headers
    are the ones received. Without it (the middleware turned off), the response as Scrapy hands
    it over is all there is.
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
        http_reason=wire.reason,
        http_head=wire.head,
        truncated=wire.truncated,
        request=wire.request,
        ip_address=wire.ip_address,
    )


def header_pairs(headers: Any) -> list[tuple[str, str]]:
    """Return Scrapy headers as (name, value) text pairs, one per value, in order."""
    return [(k.decode("latin-1"), v.decode("latin-1")) for k, values in headers.items() for v in values]


def archived_response(
    url: str, status: int, headers: list[tuple[str, str]], body: bytes, request: Request | None
) -> Response:
    """Return a Scrapy response rebuilt from an archived capture (body still encoded, its chunk framing undone).

    A body archived as transferred in chunks (`Transfer-Encoding: chunked`) is handed on de-chunked,
    without that header, as Scrapy's HTTP client hands on a live one.
    """
    if is_chunked(headers):
        body = dechunk(body)
        headers = [(k, v) for k, v in headers if k.lower() != "transfer-encoding"]
    kind = responsetypes.from_args(headers=Headers(headers), url=url, body=body)
    return kind(url, status=status, headers=headers, body=body, request=request)
