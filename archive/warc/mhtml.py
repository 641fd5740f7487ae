"""Pages saved as MHTML ("Save as... Webpage, Single File" in Chrome, Edge and Opera): the page inside.

An MHTML file is a MIME message (RFC 2557): a multipart/related body whose root part is the
page's HTML, the other parts its images and stylesheets, each named by its Content-Location.
The browser writes the page's address (Snapshot-Content-Location, and the root part's
Content-Location) and when it saved it (Date). The file is archived as it is; extraction reads
the root part.
"""

from __future__ import annotations

import email
import email.policy
import email.utils
from dataclasses import dataclass
from datetime import UTC, datetime
from email import errors
from email.message import Message

from scraper.capture import HTML_TYPES, PAGE_ARCHIVE_TYPES

__all__ = ["MHTML_SUFFIXES", "MHTML_TYPES", "SavedPage", "read_mhtml"]

MHTML_SUFFIXES = (".mhtml", ".mht")
MHTML_TYPES = PAGE_ARCHIVE_TYPES  # how WARC records and servers label an MHTML file
_BAD_BASE64 = (
    errors.InvalidBase64CharactersDefect,
    errors.InvalidBase64PaddingDefect,
    errors.InvalidBase64LengthDefect,
)


@dataclass(frozen=True, slots=True)
class SavedPage:
    """The page an MHTML file holds: its HTML bytes, their charset, its address and when it was saved."""

    html: bytes
    charset: str | None
    url: str | None
    saved_at: datetime | None


def read_mhtml(data: bytes) -> SavedPage:
    """Return the page an MHTML file holds; ValueError saying why when it holds none."""
    message = email.message_from_bytes(data, policy=email.policy.compat32)
    if not message.is_multipart():
        kind = message.get_content_type()
        if kind.startswith("multipart/"):
            raise ValueError(f"MHTML whose {kind} body names no boundary between its parts")
        if kind not in HTML_TYPES:  # a single HTML part is a page too
            raise ValueError(f"MHTML with neither a multipart body nor an HTML one (a {kind} message)")
        root = message
    else:
        parts = [part for part in message.walk() if not part.is_multipart()]
        root = _root(message, parts)
        cut = any(isinstance(defect, errors.CloseBoundaryNotFoundDefect) for defect in message.defects)
        if cut and parts[-1] is root:  # a cut image part still leaves the page whole
            raise ValueError("MHTML cut short: the file ends inside the page's part")
    html = root.get_payload(decode=True)
    if not isinstance(html, bytes) or not html.strip():
        raise ValueError("MHTML whose page part is empty")
    if any(isinstance(defect, _BAD_BASE64) for defect in root.defects):
        raise ValueError("MHTML whose page part is not valid base64")
    addresses = (_header(root, "Content-Location"), _header(message, "Snapshot-Content-Location"))
    url = next((a for a in addresses if _is_web(a)), None)  # a cid: or file: address names no page
    return SavedPage(html, root.get_content_charset(), url, _date(message))


def _root(message: Message, parts: list[Message]) -> Message:
    """Return the root part among the message's `parts`: the one `start` names, else the first HTML part."""
    start = message.get_param("start")
    if isinstance(start, str) and start.strip():
        named = [part for part in parts if _header(part, "Content-ID") == start.strip()]
        if named:
            return named[0]
    for part in parts:
        if part.get_content_type() in HTML_TYPES:
            return part
    raise ValueError("MHTML with no HTML part (not a saved web page)")


def _header(message: Message, name: str) -> str | None:
    """Return a header's value, its whitespace folded; None when absent or blank."""
    value = message.get(name)
    folded = " ".join(str(value).split()) if value is not None else ""
    return folded or None


def _is_web(url: str | None) -> bool:
    return bool(url) and str(url).lower().startswith(("http://", "https://"))


def _date(message: Message) -> datetime | None:
    value = _header(message, "Date")
    if value is None:
        return None
    try:
        moment = email.utils.parsedate_to_datetime(value)
        return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
    except (TypeError, ValueError, IndexError, OverflowError):  # unreadable, or past year 9999 in UTC
        return None  # the file's own time stands
