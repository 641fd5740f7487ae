"""Relevance over very common words: ranked among the newest RANK_WITHIN matches, never a filter cut short.

Scoring every match of a word found in most of 100,000 documents took most of a second; the
search page must answer in well under that (benchmarks/serve.py). Both catalogs.
"""

from __future__ import annotations

import pytest

from archive.catalog import search
from archive.catalog.facade import Catalog
from archive.catalog.filters import SearchFilters
from scraper import Capture, Record, WarcLocation, build_record

DOCUMENTS = 8


def _record(number: int) -> Record:
    # Every text has the same length; the older the record, the more often it says "lighthouse",
    # so ranking all of them puts the oldest first.
    words = ["lighthouse"] * (DOCUMENTS - number) + ["harbour"] * number + [f"keeper{number}"]
    body = ("The " + " ".join(words) + " stood on the point above the bay. ") * 3
    url = f"file:///lighthouse-{number}.txt"
    capture = Capture(payload=body.encode(), source_kind="file", source_location=url, media_type="text/plain", url=url)
    where = WarcLocation("x.warc.gz", number, 10, f"<urn:uuid:{number}>")
    return build_record(capture).with_provenance(warc_raw=where, warc_conversion=where, warc_metadata=where)


@pytest.fixture
def lighthouses(catalog: Catalog) -> list[Record]:
    records = [_record(n) for n in range(DOCUMENTS)]
    for record in records:  # one at a time: document ids in this order, the newest last
        catalog.add_records([record])
    return records


# PostgreSQL caps when its planner expects more matches than the cap: a few (found on the text index
# first) or very many (found walking the primary key backwards). Eight rows give no such estimate.
@pytest.mark.parametrize("expected", [5, 1_000_000])
def test_a_word_in_more_documents_than_the_cap_is_ranked_among_the_newest(
    catalog: Catalog, lighthouses: list[Record], monkeypatch: pytest.MonkeyPatch, expected: int
) -> None:
    ids = [r.id for r in lighthouses]
    assert [h.record.id for h in catalog.search("lighthouse", limit=3)] == ids[:3]  # all ranked: the oldest lead
    monkeypatch.setattr(search, "RANK_WITHIN", 3)
    monkeypatch.setattr(search, "_pg_estimate", lambda _session, _tsquery: expected)
    assert [h.record.id for h in catalog.search("lighthouse", limit=20)] == ids[5:8]  # ranked among the newest 3
    # A filter the text index cannot see is never applied to a cut-down set: every match is ranked.
    dated = catalog.search("lighthouse", SearchFilters(captured_since="1900-01-01"), limit=20)
    assert [h.record.id for h in dated] == ids
    # Another order lists every match and gives each its score, as a relevance search scores it.
    monkeypatch.setattr(search, "RANK_WITHIN", 10_000)
    relevance = {h.record.id: h.score for h in catalog.search("lighthouse", limit=20)}
    newest = catalog.search("lighthouse", sort="newest", limit=20)
    assert sorted(h.record.id for h in newest) == sorted(ids)
    assert all(h.score is not None and h.score == pytest.approx(relevance[h.record.id]) for h in newest)
    assert len({h.score for h in newest}) == DOCUMENTS  # scores that tell the documents apart


def _plain(number: int, text: str, url: str | None = None) -> Record:
    url = url or f"file:///plain-{number}.txt"
    capture = Capture(payload=text.encode(), source_kind="file", source_location=url, media_type="text/plain", url=url)
    where = WarcLocation("x.warc.gz", number, 10, f"<urn:uuid:{number}>")
    return build_record(capture).with_provenance(warc_raw=where, warc_conversion=where, warc_metadata=where)


def test_the_newest_matches_are_found_when_the_newest_documents_lack_the_words(
    catalog: Catalog, lighthouses: list[Record], monkeypatch: pytest.MonkeyPatch
) -> None:
    # PostgreSQL first looks for the newest matches among the newest ids, in a range sized by the
    # planner's estimate: an estimate of every document puts only the newest three in range, and
    # none of them holds the word. The search must look further back, not come back short.
    for number in range(3):
        catalog.add_records([_plain(100 + number, f"A quiet harbour morning, number {number}, with gulls. " * 3)])
    monkeypatch.setattr(search, "RANK_WITHIN", 3)
    monkeypatch.setattr(search, "_pg_estimate", lambda _session, _tsquery: 1_000_000)
    found = [h.record.id for h in catalog.search("lighthouse", limit=20)]
    assert found == [r.id for r in lighthouses[5:8]]


def test_pages_of_tied_scores_list_every_capture_once_in_order(catalog: Catalog) -> None:
    # Ten documents that score alike, three of them captured twice (same text, another URL): on
    # PostgreSQL a relevance page joins only the best documents and those tied with them.
    text = "The ferry crossed the sound at dawn and the ferry came back at dusk. " * 3
    records = []
    for number in range(10):
        body = text + f"Crossing number {number}."
        records.append(_plain(number, body))
        if number % 3 == 0:
            records.append(_plain(50 + number, body, url=f"file:///again-{number}.txt"))
    catalog.add_records(records)
    whole = [(h.record.id, h.score) for h in catalog.search("ferry", limit=100)]
    assert sorted(i for i, _ in whole) == sorted(r.id for r in records)  # 14 captures, each once
    assert [s for _, s in whole] == sorted(s for _, s in whole)  # best (lowest) first
    paged = [(h.record.id, h.score) for page in range(5) for h in catalog.search("ferry", limit=3, offset=3 * page)]
    assert paged == whole
