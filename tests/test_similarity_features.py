"""Text features computed where a record is built give the catalog the signatures it would compute itself."""

from __future__ import annotations

import pickle
import unicodedata
from collections import Counter
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
from sqlalchemy import text

from archive.catalog.facade import Catalog
from scraper import Provenance, Record, WarcLocation
from scraper._stopwords import STOPWORDS
from scraper._text import sha256_hex
from scraper.similarity import (
    _TOKEN,
    DUPLICATE_PERMUTATIONS,
    SIMILARITY_CHARS,
    _background,
    _minhash,
    candidate_idf,
    idf_from,
    key_terms,
    signatures,
    signed,
    term_hash,
    term_vector,
    text_features,
)

STORIES = [
    (
        "Harbor vote",
        "Voters in Port Wendell approved a bond to restore the lighthouse. Edwin Marsh led the campaign, "
        "and Port Wendell will open a museum in the keeper's cottage. The lighthouse has stood since 1874.",
    ),
    (
        "Marsh retires",  # "marsh" is in this title only, and in the first text of the batch
        "The keeper of the Wendell light retired after forty years. Residents of Port Wendell thanked him "
        "at the harbor, where the lighthouse museum opens in May.",
    ),
    (None, "Quarterly earnings rose at the chip maker as demand for servers recovered in Asia and Europe."),
    ("東京の天気", "東京都の天気は晴れ。京都は雨でした。"),
    (None, ""),
]


def _record(number: int, title: str | None, body: str) -> Record:
    location = WarcLocation("x.warc.gz", 0, 10, f"<urn:uuid:{number}>")
    provenance = Provenance(
        source_kind="file",
        source_location=f"file:///{number}.txt",
        captured_at="2026-05-01T00:00:00Z",
        media_type="text/plain",
        warc_raw=location,
        warc_conversion=location,
        warc_metadata=location,
    )
    return Record(
        id=f"capture-{number}",
        source_url=f"file:///{number}.txt",
        canonical_url=f"file:///{number}.txt",
        site=None,
        site_name=None,
        title=title,
        authors=(),
        published=None,
        language="en",
        tags=(),
        description=None,
        text=body,
        word_count=len(body.split()),
        payload_sha256=sha256_hex(f"{number}"),
        text_sha256=sha256_hex(body),
        provenance=provenance,
    )


def _tables(catalog: Catalog) -> dict[str, list[tuple[object, ...]]]:
    queries = {
        "signatures": "SELECT document_id, shingles, story FROM document_signatures ORDER BY document_id",
        "bands": "SELECT kind, band_key, document_id FROM document_bands ORDER BY kind, band_key, document_id",
        "terms": "SELECT term, documents FROM term_documents ORDER BY term",
    }
    with catalog.engine.connect() as connection:
        return {name: [tuple(row) for row in connection.execute(text(sql))] for name, sql in queries.items()}


def _filled(path: Path, batches: Sequence[Sequence[Record]]) -> dict[str, list[tuple[object, ...]]]:
    catalog = Catalog(f"sqlite:///{path}")
    catalog.migrate()
    try:
        for batch in batches:
            catalog.add_records(list(batch))
        return _tables(catalog)
    finally:
        catalog.close()


def test_the_catalog_stores_the_same_signatures_from_features_a_worker_sent(tmp_path: Path) -> None:
    records = [_record(n, title, body) for n, (title, body) in enumerate(STORIES)]
    # As from a worker: computed there, pickled back with the record.
    carried = [pickle.loads(pickle.dumps(r.with_text_features())) for r in records]
    assert all(r.text_features is not None for r in carried)
    batches = [records[:3], records[3:]]
    here = _filled(tmp_path / "here.sqlite", batches)
    sent = _filled(tmp_path / "sent.sqlite", [carried[:3], carried[3:]])
    assert here == sent
    assert len(here["signatures"]) == 5 and sum(story is not None for _, _, story in here["signatures"]) >= 3
    assert dict(here["terms"])[term_hash("wendell")] == 2  # in two texts, counted once each


def test_stored_signatures_are_those_of_the_texts_weighed_by_the_catalog_before_their_batch(catalog: Catalog) -> None:
    """What add_records stored before text features: term counts as the catalog held them, of the batch's texts' terms.

    "chief" (in 18 of the 990 background documents) is in the title of one document alone and in
    the text of another of its batch: counted once in the catalog (idf log((id + 991) / 20), under
    log(50) for ids under 9) it is no key term; not looked up (log((id + 991) / 19)) it would be one.
    """
    title = "Chief keeper retires"
    first = [_record(0, *STORIES[0]), _record(8, None, "The harbor chief said the light would be repaired soon.")]
    second = [_record(n, t, b) for n, (t, b) in enumerate(STORIES) if n > 1] + [_record(1, title, STORIES[1][1])]
    second.append(_record(9, None, "Edwin Marsh, the museum's chief, opened it on Sunday."))
    catalog.add_records([r.with_text_features() for r in first])
    counted = {term: documents for term, documents in _tables(catalog)["terms"]}
    catalog.add_records([r.with_text_features() for r in second])
    within = {term_hash(t) for r in second for t in term_vector(r.text)}
    with catalog.engine.connect() as connection:
        ids = {
            digest: document for digest, document in connection.execute(text("SELECT text_sha256, id FROM documents"))
        }
    stored = {row[0]: row[1:] for row in _tables(catalog)["signatures"]}
    assert counted[term_hash("chief")] == 1
    for record in second:
        document = ids[record.text_sha256]
        idf = idf_from(document, {term: n for term, n in counted.items() if term in within})
        expected = signatures(record.text, record.title, idf=idf)
        assert stored[document] == (expected.shingles, expected.story)
    retiring = ids[second[-2].text_sha256]
    assert "chief" not in key_terms(f"{title}\n{STORIES[1][1]}", idf=idf_from(retiring, counted))
    assert "chief" in key_terms(f"{title}\n{STORIES[1][1]}", idf=idf_from(retiring, {}))


def test_features_weighed_by_the_catalog_give_what_signatures_give_for_its_counts() -> None:
    for title, body in STORIES:
        terms = {term_hash(t) for t in body.casefold().split()}
        for documents, counted in ((0, {}), (3, dict.fromkeys(terms, 1)), (100, dict.fromkeys(terms, 60))):
            expected = signatures(body, title, idf=idf_from(documents, counted))
            assert signed(text_features(body, title), candidate_idf(documents, counted)) == expected


def test_a_term_common_in_the_catalog_is_no_key_term() -> None:
    title, body = STORIES[0]
    alone = key_terms(f"{title}\n{body}")
    assert alone[0] == "wendell"
    # Every one of 100 catalog documents holds "wendell": idf log((100 + 990 + 1) / (100 + 0 + 1)) = log(10.8) < log(50).
    crowded = key_terms(f"{title}\n{body}", idf=idf_from(100, {term_hash("wendell"): 100}))
    assert "wendell" not in crowded and "marsh" in crowded


def test_features_of_another_text_or_title_are_not_used(tmp_path: Path) -> None:
    record = _record(0, *STORIES[0]).with_text_features()
    assert record.text_features is not None and record.text_features.fit(record.text_sha256, record.title)
    assert not record.text_features.fit(record.text_sha256, "Another title")
    body = STORIES[2][1]
    # Text and title changed after the features were computed: the catalog computes them anew.
    rewritten = replace(record, text=body, text_sha256=sha256_hex(body), title=None)
    retitled = replace(record, title="Another title")
    here = _filled(tmp_path / "here.sqlite", [[replace(r, text_features=None) for r in (rewritten, retitled)]])
    stale = _filled(tmp_path / "stale.sqlite", [[rewritten, retitled]])
    assert here == stale
    assert record.text_features.shingles != text_features(body).shingles  # used, they would store other rows


def test_features_are_working_data_not_part_of_the_record() -> None:
    record = _record(0, *STORIES[0])
    carried = record.with_text_features()
    assert carried == record and "text_features" not in carried.to_dict()
    assert Record.from_dict(carried.to_dict()).text_features is None
    assert record.with_extraction(carried).text_features is carried.text_features


def _defined_features(text: str, title: str | None) -> tuple[bytes, bytes, str, bytes]:
    """Return (shingles, terms, candidate terms, candidate numbers) as defined, token by token.

    text_features computes them in bulk (one split of the text serves terms and candidates); this
    walks the tokens one by one as the definitions read: the text's terms from its NFKC form, the
    candidates from the title's line and the text, a name being a capital after another token of
    its line with no sentence end between.
    """
    text = text[:SIMILARITY_CHARS]

    def terms_of(run: str | None, word: str | None) -> list[str]:
        if run:
            return [run[i : i + 2] for i in range(max(1, len(run) - 1))]
        return [(word or "").casefold().replace("’", "'")]

    words = [t for m in _TOKEN.finditer(unicodedata.normalize("NFKC", text)) for t in terms_of(m[1], m[2])]
    joined = (f"{title}\n{text}" if title else text)[:SIMILARITY_CHARS]
    every, named, previous = [], [], None
    for m in _TOKEN.finditer(joined):
        found = terms_of(m[1], m[2])
        every += found
        if previous is not None and m[0][0].isupper():
            gap = joined[previous : m.start()]
            if "\n" not in gap and (not gap.rstrip() or gap.rstrip()[-1] not in '.!?:;"“”«»'):
                named += found
        previous = m.end()
    counts, names, background = Counter(every), Counter(named), _background()[1]
    terms = [t for t in counts if len(t) > 1 and t not in STOPWORDS and not t.isdigit()]
    numbers = [n for t in terms for n in (counts[t], names[t], term_hash(t), background.get(t, 0))]
    shingles = [" ".join(words[i : i + 5]).encode() for i in range(max(1, len(words) - 4))] if words else []
    return (
        _minhash(shingles, DUPLICATE_PERMUTATIONS),
        np.array(sorted({term_hash(w) for w in words}), dtype="<i8").tobytes(),
        "\0".join(terms),
        np.array(numbers, dtype="<i8").tobytes(),
    )


def test_text_features_are_those_their_definitions_give(shared_seeds: Path) -> None:
    """The bulk computation agrees with the token-by-token definition on real captures and on edge cases."""
    long = " ".join(body for _, body in STORIES[:3]) * 2_000  # past SIMILARITY_CHARS: cut where the text is cut
    cases: list[tuple[str | None, str]] = [*STORIES]
    for path in [
        *sorted(shared_seeds.glob("*.txt")),
        *sorted((Path(__file__).parent.parent / "seeds" / "text").iterdir()),
    ]:
        body = path.read_text(encoding="utf-8")
        cases += [(None, body), (path.stem.title(), body), ("Two lines\nOf Title", body)]
    cases += [
        ("Ｆｕｌｌ ｗｉｄｔｈ", "The ﬁrst Ａｌｐｈａ test. Then Oslo said: Bergen agreed"),  # not NFKC: terms differ
        ("İstanbul Kelvin \u212a", "Straße ſ İzmir’s O’Brien don't_stop __init__ 3.14 Jean-Luc. Über Ärger"),
        ("混合 Title", "東京の天気は晴れ。 Tokyo Weather in 大阪 and Kyōto «Quoted» Name; Other Name"),
        ("Short", "Two Words"),
        ("ΟΔΟΣ Title", "Η ΟΔΟΣ ΚΑΙ Η Πόλις; Ο Σωκράτης είπε ΝΑΙ"),  # a final sigma folds as any other
        ("", "no title here, A Name after a comma\nLine Start"),
        (None, "   \n\t "),
        ("A title", long),
        ("T" * 20, long[: SIMILARITY_CHARS - 15]),  # title and text together just past the cut
    ]
    for title, body in cases:
        found = text_features(body, title)
        assert (found.shingles, found.terms, found.candidate_terms, found.candidate_numbers) == _defined_features(
            body, title
        ), (title, body[:80])
