"""Writing captures into the catalog: their documents (indexed for search and similarity), rows and versions.

A capture's WARC records are durable before it gets here. Rows go in key order, table by table
(documents, captures, term counts), so two writers sharing rows take their locks in one order.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Sequence

from sqlalchemy import Engine, bindparam, literal, select, update
from sqlalchemy.orm import Session

from archive.catalog._sql import chunks, dialect_insert, insert_many, table_of
from archive.catalog.captures import drop_unheld_documents
from archive.catalog.models import CaptureRow, Document, WarcRecordRow, capture_facets
from archive.catalog.similarity import count_terms, document_signatures, index_documents
from scraper import Record
from scraper.similarity import TextFeatures, text_features

__all__ = ["add_records", "replace_extractions"]


def add_records(engine: Engine, records: Sequence[Record]) -> int:
    """Insert records (their WARC records already durable); return how many were new.

    Each table takes the batch in one statement of many rows (its key order), not a round trip per row.
    """
    with Session(engine) as session, session.begin():
        terms: Counter[int] = Counter()
        documents = _documents_of(session, records, terms)
        first: dict[str, Record] = {}
        for record in sorted(records, key=lambda r: r.id):
            first.setdefault(record.id, record)
        values = [CaptureRow.values_from(r, documents[r.text_sha256]) for r in first.values()]
        insert = dialect_insert(engine.dialect.name, CaptureRow).on_conflict_do_nothing(index_elements=["id"])
        inserted = {row.id for row in insert_many(session.connection(), insert, values, [CaptureRow.id])}
        _insert_locations(session, [r for i, r in first.items() if i in inserted])
        count_terms(session.connection(), terms)
        _relink(session, {r.canonical_url for r in records})
    return len(inserted)


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
            row = CaptureRow.values_from(record, documents[record.text_sha256])
            values = {key: value for key, value in row.items() if key not in kept}
            session.execute(update(CaptureRow).where(CaptureRow.id == record.id).values(**values))
            roles = ("conversion", "metadata")
            session.execute(
                table_of(WarcRecordRow)
                .delete()
                .where(WarcRecordRow.capture_id == record.id, WarcRecordRow.role.in_(roles))
            )
            _insert_locations(session, [record], roles)
            replaced += 1
        count_terms(session.connection(), terms)
        drop_unheld_documents(session, before)
        _relink(session, {r.canonical_url for r in records})  # a new text can make or end a version
    return replaced


def _documents_of(session: Session, records: Sequence[Record], terms: Counter[int]) -> dict[str, int]:
    """Return the document id of each record's text (text digest -> id), creating and indexing new ones.

    New texts are inserted in one statement; the texts the catalog holds already are read in one
    query per chunk and given the batch's facets they lack. New documents' terms are added to `terms`.
    """
    facets: dict[str, set[str]] = {}
    first: dict[str, Record] = {}
    for record in records:
        facets.setdefault(record.text_sha256, set()).update(capture_facets(record.site, record.language))
        first.setdefault(record.text_sha256, record)
    digests = sorted(first)
    if not digests:
        return {}
    values = [Document.values_from(first[d]) | {"facets": " ".join(sorted(facets[d]))} for d in digests]
    insert = dialect_insert(session.get_bind().dialect.name, Document).on_conflict_do_nothing(
        index_elements=["text_sha256"]
    )
    returned = insert_many(session.connection(), insert, values, [Document.text_sha256, Document.id])
    created: dict[str, int] = {row.text_sha256: row.id for row in returned}
    known = [d for d in digests if d not in created]
    documents = created | _add_facets(session, known, facets)
    _index_new(session, [(created[d], first[d]) for d in digests if d in created], terms)
    return documents


def _add_facets(session: Session, digests: Sequence[str], facets: dict[str, set[str]]) -> dict[str, int]:
    """Return the ids of documents the catalog holds (by text digest), each given the facets it lacks.

    The same text at another site or in another language: its filters must find it there too.
    """
    found: dict[str, int] = {}
    for chunk in chunks(digests):
        query = select(Document.text_sha256, Document.id, Document.facets).where(Document.text_sha256.in_(chunk))
        for digest, document_id, held in sorted(session.execute(query).all()):
            found[digest] = int(document_id)
            for token in sorted(facets[digest] - set(held.split())):
                spaced = literal(" ") + Document.facets + literal(" ")
                session.execute(
                    update(Document)
                    .where(Document.id == document_id, spaced.not_like(f"% {token} %"))
                    .values(facets=Document.facets + literal(" " + token))
                )
    return found


def _index_new(session: Session, created: Sequence[tuple[int, Record]], terms: Counter[int]) -> None:
    """Index new documents (id, a record holding its text) for similarity; add their terms to `terms`.

    The records carry their text features when extraction computed them; the catalog weighs them and writes.
    """
    connection = session.connection()
    found = document_signatures(connection, [(document_id, _features_of(r)) for document_id, r in created])
    index_documents(connection, found)
    for signed in found.values():
        terms.update(signed.terms)


def _features_of(record: Record) -> TextFeatures:
    """Return the text features `record` carries if they are of its text and title, else compute them."""
    found = record.text_features
    if found is not None and found.fit(record.text_sha256, record.title):
        return found
    return text_features(record.text, record.title, record.text_sha256)


def _insert_locations(session: Session, captures: Sequence[Record], roles: Collection[str] | None = None) -> None:
    """Insert where the captures' WARC records are, in one statement; only those of `roles` if given."""
    values = [
        location
        for record in captures
        for location in WarcRecordRow.values_from(record)
        if roles is None or location["role"] in roles
    ]
    insert_many(session.connection(), table_of(WarcRecordRow).insert(), values)


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
