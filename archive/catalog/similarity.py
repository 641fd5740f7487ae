"""Near-duplicates and same-story groups: LSH candidates from the catalog, verified, then grouped.

Each new document stores its two MinHash signatures and their band keys; documents that
share a band key are candidates. A candidate pair is a near-duplicate when the shingle
signatures agree on at least NEAR_DUPLICATE of their permutations, and the same story when
the TF-IDF cosine of the texts reaches SAME_STORY and their publication dates (when both are
known) are at most STORY_WINDOW_DAYS apart. Stories are the connected groups of such pairs.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import Connection, Engine, Select, and_, case, func, select
from sqlalchemy.orm import Session

from archive.catalog._sql import any_of, chunks, dialect_insert, insert_many
from archive.catalog.engine import statement_timeout
from archive.catalog.filters import SearchFilters
from archive.catalog.models import CaptureRow, Document, DocumentBand, DocumentSignature, TermDocuments
from archive.catalog.search import filtered
from scraper.similarity import (
    DUPLICATE_ROWS,
    NEAR_DUPLICATE,
    SAME_STORY,
    STORY_ROWS,
    STORY_WINDOW_DAYS,
    Signatures,
    TextFeatures,
    band_keys,
    candidate_idf,
    cosine,
    estimated_jaccard,
    idf_from,
    signed,
    term_hash,
    term_vector,
    text_features,
)

__all__ = [
    "DocumentFacts",
    "Related",
    "Similar",
    "Story",
    "capture_facts",
    "count_terms",
    "document_signatures",
    "facts",
    "find_stories",
    "index_documents",
    "index_missing",
    "related",
    "similar",
    "stories",
]

DUPLICATE, STORY = 1, 2  # document_bands.kind
# A band key shared by more documents says little: a stock phrase, a boilerplate-only text, a
# key term of a whole beat (a president's name over years of news). Skipping such buckets
# keeps the candidates per document bounded as the catalog grows.
MAX_BUCKET = {DUPLICATE: 1000, STORY: 200}


@dataclass(frozen=True, slots=True)
class Related:
    """A document related to another: how, and how strongly (Jaccard estimate or cosine)."""

    document_id: int
    relation: str  # "near-duplicate" or "same story"
    score: float


@dataclass(frozen=True, slots=True)
class DocumentFacts:
    """What a story listing shows of one document: its newest capture and its dates."""

    document_id: int
    record_id: str
    url: str
    title: str | None
    sites: tuple[str, ...]  # hosts; a saved file without a URL is named by its file name
    captures: int
    published: str | None
    captured_at: str

    @property
    def day(self) -> str:
        """Return the date the document stands for: publication, else first capture."""
        return (self.published or self.captured_at)[:10]


@dataclass(frozen=True, slots=True)
class Story:
    """Documents that tell one story, oldest first."""

    documents: tuple[DocumentFacts, ...]

    @property
    def sites(self) -> list[str]:
        return sorted({site for d in self.documents for site in d.sites})

    @property
    def first(self) -> str:
        return min(self._days())

    @property
    def last(self) -> str:
        return max(self._days())

    def _days(self) -> list[str]:
        """Publication dates when any document has one (a capture date says when we looked, not when it ran)."""
        published = [d.published[:10] for d in self.documents if d.published]
        return published or [d.day for d in self.documents]


@dataclass(frozen=True, slots=True)
class Similar:
    """A document (or capture) related to a record: "same text", "near-duplicate" or "same story"."""

    relation: str
    score: float
    document: DocumentFacts


def similar(engine: Engine, capture_id: str) -> list[Similar]:
    """Return what shares the text or story of a capture: same text, near-duplicates, same story."""
    with Session(engine) as session, statement_timeout(session):  # bounded as a search is
        connection = session.connection()
        document_id = connection.execute(select(CaptureRow.document_id).where(CaptureRow.id == capture_id)).scalar_one()
        same_text = connection.execute(
            select(CaptureRow.id).where(CaptureRow.document_id == document_id, CaptureRow.id != capture_id)
        ).scalars()
        found = [Similar("same text", 1.0, f) for f in capture_facts(connection, list(same_text))]
        neighbours = related(connection, document_id)
        known = facts(connection, [n.document_id for n in neighbours])
        found += [Similar(n.relation, n.score, known[n.document_id]) for n in neighbours if n.document_id in known]
    return found


def stories(engine: Engine, filters: SearchFilters, *, min_size: int = 2, limit: int | None = None) -> list[Story]:
    """Return groups of documents that tell one story, largest first; `filters` narrow them as a search's do."""
    scope = filtered(select(CaptureRow.document_id), filters).distinct()
    with Session(engine) as session, statement_timeout(session):  # bounded as a search is
        connection = session.connection()
        groups = find_stories(connection, scope, min_size=min_size)[:limit]
        known = facts(connection, [doc for group in groups for doc in group])
    found = [Story(tuple(sorted((known[d] for d in g if d in known), key=lambda f: f.day))) for g in groups]
    return sorted(found, key=lambda s: (-len(s.documents), s.first))


def index_documents(connection: Connection, signed: Mapping[int, Signatures]) -> None:
    """Store new documents' signatures and band keys (document id -> signatures), each table in one statement.

    Count their terms with count_terms, once. Rows go in key order, so concurrent writers lock them in one order.
    """
    if not signed:
        return
    dialect = connection.dialect.name
    insert_many(
        connection,
        dialect_insert(dialect, DocumentSignature).on_conflict_do_nothing(index_elements=["document_id"]),
        [{"document_id": d, "shingles": s.shingles, "story": s.story} for d, s in sorted(signed.items())],
    )
    keys: set[tuple[int, int, int]] = set()
    for document_id, found in signed.items():
        keys.update((DUPLICATE, key, document_id) for key in band_keys(found.shingles, DUPLICATE_ROWS))
        if found.story:
            keys.update((STORY, key, document_id) for key in band_keys(found.story, STORY_ROWS))
    rows = [{"kind": kind, "band_key": key, "document_id": d} for kind, key, d in sorted(keys)]
    insert_many(connection, dialect_insert(dialect, DocumentBand).on_conflict_do_nothing(), rows)


def count_terms(connection: Connection, counts: Mapping[int, int]) -> None:
    """Add new documents' term counts (documents per term hash) to term_documents.

    Rows of many terms per statement, in ascending term order: concurrent
    writers then lock the rows in one order and cannot deadlock on them.
    """
    if not counts:
        return
    table = TermDocuments.__table__
    upsert = dialect_insert(connection.dialect.name, TermDocuments)
    upsert = upsert.on_conflict_do_update(
        index_elements=["term"], set_={"documents": table.c.documents + upsert.excluded.documents}
    )
    ordered = sorted(counts)  # the keys alone: a third less time than sorting (term, count) pairs
    insert_many(connection, upsert, [{"term": t, "documents": counts[t]} for t in ordered])


def document_signatures(
    connection: Connection, documents: Sequence[tuple[int, TextFeatures]], catalog_size: int | None = None
) -> dict[int, Signatures]:
    """Return documents' signatures (id -> signatures) from (id, text features), key terms weighed by the catalog.

    The catalog's counts of the candidate key terms are read once for the whole batch. Its size
    is `catalog_size`, or for a document just added its own id: the highest id, the catalog as it
    stood when it joined.
    """
    # Only terms some text of the batch holds are looked up; a term of a title alone counts 0 in
    # the catalog unless another text of the batch holds it. The stored signatures were made so.
    within = {key for _, features in documents for key in features.term_keys()}
    wanted = sorted({key for _, features in documents for key in features.candidate_keys()} & within)
    frequency = dict(_frequencies(connection, wanted))
    return {
        document_id: signed(features, candidate_idf(catalog_size or document_id, frequency))
        for document_id, features in documents
    }


def _documents(connection: Connection) -> int:
    """Return about how many documents the catalog holds: the highest id, read from the index, no scan."""
    return int(connection.execute(select(func.max(Document.id))).scalar() or 0)


def index_missing(connection: Connection) -> int:
    """Index every document that has no signatures yet (after an upgrade); return how many."""
    missing = (
        select(Document.id, Document.title, Document.text)
        .outerjoin(DocumentSignature, DocumentSignature.document_id == Document.id)
        .where(DocumentSignature.document_id.is_(None))
        .order_by(Document.id)
    )
    done = 0
    for row in connection.execute(missing).fetchall():
        found = document_signatures(connection, [(row.id, text_features(row.text, row.title))], _documents(connection))
        index_documents(connection, found)
        count_terms(connection, dict.fromkeys(found[row.id].terms, 1))
        done += 1
    return done


def related(connection: Connection, document_id: int) -> list[Related]:
    """Return the near-duplicates and same-story documents of one document, strongest first."""
    own = set(
        connection.execute(
            select(DocumentBand.kind, DocumentBand.band_key).where(DocumentBand.document_id == document_id)
        )
    )
    sizes = (
        select(DocumentBand.kind, DocumentBand.band_key)
        .where(DocumentBand.band_key.in_(sorted({key for _, key in own})))
        .group_by(DocumentBand.kind, DocumentBand.band_key)
        .having(func.count() <= _bucket_limit(DocumentBand.kind))
    )
    usable = sorted({key for kind, key in connection.execute(sizes) if (kind, key) in own})
    candidates = (
        select(DocumentBand.document_id)
        .where(DocumentBand.band_key.in_(usable), DocumentBand.document_id != document_id)
        .distinct()
    )
    pairs = [(document_id, other) for other in connection.execute(candidates).scalars()]
    verdicts = _Verifier(connection).judge(pairs)
    out = [Related(b, relation, score) for (_, b), (relation, score) in verdicts.items()]
    return sorted(out, key=lambda r: (r.relation != "near-duplicate", -r.score, r.document_id))


def find_stories(connection: Connection, scope: Select[Any], min_size: int = 2) -> list[list[int]]:
    """Return the groups of documents in `scope` (a select of document ids) that tell one story."""
    pairs = _candidate_pairs(connection, scope)
    verdicts = _Verifier(connection).judge(pairs)
    groups = _components(verdicts)
    return sorted((g for g in groups if len(g) >= min_size), key=lambda g: (-len(g), g[0]))


_FACT_COLUMNS = (
    CaptureRow.document_id,
    CaptureRow.id,
    CaptureRow.canonical_url,
    CaptureRow.title,
    CaptureRow.site,
    CaptureRow.published,
    CaptureRow.captured_at,
)


def facts(connection: Connection, document_ids: Collection[int]) -> dict[int, DocumentFacts]:
    """Return each document's newest capture, its sites, its earliest publication and capture dates."""
    rows: dict[int, list[Any]] = {}
    for chunk in chunks(sorted(document_ids)):
        query = (
            select(*_FACT_COLUMNS)
            .where(CaptureRow.document_id.in_(chunk))
            .order_by(CaptureRow.captured_at.desc(), CaptureRow.id)
        )
        for row in connection.execute(query):
            rows.setdefault(row.document_id, []).append(row)
    return {doc: _facts(doc, captures) for doc, captures in rows.items()}


def capture_facts(connection: Connection, capture_ids: Collection[str]) -> list[DocumentFacts]:
    """Return the facts of single captures (each as if it were its document's only one), oldest first."""
    query = select(*_FACT_COLUMNS).where(CaptureRow.id.in_(sorted(capture_ids))).order_by(CaptureRow.captured_at)
    return [_facts(row.document_id, [row]) for row in connection.execute(query)]


def _facts(document_id: int, captures: list[Any]) -> DocumentFacts:
    newest = captures[0]
    published = [c.published for c in captures if c.published]
    return DocumentFacts(
        document_id=document_id,
        record_id=newest.id,
        url=newest.canonical_url,
        title=newest.title,
        sites=tuple(sorted({c.site or _file_name(c.canonical_url) for c in captures})),
        captures=len(captures),
        published=min(published) if published else None,
        captured_at=min(c.captured_at for c in captures),
    )


def _bucket_limit(kind: Any) -> Any:
    return case(*((kind == k, limit) for k, limit in MAX_BUCKET.items()), else_=0)


def _file_name(url: str) -> str:
    """Return what names a capture that has no site (a saved file): its file name."""
    return url.rstrip("/").rpartition("/")[2] or url


def _candidate_pairs(connection: Connection, scope: Select[Any]) -> list[tuple[int, int]]:
    scoped = select(DocumentBand).where(DocumentBand.document_id.in_(scope)).cte("scoped")
    useful = (
        select(scoped.c.kind, scoped.c.band_key)
        .group_by(scoped.c.kind, scoped.c.band_key)
        .having(and_(func.count() > 1, func.count() <= _bucket_limit(scoped.c.kind)))
        .cte("useful")
    )
    left, right = scoped.alias("l"), scoped.alias("r")
    query = (
        select(left.c.document_id, right.c.document_id)
        .join(useful, and_(useful.c.kind == left.c.kind, useful.c.band_key == left.c.band_key))
        .join(
            right,
            and_(
                right.c.kind == left.c.kind,
                right.c.band_key == left.c.band_key,
                right.c.document_id > left.c.document_id,
            ),
        )
        .distinct()
    )
    return [(a, b) for a, b in connection.execute(query)]


class _Verifier:
    """Decides candidate pairs, loading each document's signature, terms and date once."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.shingles: dict[int, bytes] = {}
        self.vectors: dict[int, dict[str, int]] = {}
        self.days: dict[int, date | None] = {}
        self.idf: Callable[[str], float] = lambda _term: 1.0

    def judge(self, pairs: Sequence[tuple[int, int]]) -> dict[tuple[int, int], tuple[str, float]]:
        """Return the pairs that are near-duplicates or the same story, with the relation and score."""
        self._load({doc for pair in pairs for doc in pair})
        verdicts: dict[tuple[int, int], tuple[str, float]] = {}
        for a, b in pairs:
            verdict = self._judge(a, b)
            if verdict is not None:
                verdicts[(a, b)] = verdict
        return verdicts

    def _judge(self, a: int, b: int) -> tuple[str, float] | None:
        jaccard = estimated_jaccard(self.shingles.get(a, b""), self.shingles.get(b, b""))
        if jaccard >= NEAR_DUPLICATE:
            return "near-duplicate", jaccard
        day_a, day_b = self.days.get(a), self.days.get(b)
        if day_a is not None and day_b is not None and abs((day_a - day_b).days) > STORY_WINDOW_DAYS:
            return None
        score = cosine(self.vectors.get(a, {}), self.vectors.get(b, {}), self.idf)
        return ("same story", score) if score >= SAME_STORY else None

    def _load(self, documents: set[int]) -> None:
        wanted = sorted(documents)
        for chunk in chunks(wanted):
            query = (
                select(Document.id, Document.text, DocumentSignature.shingles)
                .join(DocumentSignature, DocumentSignature.document_id == Document.id)
                .where(Document.id.in_(chunk))
            )
            for row in self.connection.execute(query):
                self.shingles[row.id] = row.shingles
                self.vectors[row.id] = term_vector(row.text)
        self.days = {doc: _day(f.published) for doc, f in facts(self.connection, wanted).items()}
        terms = sorted({term_hash(t) for vector in self.vectors.values() for t in vector})
        frequency = dict(_frequencies(self.connection, terms))
        self.idf = idf_from(_documents(self.connection), frequency)


def _frequencies(connection: Connection, terms: list[int]) -> Iterable[tuple[int, int]]:
    """Yield (term hash, documents holding it) for the terms the catalog has counted."""
    for condition in any_of(TermDocuments.term, terms, connection.dialect.name):
        query = select(TermDocuments.term, TermDocuments.documents).where(condition)
        yield from connection.execute(query).all()  # fetched at once: a row at a time costs more


def _day(published: str | None) -> date | None:
    try:
        return date.fromisoformat(published[:10]) if published else None
    except ValueError:
        return None


def _components(pairs: Iterable[tuple[int, int]]) -> list[list[int]]:
    parent: dict[int, int] = {}

    def root(node: int) -> int:
        parent.setdefault(node, node)
        while parent[node] != node:
            parent[node] = parent[parent[node]]
            node = parent[node]
        return node

    for a, b in pairs:
        parent[root(a)] = root(b)
    groups: dict[int, list[int]] = {}
    for node in parent:
        groups.setdefault(root(node), []).append(node)
    return [sorted(g) for g in groups.values()]
