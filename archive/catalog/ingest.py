"""Writing captures into the catalog: their documents (indexed for search and similarity), rows and versions.

A capture's WARC records are durable before it gets here. Rows go in key order, table by table
(documents, captures, term counts), so two writers sharing rows take their locks in one order.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Iterable, Sequence

from sqlalchemy import Engine, bindparam, literal, select, update
from sqlalchemy.orm import Session

from archive.catalog._sql import chunks, table_of
from archive.catalog.captures import drop_unheld_documents
from archive.catalog.engine import insert_ignore
from archive.catalog.models import CaptureRow, Document, WarcRecordRow, capture_facets
from archive.catalog.similarity import count_terms, document_signatures, index_document
from scraper import Record

__all__ = ["add_records", "replace_extractions"]


def add_records(engine: Engine, records: Sequence[Record]) -> int:
    """Insert records (their WARC records already durable); return how many were new."""
    inserted = 0
    with Session(engine) as session, session.begin():
        terms: Counter[int] = Counter()
        documents = _documents_of(session, records, terms)
        for record in sorted(records, key=lambda r: r.id):
            row = CaptureRow.from_record(record, documents[record.text_sha256])
            values = {c.key: getattr(row, c.key) for c in table_of(CaptureRow).columns}
            insert = insert_ignore(engine.dialect.name, CaptureRow, values, ["id"]).returning(CaptureRow.id)
            if session.execute(insert).first() is not None:
                inserted += 1
                _insert_locations(session, record.id, row.warc_records)
        count_terms(session.connection(), terms)
        _relink(session, {r.canonical_url for r in records})
    return inserted


def replace_extractions(engine: Engine, records: Sequence[Record]) -> int:
    """Give captures the catalog holds their new extraction; return how many it held.

    Each record is a capture already in the catalog with a new text and metadata, whose
    conversion and metadata WARC records are written and durable. The capture's row takes the
    new values and points at the new records (its raw and request records stay); it moves to
    the document holding its new text, and a document no capture holds any more is dropped. The
    URL's versions are linked again: a new text can start a version or end one.
    """
    replaced = 0
    kept = {"id", "previous_id"}
    with Session(engine) as session, session.begin():
        terms: Counter[int] = Counter()
        documents = _documents_of(session, records, terms)
        before: set[int] = set()
        for record in sorted(records, key=lambda r: r.id):
            old = session.scalar(select(CaptureRow.document_id).where(CaptureRow.id == record.id))
            if old is None:
                continue
            before.add(old)
            row = CaptureRow.from_record(record, documents[record.text_sha256])
            values = {c.key: getattr(row, c.key) for c in table_of(CaptureRow).columns if c.key not in kept}
            session.execute(update(CaptureRow).where(CaptureRow.id == record.id).values(**values))
            roles = ("conversion", "metadata")
            session.execute(
                table_of(WarcRecordRow)
                .delete()
                .where(WarcRecordRow.capture_id == record.id, WarcRecordRow.role.in_(roles))
            )
            _insert_locations(session, record.id, [w for w in row.warc_records if w.role in roles])
            replaced += 1
        count_terms(session.connection(), terms)
        drop_unheld_documents(session, before)
        _relink(session, {r.canonical_url for r in records})  # a new text can make or end a version
    return replaced


def _documents_of(session: Session, records: Sequence[Record], terms: Counter[int]) -> dict[str, int]:
    """Return the document id of each record's text (text digest -> id), creating and indexing new ones."""
    documents: dict[str, int] = {}
    facets: dict[str, set[str]] = {}
    for record in records:
        facets.setdefault(record.text_sha256, set()).update(capture_facets(record.site, record.language))
    for record in sorted(records, key=lambda r: r.text_sha256):
        if record.text_sha256 not in documents:
            documents[record.text_sha256] = _document_id(session, record, facets[record.text_sha256], terms)
    return documents


def _document_id(session: Session, record: Record, facets: set[str], terms: Counter[int]) -> int:
    """Return the id of the document holding `record`'s text, with `facets` among its facets.

    A new document is indexed, its terms added to `terms`.
    """
    values = Document.values_from(record) | {"facets": " ".join(sorted(facets))}
    dialect = session.get_bind().dialect.name
    created = session.execute(insert_ignore(dialect, Document, values, ["text_sha256"]).returning(Document.id)).first()
    if created is None:
        known = session.execute(
            select(Document.id, Document.facets).where(Document.text_sha256 == record.text_sha256)
        ).one()
        # The same text at another site or in another language: its filters must find it there too.
        for token in sorted(facets - set(known.facets.split())):
            spaced = literal(" ") + Document.facets + literal(" ")
            session.execute(
                update(Document)
                .where(Document.id == known.id, spaced.not_like(f"% {token} %"))
                .values(facets=Document.facets + literal(" " + token))
            )
        return int(known.id)
    connection = session.connection()
    found = document_signatures(connection, record.text, record.title)
    index_document(connection, created.id, found)
    terms.update(found.terms)
    return int(created.id)


def _insert_locations(session: Session, capture_id: str, rows: Iterable[WarcRecordRow]) -> None:
    """Insert a capture's WARC record locations."""
    for warc in rows:
        values = {c.key: getattr(warc, c.key) for c in table_of(WarcRecordRow).columns if c.key != "id"}
        session.execute(table_of(WarcRecordRow).insert().values({**values, "capture_id": capture_id}))


def _relink(session: Session, urls: Collection[str]) -> None:
    """Point each capture of these canonical URLs at the capture it replaced, if any.

    A capture replaces the URL's capture just before it (by capture time, then id: the order of
    `history`) when their texts differ; the same text again is no new version. Every capture of
    the URL is looked at, so a capture archived late (an old WARC file replayed after newer
    crawls) or given a new text (`reextract`) links its neighbours right too. The rows are read
    FOR UPDATE: on PostgreSQL a concurrent writer of the same URL waits, then is read as committed.
    """
    captures = table_of(CaptureRow)
    for chunk in chunks(sorted(urls)):
        rows = session.execute(
            select(captures.c.id, captures.c.canonical_url, captures.c.text_sha256, captures.c.previous_id)
            .where(captures.c.canonical_url.in_(chunk), captures.c.no_text.is_(None))  # no text: no version
            .order_by(captures.c.canonical_url, captures.c.captured_at, captures.c.id)
            .with_for_update()
        ).all()
        changed = []
        for before, row in zip([None, *rows], rows, strict=False):
            replaced = None
            if (
                before is not None
                and before.canonical_url == row.canonical_url
                and before.text_sha256 != row.text_sha256
            ):
                replaced = before.id
            if row.previous_id != replaced:
                changed.append({"capture": row.id, "replaced": replaced})
        if changed:
            session.execute(
                update(captures).where(captures.c.id == bindparam("capture")).values(previous_id=bindparam("replaced")),
                changed,
            )
