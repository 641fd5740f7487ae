"""Signatures and scores of scraper.similarity, on texts small enough to check by hand."""

from __future__ import annotations

from collections import Counter

from scraper.similarity import (
    DUPLICATE_ROWS,
    STORY_ROWS,
    band_keys,
    cosine,
    estimated_jaccard,
    key_terms,
    signatures,
    term_vector,
)

LIGHTHOUSE = (
    "Voters in Port Wendell approved a bond to restore the lighthouse. Edwin Marsh led the campaign, "
    "and Port Wendell will open a museum in the keeper's cottage. The lighthouse has stood since 1874."
)


def test_identical_texts_agree_everywhere_and_unrelated_texts_nowhere() -> None:
    a, b = signatures(LIGHTHOUSE), signatures(LIGHTHOUSE)
    assert estimated_jaccard(a.shingles, b.shingles) == 1.0
    other = signatures("Quarterly earnings rose at the chip maker as demand for servers recovered in Asia and Europe.")
    assert estimated_jaccard(a.shingles, other.shingles) < 0.2
    assert not set(band_keys(a.shingles, DUPLICATE_ROWS)) & set(band_keys(other.shingles, DUPLICATE_ROWS))


def test_band_keys_one_per_band_and_band_number_is_part_of_the_key() -> None:
    found = signatures(LIGHTHOUSE)
    assert len(band_keys(found.shingles, DUPLICATE_ROWS)) == len(found.shingles) // (4 * DUPLICATE_ROWS)
    assert found.story is not None
    keys = band_keys(found.story, STORY_ROWS)
    assert len(keys) == len(found.story) // 4 and len(set(keys)) == len(keys)
    # The same 4 bytes in two bands give two keys: a value only matches in its own band.
    assert band_keys(b"\x01\x00\x00\x00" * 2, 1)[0] != band_keys(b"\x01\x00\x00\x00" * 2, 1)[1]


def test_key_terms_put_names_first_and_never_function_words() -> None:
    terms = key_terms(LIGHTHOUSE)
    # "Wendell": twice, written as a name, on no background page; "port" is common on the web.
    assert terms[0] == "wendell"
    assert terms.index("port") > terms.index("lighthouse")
    assert "the" not in terms and "a" not in terms and "1874" not in terms
    assert "lighthouse" in terms and "marsh" in terms


def test_cosine_is_one_for_the_same_vector_and_zero_without_shared_terms() -> None:
    same = term_vector(LIGHTHOUSE)
    assert abs(cosine(same, same, lambda _t: 1.0) - 1.0) < 1e-9
    assert cosine(Counter({"harbor": 2}), Counter({"earnings": 1}), lambda _t: 1.0) == 0.0
    # Hand-computed: weights (1 + ln 1) = 1 each; shared "b" only: 1 / (sqrt 2 * sqrt 2) = 0.5.
    assert abs(cosine(Counter({"a": 1, "b": 1}), Counter({"b": 1, "c": 1}), lambda _t: 1.0) - 0.5) < 1e-9


def test_cjk_text_is_counted_in_character_bigrams() -> None:
    assert term_vector("東京都") == Counter({"東京": 1, "京都": 1})


def test_signatures_are_datasketchs_affine32_minhash_bit_for_bit() -> None:
    """Stored signatures stay comparable: our MinHash is datasketch's, computed without importing it at run time."""
    from datasketch import MinHash

    from scraper import similarity

    def reference(items: list[bytes], permutations: int) -> bytes:
        seeded = MinHash(num_perm=permutations, seed=similarity._SEED, scheme="affine32")
        sketch = MinHash(num_perm=permutations, permutations=seeded.permutations, scheme="affine32")
        sketch.update_batch(items)
        return bytes(sketch.hashvalues.astype("<u4").tobytes())

    words = LIGHTHOUSE.split()
    for items in ([], [b"one"], [w.encode() for w in words], [" ".join(words[i : i + 5]).encode() for i in range(20)]):
        for permutations in (16, 60):
            assert similarity._minhash(items, permutations) == reference(items, permutations)
    found = signatures(LIGHTHOUSE)
    assert found.story is not None
    assert found.shingles == reference(similarity._shingles(similarity._terms(LIGHTHOUSE)), 60)
