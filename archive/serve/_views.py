"""What each page shows, as JSON-ready values: the HTML pages render them, the JSON API returns them as they are."""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Mapping
from dataclasses import asdict
from datetime import date
from typing import TYPE_CHECKING, Any

from archive.catalog.captures import versions_of
from archive.catalog.filters import SORTS, SearchFilters
from archive.errors import NotFound, UsageError
from archive.serve import _catalog
from archive.serve._charts import bars, timeline

if TYPE_CHECKING:
    from archive.catalog.facade import Catalog
    from archive.catalog.similarity import DocumentFacts
    from scraper import Record

__all__ = [
    "MAX_PAGE",
    "PER_PAGE",
    "diff_view",
    "get_record",
    "record_view",
    "replayable",
    "runs_view",
    "search_view",
    "sites_view",
    "stories_view",
]

PER_PAGE = 20
MAX_PAGE = 500  # deeper pages are a narrower query's job; OFFSET walks every row before them
_FILTER_PARAMS = {  # query parameter -> SearchFilters field
    "site": "site",
    "author": "author",
    "lang": "language",
    "since": "since",
    "until": "until",
    "captured_since": "captured_since",
    "captured_until": "captured_until",
    "crawl": "crawl",
}
_DATE_PARAMS = frozenset({"since", "until", "captured_since", "captured_until"})
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
_MARK = re.compile(r"«(.*?)»", re.DOTALL)


def filters_from(params: Mapping[str, str]) -> SearchFilters:
    """Return the search filters a query string gives (empty values: no filter); UsageError names a bad one."""
    values: dict[str, str] = {}
    for param, field in _FILTER_PARAMS.items():
        value = params.get(param, "").strip()
        if value:
            if param in _DATE_PARAMS:
                value = _day(param, value)
            values[field] = value
    return SearchFilters(**values)


def _day(param: str, value: str) -> str:
    try:
        if _DAY.fullmatch(value):
            return date.fromisoformat(value).isoformat()
    except ValueError:
        pass
    raise UsageError(f"{param} {value[:40]!r} is not a date YYYY-MM-DD")


def _whole(params: Mapping[str, str], name: str, default: int, high: int) -> int:
    given = params.get(name, "").strip()
    if not given:
        return default
    if not given.isdigit() or not 1 <= int(given) <= high:
        raise UsageError(f"{name} {given[:20]!r} is not a whole number from 1 to {high}")
    return int(given)


def search_view(catalog: Catalog, params: Mapping[str, str]) -> dict[str, Any]:
    """Return one page of search results for a query string, with the total and the page's place."""
    query = params.get("q", "").strip() or None
    filters = filters_from(params)
    if filters.crawl and catalog.find_crawl(filters.crawl) is None:  # a search in it would find nothing, unsaid
        raise UsageError(f"run {filters.crawl[:40]!r}: no run with this id (see the runs page)")
    sort = params.get("sort", "relevance") or "relevance"
    if sort not in SORTS:
        raise UsageError(f"sort {sort[:20]!r} is not one of {', '.join(SORTS)}")
    versions = params.get("versions", "") in ("1", "on", "true")
    page = _whole(params, "page", 1, MAX_PAGE)
    per_page = _whole(params, "per_page", PER_PAGE, 100)
    # The total is counted on a connection of its own while the page is searched: the page waits
    # for the slower of the two, not for both (on PostgreSQL each is tens of ms on a large catalog).
    counting = _catalog.count_hits_soon(catalog.engine, query, filters, versions=versions)
    hits = catalog.search(query, filters, versions=versions, sort=sort, limit=per_page, offset=(page - 1) * per_page)
    total = counting.result()
    return {
        "query": query,
        "filters": {k: v for k, v in asdict(filters).items() if v is not None},
        "versions": versions,
        "sort": sort,
        "page": page,
        "per_page": per_page,
        "total": min(total, _catalog.COUNT_CAP),
        "total_capped": total > _catalog.COUNT_CAP,
        "pages": min(MAX_PAGE, max(1, -(-min(total, _catalog.COUNT_CAP) // per_page))),
        "hits": [
            {**_summary(hit.record), "score": hit.score, "snippet": hit.snippet, "marked": _marked(hit.snippet)}
            for hit in hits
        ],
    }


def _summary(record: Record) -> dict[str, Any]:
    return {
        "id": record.id,
        "title": record.title,
        "url": record.source_url,
        "site": record.site,
        "language": record.language,
        "authors": list(record.authors),
        "published": record.published,
        "captured_at": record.provenance.captured_at,
        "word_count": record.word_count,
        "no_text": record.provenance.no_text,
    }


def _marked(snippet: str | None) -> list[tuple[str, bool]]:
    """Return a snippet as (text, matched) parts: the search marks matches «so»; the page shows them highlighted."""
    if not snippet:
        return []
    parts: list[tuple[str, bool]] = []
    at = 0
    for found in _MARK.finditer(snippet):
        parts += [(snippet[at : found.start()], False), (found.group(1), True)]
        at = found.end()
    return [*parts, (snippet[at:], False)]


def get_record(catalog: Catalog, record_id: str) -> Record:
    """Return the record with this id or unique prefix; NotFound or UsageError (not an id) otherwise."""
    if not re.fullmatch(r"[0-9a-fA-F]{6,64}", record_id):
        raise UsageError(f"{record_id[:70]!r} is not a record id: 6 to 64 hex digits")
    record = catalog.get(record_id)
    if record is None:
        raise NotFound(f"no record with id {record_id!r}")
    return record


def record_view(catalog: Catalog, record_id: str) -> dict[str, Any]:
    """Return a record with its provenance, its URL's versions and what shares its text or story."""
    record = get_record(catalog, record_id)
    numbered = versions_of(catalog.history(record.source_url))
    revisits = catalog.revisits_of([r.id for _, r in numbered])  # when each capture was fetched again, the same
    similar = catalog.similar(record.id) or []
    prov = record.provenance
    mine = next((n for n, r in numbered if r.id == record.id), 1)
    last = max((n for n, _ in numbered), default=1)
    compare = (mine - 1, mine) if mine > 1 else (1, min(2, last))
    return {
        "record": record.to_dict(),
        "boilerplate_words": max(0, prov.input_word_count - record.word_count),
        "replayable": replayable(record),
        "versions": [
            {
                "version": n,
                "id": r.id,
                "captured_at": r.provenance.captured_at,
                "words": r.word_count,
                "text_sha256": r.text_sha256,
                "this": r.id == record.id,
                "first": i == 0 or numbered[i - 1][0] != n,
                "revisits": [{"captured_at": at, "profile": profile} for at, profile in revisits.get(r.id, [])],
            }
            for i, (n, r) in enumerate(numbered)
        ],
        "compare": compare,
        "similar": [{"relation": s.relation, "score": round(s.score, 4), **_facts(s.document)} for s in similar[:50]],
    }


def replayable(record: Record) -> bool:
    """Return whether a record can be replayed: fetched from a web address, its response archived."""
    return record.source_url.startswith(("http://", "https://")) and record.provenance.warc_raw is not None


def _facts(doc: DocumentFacts) -> dict[str, Any]:
    return {
        "id": doc.record_id,
        "url": doc.url,
        "title": doc.title,
        "sites": list(doc.sites),
        "captures": doc.captures,
        "published": doc.published,
        "captured_at": doc.captured_at,
        "day": doc.day,
    }


def diff_view(catalog: Catalog, record_id: str, a: str, b: str) -> dict[str, Any]:
    """Return the line diff between two versions (numbered from 1) of a record's URL."""
    record = get_record(catalog, record_id)
    numbered = versions_of(catalog.history(record.source_url))
    first = {n: r for n, r in reversed(numbered)}  # each version's first capture
    count = max(first, default=0)
    picked = []
    for name, given in (("a", a), ("b", b)):
        if not given.isdigit() or not 1 <= int(given) <= count:
            raise UsageError(f"version {name} {given[:20]!r} is not a version number: versions run from 1 to {count}")
        picked.append(first[int(given)])
    old, new = picked
    lines = difflib.unified_diff(
        old.text.splitlines(), new.text.splitlines(), f"version {a} ({old.id})", f"version {b} ({new.id})", lineterm=""
    )
    return {
        "id": record.id,
        "url": record.source_url,
        "a": {"version": int(a), "id": old.id, "captured_at": old.provenance.captured_at},
        "b": {"version": int(b), "id": new.id, "captured_at": new.provenance.captured_at},
        "versions": count,
        "lines": [{"kind": _line_kind(line), "text": line} for line in lines],
    }


def _line_kind(line: str) -> str:
    if line.startswith(("---", "+++")):
        return "file"
    return {"+": "added", "-": "removed", "@": "hunk"}.get(line[:1], "same")


def stories_view(catalog: Catalog, params: Mapping[str, str]) -> dict[str, Any]:
    """Return the largest stories (groups of documents across sites), each with its timeline."""
    limit = _whole(params, "limit", 20, 200)
    min_size = _whole(params, "min_size", 2, 1000)
    stories = catalog.stories(filters_from(params), min_size=max(2, min_size), limit=limit)
    found = []
    for story in stories:
        docs = [_facts(d) for d in story.documents]
        found.append(
            {
                "first": story.first,
                "last": story.last,
                "sites": story.sites,
                "documents": docs,
                "timeline": timeline([d.day for d in story.documents]),
            }
        )
    return {"stories": found}


def sites_view(catalog: Catalog, params: Mapping[str, str]) -> dict[str, Any]:
    """Return the sites with the most captures: captures per month and the boilerplate share, with their charts."""
    limit = _whole(params, "limit", 50, 1000)
    figures = _catalog.site_figures(catalog.engine, limit, params.get("site") or None)
    return {
        "sites": [{**f.to_dict(), "chart": bars([(m, n) for m, n in f.months])} for f in figures],
        "boilerplate_chart": bars([(f.site, round(100 * f.boilerplate_share)) for f in figures], ceiling=100),
    }


def runs_view(catalog: Catalog, frontier: Any = None) -> dict[str, Any]:
    """Return the newest runs: status, counts, captures archived so far; and a frontier's queues and workers."""
    runs = catalog.crawls(50)
    archived = _catalog.run_progress(catalog.engine, [run.id for run in runs])
    found: dict[str, Any] = {
        "runs": [{**run.to_dict(), "captures_archived": archived.get(run.id, 0)} for run in runs],
        "running": sum(run.status == "running" for run in runs),
    }
    if frontier is not None:
        workers = [{**w, "requests": _in_flight(frontier, w["worker"])} for w in frontier.workers()]
        found["frontier"] = {"runs": frontier.runs(), "workers": workers}
    return found


MAX_IN_FLIGHT_SHOWN = 20


def _in_flight(frontier: Any, worker: str) -> list[str]:
    """Return what a worker holds: each request's URL (a re-extraction's item as its text), the first few."""
    shown = []
    for data in frontier.in_flight(worker)[:MAX_IN_FLIGHT_SHOWN]:
        try:
            item = json.loads(data)
        except ValueError:
            item = None
        url = item.get("url") if isinstance(item, dict) else None
        shown.append(url if isinstance(url, str) else data[:200].decode("utf-8", "replace"))
    return shown
