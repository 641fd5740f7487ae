"""The capture: bytes as a source holds them, plus what is known of where they came from."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

__all__ = ["Capture", "WireRequest", "media_kind"]

HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})


@dataclass(frozen=True, slots=True)
class WireRequest:
    """The HTTP request a live capture answered, as sent: method, target with its query, headers."""

    method: str
    target: str  # the request-target: path and full query string
    headers: tuple[tuple[str, str], ...]
    protocol: str = "HTTP/1.1"


@dataclass(frozen=True, slots=True)
class Capture:
    """One saved or fetched page before extraction.

    `payload` is what gets archived (as transferred, for HTTP); `content` is the
    decoded body that extraction reads, when it differs (Content-Encoding).
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
