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
