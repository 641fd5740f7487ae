"""Full-text and filtered search: SQLite FTS5 with bm25, PostgreSQL tsvector in each document's language."""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    Boolean,
    ColumnElement,
    Engine,
    Integer,
    Select,
    String,
    Text,
    and_,
    cast,
    distinct,
    func,
    literal,
    literal_column,
    select,
    table,
    text,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.compiler import SQLCompiler

from archive.catalog._sql import table_of
from archive.catalog.engine import statement_timeout
from archive.catalog.filters import SORTS, SearchFilters, checked, id_prefix
from archive.catalog.models import CaptureRow, Document, facet, site_key
from archive.catalog.textsearch import CONFIGS, config_case
from archive.errors import UsageError
from scraper import Record

__all__ = [
    "MAX_QUERY_CHARS",
    "MAX_QUERY_WORDS",
    "RANK_WITHIN",
    "SearchHit",
    "count",
    "filtered",
    "query_words",
    "search",
]

_FTS_TOKEN = re.compile(r"[\w'’-]+", re.UNICODE)
# Every distinct word is one more index lookup and ranking term (and 16 on PostgreSQL, one per
# text-search configuration): the red team's 300 repeated words ran 49 s on 15 documents.
MAX_QUERY_CHARS = 1000
MAX_QUERY_WORDS = 64
# Ranking scores every document the words match: over 100,000 matches, most of a second on
# SQLite and more on PostgreSQL. When words (and --site/--language, which the text index holds)
# match more documents than this, relevance ranks the most recently archived RANK_WITHIN of them
# (highest document ids). With a filter the text index cannot see (dates, author, crawl,
# versions), every match is ranked, so the filter is never applied to a cut-down set.
RANK_WITHIN = 5_000


@dataclass(frozen=True, slots=True)
class SearchHit:
    """One search result: the record, its rank score (lower is better) and a snippet."""

    record: Record
    score: float | None
    snippet: str | None


def search(
    engine: Engine,
    query: str | None,
    filters: SearchFilters,
    *,
    versions: bool = False,
    sort: str = "relevance",
    limit: int = 20,
    offset: int = 0,
) -> list[SearchHit]:
    """Return records matching the full-text `query` and `filters`, in `sort` order, one page of them.

    `sort`: "relevance" (best match first; newest capture first without a query),
    "newest" or "oldest" capture, or "published" (newest publication date first).
    `versions`: only URLs whose text changed at least once.
    """
    if sort not in SORTS:
        raise ValueError(f"sort must be one of {', '.join(SORTS)}, not {sort!r}")
    query, filters = query_words(query), checked(filters)  # before a connection is opened
    with Session(engine) as session, statement_timeout(session):
        return _search(session, query, filters, versions=versions, sort=sort, limit=limit, offset=offset)


def query_words(query: str | None) -> str | None:
    """Return the query's words, each distinct one once (in the order given); UsageError: too long or too many."""
    if query is None:
        return None
    if len(query) > MAX_QUERY_CHARS:
        raise UsageError(f"the query is {len(query):,} characters long: at most {MAX_QUERY_CHARS:,} are allowed")
    seen: dict[str, str] = {}
    for word in query.split():
        seen.setdefault(word.casefold(), word)
    terms = {token.casefold() for token in _FTS_TOKEN.findall(query)}
    if len(terms) > MAX_QUERY_WORDS:
        raise UsageError(f"the query has {len(terms)} different words: at most {MAX_QUERY_WORDS} are allowed")
    return " ".join(seen.values())


def _search(
    session: Session, query: str | None, filters: SearchFilters, *, versions: bool, sort: str, limit: int, offset: int
) -> list[SearchHit]:
    dialect, tsquery, facets = _terms(session, query, filters)
    # The score orders only a relevance search; in another order it is worked out for the page alone.
    ranked = sort == "relevance"
    on_captures = versions or any(
        (filters.author, filters.since, filters.until, filters.captured_since, filters.captured_until, filters.crawl)
    )
    estimate = _pg_estimate(session, tsquery) if tsquery is not None else None  # SQLite: FTS5 needs none
    within = RANK_WITHIN if ranked and not on_captures and (estimate is None or estimate > RANK_WITHIN) else None
    match = None
    if query and query.strip():
        if within is not None and tsquery is not None:  # PostgreSQL: the newest, by id
            newest = _pg_newest(session, tsquery, facets, within, estimate or within)
            match = _fts(dialect, query, tsquery, facets, among=newest)
        else:
            dense = estimate is not None and estimate > 4 * RANK_WITHIN
            match = _fts(dialect, query, tsquery, facets, scored=ranked, within=within, dense=dense)
    every_capture_matches = not (on_captures or filters.site or filters.language)
    if match is not None and ranked and dialect == "postgresql" and every_capture_matches:
        match = _best_documents(match, offset + limit)
    stmt: Select[Any]
    if match is None:
        no_score: ColumnElement[Any] = literal_column("NULL")  # untyped: PostgreSQL sends it as text
        stmt = select(CaptureRow.id, CaptureRow.document_id, no_score)
    else:
        stmt = select(CaptureRow.id, CaptureRow.document_id, match.c.score).join(
            match, match.c.doc_id == CaptureRow.document_id
        )
    order = {
        "newest": (CaptureRow.captured_at.desc(),),
        "oldest": (CaptureRow.captured_at.asc(),),
        "published": (CaptureRow.published.is_(None), CaptureRow.published.desc(), CaptureRow.captured_at.desc()),
        "relevance": (match.c.score,) if match is not None else (CaptureRow.captured_at.desc(),),
    }[sort]
    stmt = _versions_only(filtered(stmt.order_by(*order, CaptureRow.id), filters), versions)
    # The page is chosen on ids and scores alone; its rows (with their documents' text) are read after.
    page: list[tuple[str, int, Any]] = [
        (capture, doc, score) for capture, doc, score in session.execute(stmt.limit(limit).offset(max(0, offset)))
    ]
    if match is not None and not ranked and page:  # scores for this page's documents only
        scored = _fts(dialect, query or "", tsquery, facets, scored=True, among=[doc for _, doc, _ in page])
        scores = {int(doc): score for doc, score in session.execute(select(scored.c.doc_id, scored.c.score))}
        page = [(capture, doc, scores.get(doc)) for capture, doc, _ in page]
    rows = {
        row.id: row for row in session.scalars(select(CaptureRow).where(CaptureRow.id.in_([c for c, _, _ in page])))
    }
    found = [(rows[capture], score) for capture, _, score in page]
    # Snippets for this page only: made per matching document, they cost more than the ranking.
    snippets = (
        _snippets(session, query or "", tsquery, {row.document_id for row, _ in found}) if match is not None else {}
    )
    return [
        SearchHit(row.to_record(), float(score) if score is not None else None, snippets.get(row.document_id))
        for row, score in found
    ]


def count(engine: Engine, query: str | None, filters: SearchFilters, *, versions: bool = False, cap: int) -> int:
    """Return how many captures `search` finds for these arguments, counting no further than `cap` + 1."""
    query, filters = query_words(query), checked(filters)
    with Session(engine) as session, statement_timeout(session):
        dialect, tsquery, facets = _terms(session, query, filters)
        match = _fts(dialect, query, tsquery, facets, scored=False) if query and query.strip() else None
        stmt: Select[Any] = select(CaptureRow.id)
        if match is not None:
            stmt = stmt.join(match, match.c.doc_id == CaptureRow.document_id)
        capped = _versions_only(filtered(stmt, filters), versions).limit(cap + 1).subquery()
        return int(session.execute(select(func.count()).select_from(capped)).scalar_one())


def _terms(session: Session, query: str | None, filters: SearchFilters) -> tuple[str, str | None, list[str]]:
    """Return the catalog's dialect, the query's PostgreSQL tsquery (None on SQLite or without words), its facets."""
    dialect = session.get_bind().dialect.name
    # PostgreSQL: the query's lexemes are worked out first and sent as a constant, so the
    # planner can estimate how many documents match and start from a selective filter.
    tsquery = _pg_tsquery(session, query) if dialect == "postgresql" and query and query.strip() else None
    if tsquery is not None:
        # The planner prices reading a row's tsvector (detoasting it) like reading any column, and
        # at times tests every document's instead of asking the text index: 200 ms for 11,000
        # matches of 100,000, 40 ms on the index. This search's own transaction keeps off it.
        session.execute(select(func.set_config("enable_seqscan", "off", True)))
    # Site and language are also tokens of each document (its captures' values): the text index
    # intersects them with the words; the exact conditions below still apply to each capture.
    facets = [facet("site", site_key(_bare_site(filters.site)) or "")] if filters.site else []
    facets += [facet("language", filters.language.lower())] if filters.language else []
    return dialect, tsquery, facets


def _versions_only(stmt: Select[Any], versions: bool) -> Select[Any]:
    """Return `stmt` kept to URLs whose text changed at least once, when `versions`."""
    if not versions:
        return stmt
    changed = (
        select(CaptureRow.canonical_url)
        .group_by(CaptureRow.canonical_url)
        .having(func.count(func.distinct(CaptureRow.text_sha256)) > 1)
    )
    return stmt.where(CaptureRow.canonical_url.in_(changed))


def filtered(stmt: Select[Any], filters: SearchFilters) -> Select[Any]:
    """Return `stmt` narrowed to the captures that meet `filters`; UsageError: a value is too long."""
    checked(filters)
    if filters.site:
        key = site_key(_bare_site(filters.site)) or ""
        # The site and its subdomains: every key that starts with it ("/" sorts right after ".").
        stmt = stmt.where(CaptureRow.site_key >= key, CaptureRow.site_key < key[:-1] + "/")
    if filters.author:
        stmt = stmt.where(_AuthorMatch(filters.author))
    if filters.language:
        stmt = stmt.where(CaptureRow.language == filters.language.lower())
    day = func.coalesce(CaptureRow.published, func.substr(CaptureRow.captured_at, 1, 10))
    if filters.since:
        stmt = stmt.where(day >= filters.since)
    if filters.until:
        stmt = stmt.where(day <= filters.until)
    captured_day = func.substr(CaptureRow.captured_at, 1, 10)
    if filters.captured_since:
        stmt = stmt.where(captured_day >= filters.captured_since)
    if filters.captured_until:
        stmt = stmt.where(captured_day <= filters.captured_until)
    if filters.crawl:
        stmt = stmt.where(id_prefix(CaptureRow.crawl_id, filters.crawl, "crawl"))
    return stmt


class _AuthorMatch(ColumnElement[bool]):
    """Whether one of a capture's authors contains `needle`, in any case (Unicode, not ASCII only).

    One element of the authors list, not the list's JSON text (where "[]" or a quote would match),
    and searched for with instr/strpos, never LIKE (where "_" and "%" are wildcards).
    """

    type = Boolean()
    inherit_cache = False  # the needle is an attribute the cache key does not see

    def __init__(self, needle: str) -> None:
        self.needle = needle


@compiles(_AuthorMatch, "sqlite")
def _author_match_sqlite(element: _AuthorMatch, compiler: SQLCompiler, **kw: Any) -> str:
    authors = compiler.process(table_of(CaptureRow).c.authors, **kw)
    needle = compiler.process(literal(element.needle.casefold()), **kw)
    return (
        f"EXISTS (SELECT 1 FROM json_each({authors}) AS author"
        f" WHERE instr(scraper_casefold(author.value), {needle}) > 0)"
    )


@compiles(_AuthorMatch, "postgresql")
def _author_match_postgresql(element: _AuthorMatch, compiler: SQLCompiler, **kw: Any) -> str:
    authors = compiler.process(table_of(CaptureRow).c.authors, **kw)
    needle = compiler.process(literal(element.needle, String), **kw)
    return (
        f"EXISTS (SELECT 1 FROM json_array_elements_text({authors}) AS author(name)"
        f" WHERE strpos(lower(author.name), lower({needle})) > 0)"
    )


def _pg_estimate(session: Session, tsquery: str) -> int:
    """Return how many documents the planner expects `tsquery` to match (from the text index's statistics)."""
    plan = session.execute(
        text("EXPLAIN (FORMAT JSON) SELECT 1 FROM documents WHERE search @@ CAST(:q AS tsquery)").bindparams(q=tsquery)
    ).scalar_one()
    return int(plan[0]["Plan"]["Plan Rows"])


def _pg_tsquery(session: Session, query: str) -> str:
    """Return the text of the query's tsquery: each configuration's distinct lexemes, ORed."""
    return str(session.execute(select(_tsquery(query))).scalar_one())


def _fts(
    dialect: str,
    query: str,
    tsquery: str | None,
    facets: Sequence[str],
    *,
    scored: bool = True,
    within: int | None = None,
    among: Sequence[int] | str | None = None,
    dense: bool = False,
) -> Any:
    """Return a subquery of (doc_id, score) for the documents matching the words and `facets`; None: no words.

    `scored`: the score is worked out (else NULL); `within` (SQLite): only the newest `within`
    matching documents (highest ids); `among`: only these documents, known to match (on
    PostgreSQL also as an array's text, "{7,5,2}"); `dense`
    (PostgreSQL): the words are in so many documents that a walk in the page's order meets
    matches soonest.
    """
    no_score: ColumnElement[Any] = literal_column("NULL")
    if dialect == "sqlite":
        fts_query = _fts5_query(query, facets)
        if not fts_query:
            return None
        doc_id: ColumnElement[Any] = literal_column("documents_fts.rowid")
        score = literal_column("bm25(documents_fts, 10.0, 1.0, 0.0)") if scored else no_score
        matching = (
            select(doc_id.label("doc_id"), score.label("score"))
            .select_from(table("documents_fts"))
            .where(text("documents_fts MATCH :fts_query").bindparams(fts_query=fts_query))
        )
    else:
        constant = cast(literal(tsquery or ""), postgresql.TSQUERY)
        search_column: ColumnElement[Any] = literal_column("documents.search")
        doc_id = Document.__table__.c.id
        # ts_rank: by the words' frequency, as SQLite's bm25 ranks. ts_rank_cd (cover density, which
        # also weighs how near the words stand) cost twice as much: 35 against 17 ms to score the 5,000
        # newest matches of a common word at 100,000 documents, most of the search page's time.
        score = -func.ts_rank(search_column, constant) if scored else no_score
        if among is not None:  # they match: scored by primary key, their tsvectors not tested again
            listed = among if isinstance(among, str) else "{" + ",".join(str(int(d)) for d in among) + "}"
            ids = cast(literal(listed, Text), postgresql.ARRAY(Integer))
            return select(doc_id.label("doc_id"), score.label("score")).where(doc_id == func.any(ids)).subquery()
        matching = select(doc_id.label("doc_id"), score.label("score")).where(_pg_matches(tsquery or "", facets))
        if dense:
            return matching.subquery()
        # Found on the text index first. Else the planner may walk captures in the page's order,
        # reading each one's tsvector, a long walk when few documents match.
        return matching.cte("matching").prefix_with("MATERIALIZED")
    if among is not None:
        # Tested on each match, not handed to FTS5 as rowid constraints: for each listed rowid FTS5
        # runs the whole query again (a page of 20 at 100,000 documents: 9 ms against 0.7).
        matching = matching.where((doc_id + literal_column("0")).in_([int(d) for d in among]))
    if within is not None:  # FTS5 reads a term's documents newest first, scoring those kept
        matching = matching.order_by(doc_id.desc()).limit(within)
    return matching.subquery()


def _pg_matches(tsquery: str, facets: Sequence[str]) -> ColumnElement[bool]:
    """Return the condition that a document holds the words (`tsquery`) and every facet token."""
    constant = cast(literal(tsquery), postgresql.TSQUERY)
    condition: ColumnElement[bool] = literal_column("documents.search").op("@@")(constant)
    if facets:
        tokens = cast(postgresql.array(list(facets)), postgresql.ARRAY(Text))
        condition = and_(condition, func.string_to_array(Document.facets, " ").op("@>")(tokens))
    return condition


def _pg_newest(session: Session, tsquery: str, facets: Sequence[str], within: int, estimate: int) -> str:
    """Return the ids of the newest `within` documents matching (highest ids), found on the text index.

    As a PostgreSQL array's text ("{7,5,2}"): thousands of ids go back to the server in the next
    statement, and as one string they cost nothing to read and send (as ints, 18 ms in Python).

    Walking the primary key backwards tests each row's tsvector, hundreds of ms for a common
    word; the planner prefers it all the same (it prices the test like reading any column). So
    index scans are off for this statement: the text index's matches are intersected with a
    range of the newest ids wide enough, by the planner's estimate of the words' share, to hold
    `within` of them (one and a half times that), then only those rows are read. When the
    estimate was too low the range falls short and every match is read instead.
    """
    newest = session.execute(select(func.max(Document.id))).scalar_one() or 0
    span = int(1.5 * within * newest / max(estimate, 1)) + within
    doc_id = Document.__table__.c.id

    def newest_ids(low: int | None) -> tuple[int, str]:
        stmt = select(doc_id).where(_pg_matches(tsquery, facets))
        if low is not None:
            stmt = stmt.where(doc_id > low)
        kept = stmt.order_by(doc_id.desc()).limit(within).subquery()
        found, ids = session.execute(
            select(func.count(), cast(func.array_agg(kept.c.id), Text)).select_from(kept)
        ).one()
        return int(found), str(ids or "{}")

    before = session.execute(select(func.current_setting("enable_indexscan"))).scalar_one()
    session.execute(select(func.set_config("enable_indexscan", "off", True)))
    try:
        if span < newest:
            found, ids = newest_ids(newest - span)
            if found == within:
                return ids
        return newest_ids(None)[1]
    finally:
        session.execute(select(func.set_config("enable_indexscan", before, True)))


def _best_documents(match: Any, wanted: int) -> Any:
    """Return `match` cut to the documents whose captures can be among the first `wanted` by relevance.

    Every document has a capture, and without a filter every capture of a matching document
    matches: the first `wanted` captures by (score, id) are then captures of the `wanted`
    best-scored documents and of those tied with the last of them. Joining only these to their
    captures, not every scored document (thousands), halves a common word's search on PostgreSQL.
    With a filter (--site or --language too) a document's captures may not all match: not for then.
    """
    return select(match.c.doc_id, match.c.score).order_by(match.c.score).fetch(wanted, with_ties=True).subquery()


def _snippets(session: Session, query: str, tsquery: str | None, document_ids: Collection[int]) -> dict[int, str]:
    """Return a highlighted passage per document where the query matches."""
    if not document_ids:
        return {}
    ids = sorted(document_ids)
    if session.get_bind().dialect.name == "sqlite":
        fts_query = _fts5_query(query)
        found = session.execute(
            text(
                "SELECT rowid, snippet(documents_fts, 1, '«', '»', '…', 24) FROM documents_fts"
                " WHERE documents_fts MATCH :q AND rowid IN (" + ",".join(map(str, ids)) + ")"
            ).bindparams(q=fts_query)
        )
    else:
        headline = func.ts_headline(
            literal_column(config_case("documents.language")),
            Document.text,
            cast(literal(tsquery or ""), postgresql.TSQUERY),
            "StartSel=«, StopSel=», MaxWords=35, MinWords=15",
        )
        found = session.execute(select(Document.id, headline).where(Document.id.in_(ids)))
    return {int(doc): str(snippet) for doc, snippet in found}


def _fts5_query(query: str, facets: Sequence[str] = ()) -> str:
    """Return the FTS5 query for the user's words in title or text (each quoted, all required) and `facets`."""
    words = " ".join('"' + t.replace('"', '""') + '"' for t in _FTS_TOKEN.findall(query))
    if not words:
        return ""
    return f"{{title text}} : ({words})" + "".join(f' AND facets : "{token}"' for token in facets)


def _tsquery(query: str) -> Any:
    """Return the tsquery of the words in every configuration documents may be indexed in, ORed.

    Each document matches in its own language's stemming, and the GIN index still serves it.
    """
    configs = ["simple", *sorted(set(CONFIGS.values()))]
    parts = [func.plainto_tsquery(literal_column(f"'{c}'::regconfig"), query) for c in configs]
    # Most configurations give the same lexemes: OR each distinct form once, or the GIN index
    # reads the same posting lists up to 16 times.
    variant = func.unnest(postgresql.array(parts)).table_valued("q").render_derived()
    as_text = cast(variant.c.q, String)
    joined = func.string_agg(distinct(literal("(") + as_text + literal(")")), literal(" | "))
    return select(cast(func.coalesce(joined, literal("")), postgresql.TSQUERY)).where(as_text != "").scalar_subquery()


def _bare_site(site: str) -> str:
    """Return a --site value as captures' sites are stored: lower case, without "www."."""
    return site.lower().removeprefix("www.")
