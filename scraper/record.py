"""The normalized record: what one capture becomes once extracted, with its provenance."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields, replace
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from scraper.similarity import TextFeatures

__all__ = [
    "EXTRACTED_FIELDS",
    "MAX_HEADER_BYTES",
    "MAX_HEADER_FIELDS",
    "Provenance",
    "Record",
    "WarcLocation",
    "kept_headers",
]

# How many HTTP header fields, and how many bytes of them, a record keeps (its catalog row and its
# WARC metadata record); the response record keeps every header as it came. A live crawl refuses a
# response head past the same bounds (settings ARCHIVE_MAX_HEADER_FIELDS, ARCHIVE_MAX_HEADER_BYTES),
# as browsers do (Chromium refuses response heads over 256 KiB).
MAX_HEADER_FIELDS = 256
MAX_HEADER_BYTES = 256 * 1024

# What extraction makes of a capture (the rest of a record says what the capture is). `site` is
# among them: a capture with no web URL (a saved text file) takes it from the outlet its text names.
EXTRACTED_FIELDS = (
    "site",
    "claimed_url",
    "site_name",
    "title",
    "authors",
    "published",
    "language",
    "tags",
    "description",
    "text",
    "word_count",
    "text_sha256",
)


@dataclass(frozen=True, slots=True)
class WarcLocation:
    """Where one WARC record lives: file name (relative to the WARC directory), byte span, id."""

    file: str
    offset: int
    length: int
    record_id: str


def kept_headers(
    headers: tuple[tuple[str, str], ...], max_fields: int = MAX_HEADER_FIELDS, max_bytes: int = MAX_HEADER_BYTES
) -> tuple[tuple[str, str], ...]:
    """Return the leading header fields of `headers` within `max_fields` fields and `max_bytes` bytes (UTF-8)."""
    if len(headers) <= max_fields and sum(len(k) + len(v) + 4 for k, v in headers) <= max_bytes // 4:
        return headers  # the usual case, decided without encoding (a character is at most 4 bytes)
    kept: list[tuple[str, str]] = []
    size = 0
    for name, value in headers[:max_fields]:
        size += len(name.encode("utf-8", "surrogatepass")) + len(value.encode("utf-8", "surrogatepass")) + 4
        if size > max_bytes:
            break
        kept.append((name, value))
    return tuple(kept)


@dataclass(frozen=True, slots=True)
class Provenance:
    """Where, when and how a capture was obtained and turned into a record."""

    source_kind: str  # "file" | "warc" | "live"
    source_location: str
    captured_at: str  # ISO 8601, UTC, the capture's own time (never the replay's)
    media_type: str
    encoding: str | None = None
    http_status: int | None = None
    http_headers: tuple[tuple[str, str], ...] = ()
    extractor: str = ""
    extractor_version: str = ""
    extractor_options: dict[str, Any] = field(default_factory=dict)
    project_version: str = ""
    input_word_count: int = 0
    crawl_id: str | None = None
    source_record_id: str | None = None  # replayed from a WARC file: the record it was read from there
    no_text: str | None = None  # why the capture has no main text (its raw records are archived all the same)
    archived_at: str | None = None
    warc_request: WarcLocation | None = None  # live captures: the request record
    warc_raw: WarcLocation | None = None
    warc_conversion: WarcLocation | None = None
    warc_metadata: WarcLocation | None = None

    def __post_init__(self) -> None:
        # However a record is made (extraction, a catalog row, a metadata record read back), what
        # it keeps of the headers is bounded: a hostile response's 100,000 headers stay in its
        # response record only.
        object.__setattr__(self, "http_headers", kept_headers(tuple(self.http_headers)))


@dataclass(frozen=True, slots=True)
class Record:
    """One capture, extracted and normalized; `id` is stable across replays of the same bytes."""

    id: str
    source_url: str
    canonical_url: str
    site: str | None
    site_name: str | None
    title: str | None
    authors: tuple[str, ...]
    published: str | None  # ISO 8601 date
    language: str | None
    tags: tuple[str, ...]
    description: str | None
    text: str
    word_count: int
    payload_sha256: str
    text_sha256: str
    provenance: Provenance
    # The URL the page names for itself (canonical link, og:url) when it is not taken as the
    # canonical URL: a fetched page claiming another site's address stays on the site it came from.
    claimed_url: str | None = None
    # Keys of the lines the extractor weighed (scraper.evidence), so the archive can learn which
    # lines a site repeats. Working data, not part of the record: left out of to_dict and exports.
    line_keys: tuple[str, ...] = field(default=(), repr=False, compare=False)
    # What the similarity signatures take from the text and title alone, computed where the record
    # is built (an extraction worker) so that the catalog only weighs and writes them. Working data
    # as line_keys are; the catalog computes them itself when they are missing or not this text's.
    text_features: TextFeatures | None = field(default=None, repr=False, compare=False)

    @property
    def boilerplate_word_count(self) -> int:
        """Return how many words of the capture's visible text extraction left out."""
        return max(0, self.provenance.input_word_count - self.word_count)

    def with_provenance(self, **changes: Any) -> Record:
        """Return a copy whose provenance has `changes` applied."""
        return replace(self, provenance=replace(self.provenance, **changes))

    def with_extraction(self, other: Record, **note: Any) -> Record:
        """Return this capture's record with `other`'s extraction: text, metadata and the extractor that made them.

        What the capture is (URL, payload, capture time, crawl, raw WARC record) stays; the text
        and metadata records are to be written anew. `note` goes into `extractor_options`.
        """
        theirs = other.provenance
        provenance = replace(
            self.provenance,
            extractor=theirs.extractor,
            extractor_version=theirs.extractor_version,
            extractor_options={**theirs.extractor_options, **note},
            project_version=theirs.project_version,
            input_word_count=theirs.input_word_count,
            no_text=theirs.no_text,
            warc_conversion=None,
            warc_metadata=None,
        )
        extracted = {name: getattr(other, name) for name in EXTRACTED_FIELDS}
        return replace(
            self, **extracted, provenance=provenance, line_keys=other.line_keys, text_features=other.text_features
        )

    def with_text_features(self) -> Record:
        """Return a copy carrying the text features of its text and title (scraper.similarity.text_features)."""
        from scraper.similarity import text_features  # numpy: loaded where records are built, not where read

        return replace(self, text_features=text_features(self.text, self.title, self.text_sha256))

    def same_extraction(self, other: Record) -> bool:
        """Return whether `other` extracted the same text and metadata from its capture as this record holds."""
        return all(getattr(self, name) == getattr(other, name) for name in EXTRACTED_FIELDS)

    def to_dict(self, *, with_text: bool = True) -> dict[str, Any]:
        """Return a JSON-ready dict; `with_text=False` leaves the main text out."""
        # Field by field, not asdict(self): asdict copies every line key and feature only for them
        # to be dropped (a third of the metadata record's cost in the archiving process).
        left_out = {"line_keys", "text_features"} | (set() if with_text else {"text"})
        data = {f.name: getattr(self, f.name) for f in fields(self) if f.name not in left_out}
        data["provenance"] = asdict(self.provenance)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, text: str | None = None) -> Record:
        """Return the record a `to_dict()` dict describes (`text` fills in one written without it)."""
        fields = dict(data)
        prov = dict(fields.pop("provenance"))
        for key in ("warc_request", "warc_raw", "warc_conversion", "warc_metadata"):
            if prov.get(key) is not None:
                prov[key] = WarcLocation(**prov[key])
        prov["http_headers"] = tuple((str(k), str(v)) for k, v in prov.get("http_headers", ()))
        fields["authors"] = tuple(fields.get("authors", ()))
        fields["tags"] = tuple(fields.get("tags", ()))
        if text is not None:
            fields["text"] = text
        return cls(**fields, provenance=Provenance(**prov))

    def to_json(self, *, with_text: bool = True) -> str:
        """Return the record as canonical JSON (sorted keys, UTF-8 safe)."""
        return json.dumps(self.to_dict(with_text=with_text), ensure_ascii=False, sort_keys=True)
