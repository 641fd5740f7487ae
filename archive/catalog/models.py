"""Catalog tables. Rows are not domain records: convert with values_from / to_record."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from scraper import Provenance, Record, WarcLocation

ROLES = ("request", "raw", "conversion", "metadata")


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {dict[str, Any]: JSON, list[Any]: JSON}


class Crawl(Base):
    """One run of replay or crawl, with what it did."""

    __tablename__ = "crawls"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    status: Mapped[str] = mapped_column(String(16), default="running")
    args: Mapped[dict[str, Any]] = mapped_column(default=dict)
    software: Mapped[str] = mapped_column(String(200))
    counts: Mapped[dict[str, Any]] = mapped_column(default=dict)
    owner: Mapped[str | None] = mapped_column(String(200), default=None)  # "HOST PID START" of a running run
    heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)


class CrawlProblem(Base):
    """Something of a run the user may want to look at: an input that failed, or a page the site answered with an error.

    kind "failed": the input gave no record (and the run exits 1); kind "http": a page the crawl found
    answered 4xx/5xx (archived as received, counted, listed by `scraper crawls RUN`).
    """

    __tablename__ = "crawl_problems"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    crawl_id: Mapped[str] = mapped_column(String(36), index=True)
    kind: Mapped[str] = mapped_column(String(8))
    status: Mapped[int | None] = mapped_column(SmallInteger, default=None)
    source: Mapped[str] = mapped_column(Text)
    reason: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Document(Base):
    """One distinct extracted text; captures with the same text share it."""

    __tablename__ = "documents"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    text_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    title: Mapped[str | None] = mapped_column(Text)
    text: Mapped[str] = mapped_column(Text)
    word_count: Mapped[int] = mapped_column(Integer)
    language: Mapped[str | None] = mapped_column(String(16))
    first_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # Filter values of the document's captures as search tokens (see capture_facets), space-separated:
    # one full-text lookup then intersects words and filters instead of checking every match.
    facets: Mapped[str] = mapped_column(Text, default="", server_default="")

    @staticmethod
    def values_from(record: Record) -> dict[str, Any]:
        """Return the column values of the document that holds `record`'s text, first seen now."""
        return {
            "text_sha256": record.text_sha256,
            "title": record.title,
            "text": record.text,
            "word_count": record.word_count,
            "language": record.language,
            "first_seen_at": datetime.now(UTC),
            "facets": " ".join(sorted(capture_facets(record.site, record.language))),
        }


class CaptureRow(Base):
    """One raw capture, its extracted metadata and provenance."""

    __tablename__ = "captures"
    __table_args__ = (
        Index("ix_captures_canonical_url", "canonical_url"),
        Index("ix_captures_site", "site"),
        Index("ix_captures_site_key", "site_key", "captured_at"),
        Index("ix_captures_published", "published"),
        Index("ix_captures_captured_at", "captured_at"),
        Index("ix_captures_payload_sha256", "payload_sha256"),
        Index("ix_captures_document_id", "document_id"),
        Index("ix_captures_crawl_id", "crawl_id"),
        Index("ix_captures_source_url", "source_url"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id"))
    crawl_id: Mapped[str | None] = mapped_column(ForeignKey("crawls.id"))
    source_url: Mapped[str] = mapped_column(Text)
    canonical_url: Mapped[str] = mapped_column(Text)
    claimed_url: Mapped[str | None] = mapped_column(Text, default=None)
    site: Mapped[str | None] = mapped_column(String(255))
    # The site's labels reversed ("org.example.news."): a site and its subdomains are one index
    # range. Byte order on PostgreSQL, so the range holds whatever the database's collation.
    site_key: Mapped[str | None] = mapped_column(String(255).with_variant(String(255, collation="C"), "postgresql"))
    site_name: Mapped[str | None] = mapped_column(Text)
    title: Mapped[str | None] = mapped_column(Text)
    authors: Mapped[list[Any]] = mapped_column(default=list)
    published: Mapped[str | None] = mapped_column(String(32))
    language: Mapped[str | None] = mapped_column(String(16))
    tags: Mapped[list[Any]] = mapped_column(default=list)
    description: Mapped[str | None] = mapped_column(Text)
    word_count: Mapped[int] = mapped_column(Integer)
    payload_sha256: Mapped[str] = mapped_column(String(64))
    text_sha256: Mapped[str] = mapped_column(String(64))
    source_kind: Mapped[str] = mapped_column(String(8))
    source_location: Mapped[str] = mapped_column(Text)
    source_record_id: Mapped[str | None] = mapped_column(String(128), default=None)
    captured_at: Mapped[str] = mapped_column(String(40))
    archived_at: Mapped[str | None] = mapped_column(String(40))
    media_type: Mapped[str] = mapped_column(String(100))
    encoding: Mapped[str | None] = mapped_column(String(64))
    http_status: Mapped[int | None] = mapped_column(Integer)
    http_headers: Mapped[list[Any]] = mapped_column(default=list)
    extractor: Mapped[str] = mapped_column(String(64))
    extractor_version: Mapped[str] = mapped_column(String(32))
    extractor_options: Mapped[dict[str, Any]] = mapped_column(default=dict)
    project_version: Mapped[str] = mapped_column(String(32))
    input_word_count: Mapped[int] = mapped_column(Integer, default=0)
    no_text: Mapped[str | None] = mapped_column(Text, default=None)  # why it has no main text (raw kept)
    # The capture of the same canonical URL whose text this one replaced (version history).
    previous_id: Mapped[str | None] = mapped_column(String(32), default=None)

    document: Mapped[Document] = relationship(lazy="joined")
    warc_records: Mapped[list[WarcRecordRow]] = relationship(lazy="selectin", order_by="WarcRecordRow.role")

    @staticmethod
    def values_from(record: Record, document_id: int) -> dict[str, Any]:
        """Return the column values of `record`'s row in document `document_id` (plain values, as inserted)."""
        prov = record.provenance
        return {
            "id": record.id,
            "document_id": document_id,
            "crawl_id": prov.crawl_id,
            "source_url": record.source_url,
            "canonical_url": record.canonical_url,
            "claimed_url": record.claimed_url,
            "site": record.site,
            "site_key": site_key(record.site),
            "site_name": record.site_name,
            "title": record.title,
            "authors": list(record.authors),
            "published": record.published,
            "language": record.language,
            "tags": list(record.tags),
            "description": record.description,
            "word_count": record.word_count,
            "payload_sha256": record.payload_sha256,
            "text_sha256": record.text_sha256,
            "source_kind": prov.source_kind,
            "source_location": prov.source_location,
            "source_record_id": prov.source_record_id,
            "captured_at": prov.captured_at,
            "archived_at": prov.archived_at,
            "media_type": prov.media_type,
            "encoding": prov.encoding,
            "http_status": prov.http_status,
            "http_headers": [list(pair) for pair in prov.http_headers],
            "extractor": prov.extractor,
            "extractor_version": prov.extractor_version,
            "extractor_options": dict(prov.extractor_options),
            "project_version": prov.project_version,
            "input_word_count": prov.input_word_count,
            "no_text": prov.no_text,
            "previous_id": None,
        }

    def to_record(self) -> Record:
        """Return the domain record this row holds, text included."""
        locations = {f"warc_{w.role}": WarcLocation(w.file, w.offset, w.length, w.record_id) for w in self.warc_records}
        return Record(
            id=self.id,
            source_url=self.source_url,
            canonical_url=self.canonical_url,
            site=self.site,
            site_name=self.site_name,
            title=self.title,
            authors=tuple(self.authors),
            published=self.published,
            language=self.language,
            tags=tuple(self.tags),
            description=self.description,
            text=self.document.text,
            word_count=self.word_count,
            payload_sha256=self.payload_sha256,
            text_sha256=self.text_sha256,
            claimed_url=self.claimed_url,
            provenance=Provenance(
                source_kind=self.source_kind,
                source_location=self.source_location,
                captured_at=self.captured_at,
                media_type=self.media_type,
                encoding=self.encoding,
                http_status=self.http_status,
                http_headers=tuple((str(k), str(v)) for k, v in self.http_headers),
                extractor=self.extractor,
                extractor_version=self.extractor_version,
                extractor_options=dict(self.extractor_options),
                project_version=self.project_version,
                input_word_count=self.input_word_count,
                no_text=self.no_text,
                crawl_id=self.crawl_id,
                source_record_id=self.source_record_id,
                archived_at=self.archived_at,
                **locations,
            ),
        )


class WarcRecordRow(Base):
    """Where one WARC record of a capture lives: file, offset, length, record id."""

    __tablename__ = "warc_records"
    __table_args__ = (
        UniqueConstraint("capture_id", "role", name="uq_warc_records_capture_role"),
        Index("ix_warc_records_file", "file"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    capture_id: Mapped[str] = mapped_column(ForeignKey("captures.id", ondelete="CASCADE"))
    role: Mapped[str] = mapped_column(String(16))
    file: Mapped[str] = mapped_column(Text)
    offset: Mapped[int] = mapped_column(BigInteger)
    length: Mapped[int] = mapped_column(BigInteger)
    record_id: Mapped[str] = mapped_column(String(100))

    @staticmethod
    def values_from(record: Record) -> list[dict[str, Any]]:
        """Return the column values of each WARC record the capture `record` points at, by role."""
        return [
            {
                "capture_id": record.id,
                "role": role,
                "file": loc.file,
                "offset": loc.offset,
                "length": loc.length,
                "record_id": loc.record_id,
            }
            for role, loc in _locations(record.provenance).items()
        ]


class RevisitRow(Base):
    """A revisit this archive wrote: the capture it repeats, the URL and time of the visit, its WARC record's id.

    No WARC location: the record is found by its id or the CDXJ index. A visit is its URL and
    time: a replayed revisit whose visit is here is one this archive holds already, so replaying
    its file again writes it no more (whichever capture it was found to repeat).
    """

    __tablename__ = "revisits"
    __table_args__ = (
        Index("ix_revisits_capture_id", "capture_id"),
        Index("uq_revisits_visit", "url", "captured_at", unique=True),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    capture_id: Mapped[str] = mapped_column(ForeignKey("captures.id", ondelete="CASCADE"))
    crawl_id: Mapped[str | None] = mapped_column(ForeignKey("crawls.id"))
    url: Mapped[str] = mapped_column(Text)
    captured_at: Mapped[str] = mapped_column(String(40))
    profile: Mapped[str] = mapped_column(String(32))
    record_id: Mapped[str] = mapped_column(String(100))


def site_key(site: str | None) -> str | None:
    """Return the index key of a site: its labels reversed, each followed by a dot."""
    return "".join(f"{label}." for label in reversed(site.lower().split("."))) if site else None


def facet(kind: str, value: str) -> str:
    """Return the search token of one filter value: letters and digits only, so every tokenizer keeps it whole."""
    return "zf" + hashlib.blake2b(f"{kind}\0{value}".encode(), digest_size=8).hexdigest()


def site_facets(key: str | None) -> list[str]:
    """Return the tokens of a site key: one per label prefix ("org.", "org.example.", ...), as --site matches."""
    labels = key.split(".")[:-1] if key else []
    return [facet("site", "".join(f"{label}." for label in labels[: i + 1])) for i in range(len(labels))]


def capture_facets(site: str | None, language: str | None) -> set[str]:
    """Return the facet tokens of a capture from its site and language."""
    found = set(site_facets(site_key(site)))
    if language:
        found.add(facet("language", language.lower()))
    return found


def _locations(prov: Provenance) -> dict[str, WarcLocation]:
    found = {role: getattr(prov, f"warc_{role}") for role in ROLES}
    return {role: loc for role, loc in found.items() if loc is not None}


class SitePage(Base):
    """A URL whose lines are counted in site_lines (once, however often it is captured)."""

    __tablename__ = "site_pages"

    site: Mapped[str] = mapped_column(String(255), primary_key=True)
    url_key: Mapped[str] = mapped_column(String(16), primary_key=True)


class SiteLine(Base):
    """How many URLs of a site carry a line (by scraper.evidence.line_key): cross-capture evidence."""

    __tablename__ = "site_lines"

    site: Mapped[str] = mapped_column(String(255), primary_key=True)
    line_key: Mapped[str] = mapped_column(String(16), primary_key=True)
    urls: Mapped[int] = mapped_column(Integer)


class DocumentSignature(Base):
    """A document's MinHash signatures (scraper.similarity): word shingles, and key terms when it has any."""

    __tablename__ = "document_signatures"

    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"), primary_key=True)
    shingles: Mapped[bytes] = mapped_column(LargeBinary)
    story: Mapped[bytes | None] = mapped_column(LargeBinary)


class DocumentBand(Base):
    """One LSH band key of a document's signature: documents sharing a key are candidates."""

    __tablename__ = "document_bands"
    __table_args__ = (Index("ix_document_bands_document_id", "document_id"),)

    kind: Mapped[int] = mapped_column(SmallInteger, primary_key=True)  # 1 shingles, 2 key terms
    band_key: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"), primary_key=True)


class TermDocuments(Base):
    """How many documents hold a term (by scraper.similarity.term_hash): inverse document frequency."""

    __tablename__ = "term_documents"

    # On SQLite the rowid itself (INTEGER, 64-bit): one B-tree per term count, not a table and an index.
    term: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=False
    )
    documents: Mapped[int] = mapped_column(Integer)
