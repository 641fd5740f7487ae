"""The capture: bytes as a source holds them, plus what is known of where they came from."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

__all__ = ["Capture", "WireRequest", "dechunk", "is_chunked", "media_kind"]

HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
# A page saved with its images in one file (MHTML): the capture's `content` is the page's HTML.
PAGE_ARCHIVE_TYPES = frozenset({"multipart/related", "application/x-mimearchive"})


@dataclass(frozen=True, slots=True)
class WireRequest:
    """The HTTP request a live capture answered, as sent: method, target with its query, headers.

    `raw_head` is the request line and header lines exactly as written to the connection (with
    the blank line ending them), when they were recorded; `body` what followed them.
    """

    method: str
    target: str  # the request-target: path and full query string
    headers: tuple[tuple[str, str], ...]
    protocol: str = "HTTP/1.1"
    raw_head: bytes | None = None
    body: bytes = b""


@dataclass(frozen=True, slots=True)
class Capture:
    """One saved or fetched page before extraction.

    `payload` is what gets archived: for HTTP, the body as transferred (chunk framing kept when
    it came chunked, before any decompression); `content` is the decoded body that extraction
    reads, when it differs (Transfer-Encoding, Content-Encoding). `http_head` is the response
    head exactly as received (status line, header lines with their case, order and folding, and
    the blank line ending them) when a live fetch recorded it, or as a WARC record holds it (read
    by warcio) for a replayed one; `http_status`, `http_headers` and the rest are read from it.
    `truncated` (a WARC-Truncated reason: "length", "disconnect") says `payload` is only the
    start of the body.
    """

    payload: bytes
    source_kind: str  # "file" | "warc" | "live"
    source_location: str
    media_type: str  # "text/html" or "text/plain" for the extractors we have
    url: str | None = None
    captured_at: datetime | None = None  # aware, UTC
    charset: str | None = None
    http_status: int | None = None
    http_headers: tuple[tuple[str, str], ...] = ()
    http_protocol: str = "HTTP/1.1"
    http_reason: str | None = None
    content: bytes | None = None
    request: WireRequest | None = None  # live captures: the request that was sent
    ip_address: str | None = None  # live captures: the server's address, when known
    source_record_id: str | None = None  # read from a WARC file: the WARC-Record-ID it had there
    saved_from: str | None = None  # a page a browser saved (MHTML): the address it saved it from
    http_head: bytes | None = None
    truncated: str | None = None

    @property
    def body(self) -> bytes:
        """Return the bytes extraction reads."""
        return self.payload if self.content is None else self.content


def media_kind(content_type: str | None) -> tuple[str | None, str | None]:
    """Return (media type, charset) from a Content-Type value."""
    if not content_type:
        return None, None
    main, *params = content_type.split(";")
    charset = None
    for param in params:
        key, _, value = param.partition("=")
        if key.strip().lower() == "charset":
            charset = value.strip().strip("\"'") or None
    return main.strip().lower() or None, charset


_CHUNK_SIZE = re.compile(rb"[0-9A-Fa-f]+")


def is_chunked(headers: Iterable[tuple[str, str]]) -> bool:
    """Return whether HTTP headers say the body was transferred in chunks (chunked is always the last coding)."""
    codings = [v for k, v in headers if k.lower() == "transfer-encoding"]
    return bool(codings) and codings[-1].split(",")[-1].strip().lower() == "chunked"


def dechunk(body: bytes) -> bytes:
    """Return a body transferred in chunks without its chunk framing (extensions and trailer fields dropped).

    A body cut short (truncated) gives what its whole chunks and the start of the cut one hold;
    bytes that are not chunk framing where it is due end the body there (from the start: the
    body is returned as it is, as warcio and pywb do with a body that was not chunked after all).
    """
    pieces: list[bytes] = []
    position = 0
    while (line_end := body.find(b"\n", position)) >= 0:
        size = body[position:line_end].rstrip(b"\r").split(b";", 1)[0].strip(b" \t")
        if not _CHUNK_SIZE.fullmatch(size):
            return body if position == 0 else b"".join(pieces)
        length = int(size, 16)
        if length == 0:
            break
        start = line_end + 1
        pieces.append(body[start : start + length])
        position = start + length
        position += 2 if body.startswith(b"\r\n", position) else 1 if body.startswith(b"\n", position) else 0
    if position == 0 and not _CHUNK_SIZE.match(body):  # not even one chunk-size line: not chunked
        return body
    return b"".join(pieces)
