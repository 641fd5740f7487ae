"""Build one normalized record from one capture."""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from functools import cache
from typing import Any

from scraper._extraction import Extraction
from scraper._html import (
    EXTRACTOR_OPTIONS,
    TRAFILATURA_VERSION,
    declared_charset,
    extract_html,
)
from scraper._linemodel import default_model
from scraper._text import check_text, decode_bytes, normalize_line, normalize_text, sha256_hex, word_count
from scraper._version import __version__
from scraper.capture import HTML_TYPES, PAGE_ARCHIVE_TYPES, Capture
from scraper.errors import CaptureError
from scraper.evidence import Lookup, SiteEvidence, evidence_scope, line_key, line_keys
from scraper.outlet import find_outlet
from scraper.record import Provenance, Record
from scraper.strip import STRIPPER_VERSION, strip_boilerplate
from scraper.urls import normalize_url, site_of

__all__ = ["build_record", "detect_language", "identity", "iso_utc", "record_id"]

# " date 2025-05-06 Mariane Angela": capture date, then the author when there is one.
_DATE_LINE = re.compile(r"^\s*date\s+(\d{4}-\d{2}-\d{2})(?:[ \t]+(.*?))?\s*$", re.IGNORECASE)
_HTML_SNIFF = re.compile(rb"^\s*(?:<!--.*?-->\s*)*<(?:!doctype\s+html|html|head|body)\b", re.IGNORECASE | re.DOTALL)
_LANGID_MIN_CHARS = 40
_LANGID_CHARS = 5000
# py3langid walks a text byte by byte in Python. Its probabilities are calibrated for the
# text's length, so a short text is rarely this sure. The 3,181 development pages: of the
# texts extracted from their HTML, 83% are settled by the glance and all 3,178 keep the label
# 5,000 characters gave (language CPU 0.34x); of their text renders' 3,180, one changes, a
# German forum thread quoting English instructions (en -> de).
_LANGID_GLANCE = 500
_LANGID_SURE = 0.999
_NO_CAPTURE_DATE = "2099-12-31"
# A text capture longer than this (in characters) is archived whole, not stripped (_kept_whole).
MAX_STRIP_CHARS = 1_000_000


@dataclass(frozen=True, slots=True)
class _Method:
    """How a capture was read and extracted, for provenance."""

    encoding: str
    extractor: str
    extractor_version: str
    options: dict[str, object]
    captured_at: datetime | None = None  # a capture date the content itself gives


def iso_utc(moment: datetime) -> str:
    """Return an aware datetime as ISO 8601 in UTC with a Z suffix."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def record_id(canonical_url: str, payload_sha256: str) -> str:
    """Return the stable record id: the same URL with the same bytes always gets the same id."""
    return sha256_hex(f"{canonical_url}\n{payload_sha256}")[:32]


def build_record(
    capture: Capture,
    *,
    crawl_id: str | None = None,
    evidence: SiteEvidence | None = None,
    evidence_for_html: bool = False,
    comments: bool = False,
) -> Record:
    """Return the normalized record for `capture`; raise CaptureError when it has no article.

    With `evidence`, lines its site repeats on other pages are dropped from a text capture
    (and from an HTML capture's extracted text when `evidence_for_html`). With `comments`,
    reader comments after the article are kept (provenance says `include_comments`).
    """
    if not capture.body.strip():
        raise CaptureError("empty capture (no bytes)" if not capture.body else "empty capture (only whitespace)")
    kind = _kind(capture)
    lookup = _lookup(evidence, capture.url) if kind == "text" or evidence_for_html else None
    extract = _extract_html if kind == "html" else _extract_text
    extracted, method = extract(capture, lookup, comments)
    if lookup is not None:
        options = {**method.options, "site_evidence": {"recurring_lines_dropped": extracted.recurring_dropped}}
        method = replace(method, options=options)
    text = normalize_text(extracted.text)
    if not text:
        raise CaptureError("no article text found")
    captured_at = method.captured_at or capture.captured_at or datetime.fromtimestamp(0, UTC)
    found = identity(capture, extracted.page_url)
    outlet = method.options.get("outlet")
    if found["site"] is None and isinstance(outlet, dict):  # no URL says whose page it is: the text does
        found["site"] = outlet["domain"] or outlet["name"]
    return Record(
        **found,
        site_name=extracted.site_name,
        title=normalize_line(extracted.title) if extracted.title else None,
        authors=tuple(normalize_line(a) for a in extracted.authors),
        published=extracted.published,
        language=extracted.language or detect_language(text),
        tags=extracted.tags,
        description=normalize_line(extracted.description) if extracted.description else None,
        text=text,
        word_count=word_count(text),
        text_sha256=sha256_hex(text),
        provenance=Provenance(
            source_kind=capture.source_kind,
            source_location=capture.source_location,
            captured_at=iso_utc(captured_at),
            media_type="text/html" if kind == "html" else "text/plain",
            encoding=method.encoding,
            http_status=capture.http_status,
            http_headers=capture.http_headers,
            extractor=method.extractor,
            extractor_version=method.extractor_version,
            extractor_options=method.options,
            project_version=__version__,
            input_word_count=extracted.input_words,
            crawl_id=crawl_id,
            source_record_id=capture.source_record_id,
        ),
        line_keys=extracted.line_keys,
    )


def identity(capture: Capture, claim: str | None) -> dict[str, Any]:
    """Return the fields that say which capture a record is: id, addresses, site and payload digest.

    `claim` is the URL the page gives for itself, if extraction found one, else the address a
    browser saved it from. The id depends on the canonical URL and the payload only, so a
    capture's record has it however it was made.
    """
    source_url, canonical, site, claimed = _addresses(capture, claim or capture.saved_from)
    payload_sha = sha256_hex(capture.payload)
    return {
        "id": record_id(canonical, payload_sha),
        "source_url": source_url,
        "canonical_url": canonical,
        "site": site,
        "claimed_url": claimed,
        "payload_sha256": payload_sha,
    }


def _addresses(capture: Capture, claim: str | None) -> tuple[str, str, str | None, str | None]:
    """Return (source URL, canonical URL, site, claimed URL) of a capture whose page names itself `claim`.

    A fetched capture keeps the URL it was fetched from and that host's site; the page's own
    URL becomes its canonical one only on the same site (a subdomain counts), otherwise it is
    kept as a claim. A saved file names no fetch: its source is where it was read from, and
    the URL the page gives for itself, if any, is all that says what it is.
    """
    fetched = capture.url if capture.url and capture.url.startswith(("http://", "https://")) else None
    if fetched is None:
        source = capture.url or capture.source_location
        canonical = normalize_url(claim or source)
        return source, canonical, site_of(canonical), None
    site = site_of(fetched)
    if claim and _same_site(site_of(claim), site):
        return fetched, normalize_url(claim), site, None
    canonical = normalize_url(fetched)
    return fetched, canonical, site, claim if claim and normalize_url(claim) != canonical else None


def _same_site(claimed: str | None, fetched: str | None) -> bool:
    """Return whether two sites are one, or one is a subdomain of the other (m.example.org, example.org)."""
    if not claimed or not fetched:
        return False
    return claimed == fetched or claimed.endswith("." + fetched) or fetched.endswith("." + claimed)


def _lookup(evidence: SiteEvidence | None, url: str | None) -> Lookup | None:
    scope = evidence_scope(url)
    if evidence is None or scope is None:
        return None
    site, canonical = scope

    def recurring(keys: Collection[str]) -> Collection[str]:
        return evidence.recurring(site, canonical, keys)

    return recurring


def _kind(capture: Capture) -> str:
    if capture.media_type in HTML_TYPES or capture.media_type in PAGE_ARCHIVE_TYPES:
        return "html"
    if capture.media_type == "text/plain":
        return "text"
    if _HTML_SNIFF.match(capture.body[:2048]):
        return "html"
    if capture.media_type.startswith("text/"):
        return "text"
    raise CaptureError(f"unsupported media type {capture.media_type!r}")


def _extract_html(capture: Capture, recurring: Lookup | None, comments: bool) -> tuple[Extraction, _Method]:
    markup, encoding = decode_bytes(capture.body, declared=capture.charset or declared_charset(capture.body))
    check_text(markup)
    # Judge dates against the capture's own date, never today's: a replay gives the same
    # record on any day. With no capture date, only the far future is ruled out.
    max_date = capture.captured_at.date().isoformat() if capture.captured_at else _NO_CAPTURE_DATE
    url = capture.saved_from or capture.url  # a saved page's own address, not the file's
    found = extract_html(markup, url=url, max_date=max_date, include_comments=comments)
    paragraphs = found.text.split("\n")
    keys = line_keys(paragraphs)
    if recurring is not None and keys:
        repeated = recurring(keys)
        kept = [p for p in paragraphs if line_key(p) not in repeated]
        found = replace(found, text="\n".join(kept), recurring_dropped=len(paragraphs) - len(kept))
    found = replace(found, line_keys=keys)
    options = {**EXTRACTOR_OPTIONS, "include_comments": comments}
    if found.text_from is not None:
        options["text_from"] = found.text_from
    return found, _Method(encoding, "trafilatura", TRAFILATURA_VERSION, options)


def _extract_text(capture: Capture, recurring: Lookup | None, comments: bool) -> tuple[Extraction, _Method]:
    raw, encoding = decode_bytes(capture.body, declared=capture.charset)
    check_text(raw)
    body, captured_at, author = _split_date_line(raw)
    limit = captured_at or capture.captured_at
    if len(body) > MAX_STRIP_CHARS:
        return _kept_whole(body, author, encoding, captured_at)
    model = default_model()
    outlet = find_outlet(raw)  # the capture as saved, so the claim's line numbers are the file's
    found = strip_boilerplate(
        body,
        max_date=limit.date().isoformat() if limit else None,
        decide=model.decide if model else None,
        recurring=recurring,
        keep_comments=comments,
    )
    extraction = Extraction(
        text="\n".join(found.paragraphs),
        title=found.title,
        authors=(author,) if author else found.authors,
        published=found.published,
        site_name=outlet.name if outlet else None,
        input_words=found.input_words,
        line_keys=found.line_keys,
        recurring_dropped=found.recurring_dropped,
    )
    claim = {"outlet": outlet.claim()} if outlet else {}
    if model is None:
        options: dict[str, object] = {"model": None, "include_comments": comments, **claim}
        return extraction, _Method(encoding, "scraper.strip", STRIPPER_VERSION, options, captured_at)
    version = f"{STRIPPER_VERSION}+model.{model.version}"
    options = {"model": model.version, "threshold": model.threshold, "include_comments": comments, **claim}
    return extraction, _Method(encoding, "scraper.strip", version, options, captured_at)


def _kept_whole(
    body: str, author: str | None, encoding: str, captured_at: datetime | None
) -> tuple[Extraction, _Method]:
    """Return a text capture too long to strip in bounded time and memory: all of it, said so in provenance.

    Stripping weighs every line (about 25 s and 100 bytes of memory per character of text
    per megabyte); past MAX_STRIP_CHARS a text is a dump, a log or a book rather than a
    page, and losing none of it is the safe choice.
    """
    words = word_count(body)
    extraction = Extraction(text=body, authors=(author,) if author else (), input_words=words)
    options = {"stripped": False, "reason": f"over {MAX_STRIP_CHARS:,} characters: kept whole"}
    return extraction, _Method(encoding, "scraper.strip", STRIPPER_VERSION, options, captured_at)


def _split_date_line(raw: str) -> tuple[str, datetime | None, str | None]:
    """Return (text without the date line, capture date, author) for a text capture."""
    end = raw.find("\n")  # the first line alone: no copy of a text that opens with no date line
    match = _DATE_LINE.match((raw if end < 0 else raw[:end]).lstrip("\ufeff"))
    if not match:
        return raw, None, None
    rest = "" if end < 0 else raw[end + 1 :]
    try:
        when = datetime.strptime(match.group(1), "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        return raw, None, None
    author = normalize_line(match.group(2) or "")
    # The slot sometimes holds a number (a status code, a count), which names nobody.
    return rest, when, author if any(ch.isalpha() for ch in author) else None


@cache
def _langid() -> object:
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


def detect_language(text: str) -> str | None:
    """Return the ISO 639-1 code of the text's language when py3langid is confident, else None.

    The text's first _LANGID_CHARS characters are classified, unless a glance at its first
    _LANGID_GLANCE is already _LANGID_SURE: that settles five texts in six for a tenth of the cost.
    """
    if len(text) < _LANGID_MIN_CHARS:
        return None
    identifier: Any = _langid()
    if len(text) > _LANGID_GLANCE:
        lang, prob = identifier.classify(text[:_LANGID_GLANCE])
        if prob >= _LANGID_SURE:
            return str(lang)
    lang, prob = identifier.classify(text[:_LANGID_CHARS])
    return str(lang) if prob >= 0.5 else None
