"""Frozen for migration 0005: the document signatures it stores for documents older than it.

A copy of what 0005 ran through archive.catalog.similarity.index_missing, so that a later change
to the live similarity code cannot change what this revision writes. Copied from:

- scraper/similarity.py at e39e483 (signatures, band_keys, term_vector, idf_from, term_hash,
  key_terms and their private helpers; cosine, estimated_jaccard and background_frequencies
  are not used by the migration and are left out);
- scraper/_stopwords.py at d04a4d7 (STOPWORDS);
- scraper/models/term-frequencies.json at 7ded655 (the background corpus: _background_0005).

These are the versions 0005 ran until it stopped importing them (c1cb8ec), not those of 7ded655
which added it: what it stores changed four times since (921c353 weighs key terms by the catalog's
document counts, 7367f1e keeps distinctive ones only, 6712249 counts documents by the highest id,
e39e483 reads the first 500,000 characters). Catalogs upgraded since, and every document the live
code indexed since, hold signatures of this version, so 7ded655's would set old documents apart
from new ones at the same revision. Changing stored signatures needs a migration that re-indexes.
"""

from __future__ import annotations

import hashlib
import math
import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np
from datasketch import MinHash

from archive.catalog.migrations._background_0005 import background

__all__ = ["DUPLICATE_ROWS", "STORY_ROWS", "Signatures", "band_keys", "idf_from", "signatures", "term_hash"]

_LISTS = {
    "en": "the a an and or but of to in on at for with by from as is are was were be been it its this that "
    "these those he she they we you his her their our not have has had will would can could said than",
    "de": "der die das den dem des ein eine einer eines einem und oder aber nicht mit von zu im in auf für "
    "ist sind war waren wird werden hat haben sich es er sie wir auch als nach bei aus dass wie noch",
    "fr": "le la les un une des du de et ou mais ne pas que qui dans sur pour par avec est sont était été "
    "il elle ils nous vous au aux ce cette ces son sa ses leur plus a ont se qu",
    "es": "el la los las un una unos unas y o pero no que de del en con por para es son fue era ha han "
    "se su sus al lo como más este esta estos le les ya",
    "it": "il lo la i gli le un una e o ma non che di del della dei in con per su da è sono era ha hanno "
    "si suo sua al alla come più questo questa anche",
    "pt": "o a os as um uma e ou mas não que de do da dos das em no na com por para é são foi era tem "
    "se seu sua ao como mais este esta também",
    "nl": "de het een en of maar niet dat die van in op met voor door is zijn was waren wordt worden heeft "
    "hebben zich er hij zij we ook als naar bij uit",
    "ru": "и в во не что он на я с со как а то все она так его но да ты к у же вы за бы по только ее мне "
    "было вот от меня еще нет о из ему было это для",
    "zh": "的 了 是 在 和 有 我 他 这 就 不 也 人 都 一 上 为 与 中 说 对 而 及 着 到",
    "ja": "の に は を た が で て と し れ さ ある いる も する から な こと として い や れる など",
}

STOPWORDS: frozenset[str] = frozenset(word for words in _LISTS.values() for word in words.split())

SHINGLE = 5
# Signatures, key terms and term vectors read this much of a text: enough to tell what a page
# is and which pages repeat it, in bounded time and memory however long the text.
SIMILARITY_CHARS = 500_000
DUPLICATE_PERMUTATIONS, DUPLICATE_ROWS = 60, 3  # 20 bands: P(candidate) 0.93 at Jaccard 0.5, 0.42 at 0.3
# One key term per band: P(candidate) 0.93 at key-term Jaccard 0.15 (outlets' rewrites of one
# story measure 0.15-0.45), 0.42 for two texts that share a single key term.
STORY_PERMUTATIONS, STORY_ROWS = 16, 1
KEY_TERMS = 15
DISTINCTIVE = math.log(50)  # key terms are in at most 1 document in 50 (catalog and background)

_CJK = "\u3040-\u30ff\u3400-\u9fff\uf900-\ufaff\uac00-\ud7af"
_TOKEN = re.compile(rf"[{_CJK}]+|[^\W_]+(?:['’][^\W_]+)*")
_CJK_RUN = re.compile(rf"[{_CJK}]+")
_SENTENCE_END = re.compile(r"[.!?:;\"“”«»]\s*$")
_SEED = 20250506
_SCHEME = "affine32"  # stored signatures depend on it: changing it needs a migration


@dataclass(frozen=True, slots=True)
class Signatures:
    """What the catalog stores for one document to find its duplicates and its story."""

    shingles: bytes  # MinHash of word 5-shingles, little-endian uint32 per permutation
    story: bytes | None  # MinHash of the key terms; None when the text has none
    terms: frozenset[int]  # hashes of the distinct terms, counted for inverse document frequency


def signatures(
    text: str,
    title: str | None = None,
    idf: Callable[[str], float] | None = None,
    vector: Mapping[str, int] | None = None,
) -> Signatures:
    """Return the shingle and key-term signatures of a document's text (and title).

    `idf` weighs key terms; `vector` is the text's term_vector when the caller has it already.
    """
    text = text[:SIMILARITY_CHARS]
    words = list(_terms(text))
    keys = key_terms(text if not title else f"{title}\n{text}", idf=idf)
    return Signatures(
        shingles=_minhash(_shingles(words), DUPLICATE_PERMUTATIONS),
        story=_minhash([k.encode() for k in keys], STORY_PERMUTATIONS) if keys else None,
        terms=frozenset(term_hash(t) for t in (vector if vector is not None else term_vector(text))),
    )


def band_keys(signature: bytes, rows: int) -> list[int]:
    """Return one signed 64-bit LSH key per band of `rows` permutations (band number included)."""
    width = rows * 4
    return [_int64(bytes([band]) + signature[start : start + width]) for band, start in _bands(signature, width)]


def term_vector(text: str) -> Counter[str]:
    """Return how often each term occurs (in the first SIMILARITY_CHARS): casefolded words, CJK as bigrams."""
    return Counter(_terms(text[:SIMILARITY_CHARS]))


def idf_from(documents: int, frequency: Mapping[int, int]) -> Callable[[str], float]:
    """Return inverse document frequency over the catalog's documents plus the background corpus.

    `frequency` counts the catalog's documents by term hash. The background (general web pages
    in many languages) keeps a small catalog from mistaking its own story's names for common
    words and its function words for rare ones.
    """
    total, frequencies = background()
    return lambda term: math.log(
        (documents + total + 1) / (frequency.get(term_hash(term), 0) + frequencies.get(term, 0) + 1)
    )


@cache
def term_hash(term: str) -> int:
    """Return a term's signed 64-bit key in the catalog."""
    return _int64(term.encode())


def key_terms(text: str, limit: int = KEY_TERMS, idf: Callable[[str], float] | None = None) -> list[str]:
    """Return the terms that say what a text is about: frequent here, rare elsewhere, names first.

    Weight: (1 + log tf) x idf, x1.5 for a word mostly written with a capital inside a
    sentence (names, places, organizations). Function words, digits and one-letter words
    never count. `idf` defaults to the background corpus alone; the catalog passes its own
    document counts too, so a language or a topic the background lacks does not make its
    commonest words look rare.
    """
    rarity = idf or idf_from(0, {})
    text = text[:SIMILARITY_CHARS]
    counts: Counter[str] = Counter()
    named: Counter[str] = Counter()
    for line in text.split("\n"):
        for index, match in enumerate(_TOKEN.finditer(line)):
            token = match.group(0)
            capital = token[0].isupper() and index > 0 and not _SENTENCE_END.search(line[: match.start()])
            for term in _line_terms(token):
                if len(term) > 1 and term not in STOPWORDS and not term.isdigit():
                    counts[term] += 1
                    named[term] += capital

    def weight(term: str) -> float:
        return (1 + math.log(counts[term])) * rarity(term) * (1.5 if 2 * named[term] > counts[term] else 1.0)

    # Only terms rarer than DISTINCTIVE count: a word in 1 document of 50 names no story.
    distinctive = [term for term in counts if rarity(term) >= DISTINCTIVE]
    return sorted(distinctive, key=lambda term: (-weight(term), term))[:limit]


def _terms(text: str) -> Iterable[str]:
    for match in _TOKEN.finditer(unicodedata.normalize("NFKC", text)):
        yield from _line_terms(match.group(0))


def _line_terms(token: str) -> list[str]:
    if _CJK_RUN.fullmatch(token):
        return [token[i : i + 2] for i in range(max(1, len(token) - 1))]
    return [token.casefold().replace("’", "'")]


def _shingles(words: list[str]) -> list[bytes]:
    if not words:
        return []
    spans = range(max(1, len(words) - SHINGLE + 1))
    return [" ".join(words[i : i + SHINGLE]).encode() for i in spans]


def _minhash(items: list[bytes], permutations: int) -> bytes:
    sketch = MinHash(num_perm=permutations, permutations=_permutations(permutations), scheme=_SCHEME)
    sketch.update_batch(items)
    return bytes(sketch.hashvalues.astype("<u4").tobytes())


@cache
def _permutations(permutations: int) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    found: tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]] = MinHash(
        num_perm=permutations, seed=_SEED, scheme=_SCHEME
    ).permutations
    return found


def _bands(signature: bytes, width: int) -> Iterable[tuple[int, int]]:
    return enumerate(range(0, len(signature) - width + 1, width))


def _int64(data: bytes) -> int:
    return int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "little", signed=True)
