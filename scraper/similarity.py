"""Signatures that find the same text and the same story across documents.

Two questions, two signatures, both MinHash so that an LSH index (band keys) finds
candidates without comparing every pair:

- near-duplicates (a syndicated copy, the same article under other page furniture) share
  most of their word 5-shingles: the shingle signature estimates their Jaccard;
- one story told by several outlets shares names and key words, not sentences: the key-term
  signature finds candidates and a TF-IDF cosine (sublinear term frequency, inverse document
  frequency from the catalog) decides.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from itertools import accumulate

import numpy as np

from scraper._stopwords import STOPWORDS

__all__ = [
    "BACKGROUND_RESOURCE",
    "DUPLICATE_ROWS",
    "NEAR_DUPLICATE",
    "SAME_STORY",
    "STORY_ROWS",
    "STORY_WINDOW_DAYS",
    "Rarity",
    "Signatures",
    "TextFeatures",
    "background_frequencies",
    "band_keys",
    "cosine",
    "estimated_jaccard",
    "idf_from",
    "signatures",
    "signed",
    "term_hash",
    "term_vector",
    "text_features",
]

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
NEAR_DUPLICATE = 0.5  # estimated Jaccard of word 5-shingles
SAME_STORY = 0.35  # TF-IDF cosine
STORY_WINDOW_DAYS = 3  # publication dates further apart than this are different stories
BACKGROUND_RESOURCE = "term-frequencies.json"
BACKGROUND_MIN_DOCUMENTS = 3

_CJK = "\u3040-\u30ff\u3400-\u9fff\uf900-\ufaff\uac00-\ud7af"
# A CJK run, or a word: the group that matched says which (a word never starts with a CJK character).
_TOKEN = re.compile(rf"([{_CJK}]+)|([^\W_]+(?:['’][^\W_]+)*)")
_SENTENCE_ENDS = frozenset('.!?:;"“”«»')
_SEED = 20250506
_SCHEME = "affine32"  # stored signatures depend on it: changing it needs a migration


@dataclass(frozen=True, slots=True)
class Signatures:
    """What the catalog stores for one document to find its duplicates and its story."""

    shingles: bytes  # MinHash of word 5-shingles, little-endian uint32 per permutation
    story: bytes | None  # MinHash of the key terms; None when the text has none
    terms: frozenset[int]  # hashes of the distinct terms, counted for inverse document frequency


# Weighs a key-term candidate by how rare it is: (term, its term_hash, background documents holding it) -> idf.
Rarity = Callable[[str, int, int], float]


@dataclass(frozen=True, slots=True)
class TextFeatures:
    """What a document's signatures take from its title and text alone, whatever the catalog holds.

    Built where the record is (an extraction worker), so that the catalog only weighs the
    key-term candidates by its term counts and writes. Packed in strings and bytes: a record
    crosses from a worker to the main process, and unpickling these costs that process next
    to nothing. `text_sha256` and `title` say which text and title they were computed from.
    """

    text_sha256: str
    title: str | None
    shingles: bytes  # the shingle signature
    terms: bytes  # the term_hash of each distinct term of the text, little-endian int64, ascending
    # Terms of the title and text that may be key terms (no function words, digits or single
    # letters), NUL-separated in order of first occurrence, and four little-endian int64 each:
    # occurrences, of them written as a name, term_hash, background documents holding it.
    candidate_terms: str
    candidate_numbers: bytes

    def fit(self, text_sha256: str, title: str | None) -> bool:
        """Return whether these are the features of the text with this digest under this title."""
        return self.text_sha256 == text_sha256 and self.title == title

    def term_keys(self) -> list[int]:
        """Return the term hashes of the text's distinct terms."""
        return _int64s(self.terms)

    def candidate_keys(self) -> list[int]:
        """Return the term hashes of the key-term candidates."""
        return _int64s(self.candidate_numbers)[2::4]

    def candidates(self) -> Iterator[tuple[str, int, int, int, int]]:
        """Yield each candidate: term, occurrences, of them as a name, term hash, background documents."""
        terms = self.candidate_terms.split("\0") if self.candidate_terms else []
        return _grouped(terms, _int64s(self.candidate_numbers))


def text_features(text: str, title: str | None = None, text_sha256: str = "") -> TextFeatures:
    """Return what the signatures of a document take from its text and title (`text_sha256`: the text's digest)."""
    text = text[:SIMILARITY_CHARS]
    if (title and len(title) + 1 + len(text) > SIMILARITY_CHARS) or not unicodedata.is_normalized("NFKC", text):
        words = _terms(text)
        terms, numbers = _candidates((text if not title else f"{title}\n{text}")[:SIMILARITY_CHARS])
    else:
        # The text's tokens serve both: it is its own NFKC form, and the title's line comes whole
        # before it, its tokens first and no capital of the text's first token counted as a name.
        words, named = _tokenized(text)
        every = words
        if title:
            before, before_named = _tokenized(title)
            every, named = before + words, before_named + named
        terms, numbers = _weighed(every, named)
    return TextFeatures(
        text_sha256=text_sha256,
        title=title,
        shingles=_minhash(_shingles(words), DUPLICATE_PERMUTATIONS),
        terms=np.array(sorted({term_hash(t) for t in set(words)}), dtype="<i8").tobytes(),
        candidate_terms="\0".join(terms),
        candidate_numbers=np.array(numbers, dtype="<i8").tobytes(),
    )


def signed(features: TextFeatures, rarity: Rarity) -> Signatures:
    """Return a document's signatures from its text features, key terms weighed by `rarity` (an idf)."""
    keys = _chosen(features.candidates(), rarity, KEY_TERMS)
    return Signatures(
        shingles=features.shingles,
        story=_minhash([k.encode() for k in keys], STORY_PERMUTATIONS) if keys else None,
        terms=frozenset(features.term_keys()),
    )


def signatures(text: str, title: str | None = None, idf: Callable[[str], float] | None = None) -> Signatures:
    """Return the shingle and key-term signatures of a document's text (and title); `idf` weighs key terms."""
    return signed(text_features(text, title), _by_term(idf) if idf else candidate_idf(0, {}))


def band_keys(signature: bytes, rows: int) -> list[int]:
    """Return one signed 64-bit LSH key per band of `rows` permutations (band number included)."""
    width = rows * 4
    return [_int64(bytes([band]) + signature[start : start + width]) for band, start in _bands(signature, width)]


def estimated_jaccard(a: bytes, b: bytes) -> float:
    """Return the share of permutations on which two signatures agree."""
    left, right = np.frombuffer(a, dtype="<u4"), np.frombuffer(b, dtype="<u4")
    return float(np.mean(left == right)) if len(left) == len(right) and len(left) else 0.0


def term_vector(text: str) -> Counter[str]:
    """Return how often each term occurs (in the first SIMILARITY_CHARS): casefolded words, CJK as bigrams."""
    return Counter(_terms(text[:SIMILARITY_CHARS]))


def cosine(a: Mapping[str, int], b: Mapping[str, int], idf: Callable[[str], float]) -> float:
    """Return the cosine of two term vectors weighted (1 + log tf) x idf."""

    def weights(vector: Mapping[str, int]) -> dict[str, float]:
        return {t: (1 + math.log(n)) * idf(t) for t, n in vector.items()}

    left, right = weights(a), weights(b)
    dot = sum(w * right[t] for t, w in left.items() if t in right)
    norm = math.sqrt(sum(w * w for w in left.values()) * sum(w * w for w in right.values()))
    return dot / norm if norm else 0.0


def idf_from(documents: int, frequency: Mapping[int, int]) -> Callable[[str], float]:
    """Return inverse document frequency over the catalog's documents plus the background corpus.

    `frequency` counts the catalog's documents by term hash. The background (general web pages
    in many languages) keeps a small catalog from mistaking its own story's names for common
    words and its function words for rare ones.
    """
    total, background = _background()
    counted, common, everything, log = frequency.get, background.get, documents + total + 1, math.log  # bound once
    return lambda term: log(everything / (counted(term_hash(term), 0) + common(term, 0) + 1))


def candidate_idf(documents: int, frequency: Mapping[int, int]) -> Rarity:
    """Return idf_from's inverse document frequency for candidates, which carry their hash and background count."""
    total, _ = _background()
    counted, everything, log = frequency.get, documents + total + 1, math.log  # bound once
    return lambda _term, key, background: log(everything / (counted(key, 0) + background + 1))


def _by_term(idf: Callable[[str], float]) -> Rarity:
    return lambda term, _key, _background: idf(term)


def background_frequencies(texts: Iterable[str], min_documents: int = BACKGROUND_MIN_DOCUMENTS) -> dict[str, object]:
    """Return the background corpus file: its document count and the terms in `min_documents`+ documents."""
    counts: Counter[str] = Counter()
    documents = 0
    for text in texts:
        documents += 1
        counts.update(set(term_vector(text)))
    kept = {term: n for term, n in sorted(counts.items()) if n >= min_documents}
    return {"documents": documents, "min_documents": min_documents, "terms": kept}


@cache
def _background() -> tuple[int, dict[str, int]]:
    resource = resources.files("scraper") / "models" / BACKGROUND_RESOURCE
    data = json.loads(resource.read_text(encoding="utf-8"))
    return int(data["documents"]), dict(data["terms"])


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
    found = _grouped(*_candidates(text[:SIMILARITY_CHARS]))
    return _chosen(found, _by_term(idf) if idf else candidate_idf(0, {}), limit)


def _candidates(text: str) -> tuple[list[str], list[int]]:
    """Return the terms of `text` that may be key terms, in order of first occurrence, and four numbers each.

    The numbers: occurrences, of them written as a name, term_hash, background documents holding it.
    """
    return _weighed(*_tokenized(text))


def _tokenized(text: str) -> tuple[list[str], list[str]]:
    """Return the terms of `text` in order (_token_terms), and those of its tokens written as a name.

    A name: a capital inside a sentence, that is a token before it on its line and no sentence
    ended since. Split, not matched one by one: the parts are the gap before each token, then
    its CJK run or its word (a CJK character has no case, so only words can be capitals).
    """
    parts = _TOKEN.split(text)
    gaps, runs, words = parts[0:-1:3], parts[1::3], parts[2::3]
    capitals = [i for i, word in enumerate(words) if i and word and word[0].isupper() and _inside_sentence(gaps[i])]
    if not any(runs):  # one term a token: the words casefolded, as _token_terms folds them
        folded = "\0".join(words).casefold().replace("’", "'").split("\0") if words else []
        return folded, [folded[i] for i in capitals]
    found = _token_terms([(run or "", word or "") for run, word in zip(runs, words, strict=True)])
    return [term for terms in found for term in terms], [term for i in capitals for term in found[i]]


def _weighed(every: list[str], named_terms: list[str]) -> tuple[list[str], list[int]]:
    """Return _candidates' lists from a text's terms in order and those written as a name."""
    counts, named, common = Counter(every), Counter(named_terms).get, _background()[1].get
    terms = [t for t in counts if len(t) > 1 and t not in STOPWORDS and not t.isdigit()]
    return terms, [n for t in terms for n in (counts[t], named(t, 0), term_hash(t), common(t, 0))]


def _grouped(terms: list[str], numbers: list[int]) -> Iterator[tuple[str, int, int, int, int]]:
    """Yield (term, its four numbers) from _candidates' lists."""
    each = iter(numbers)
    return zip(terms, each, each, each, each, strict=True)


def _chosen(candidates: Iterable[tuple[str, int, int, int, int]], rarity: Rarity, limit: int) -> list[str]:
    """Return the `limit` heaviest distinctive candidates (TextFeatures.candidates), rarity as `rarity` weighs it."""
    heaviest = []
    for term, times, named, key, background in candidates:
        rare = rarity(term, key, background)
        # Only terms rarer than DISTINCTIVE count: a word in 1 document of 50 names no story.
        if rare >= DISTINCTIVE:
            weight = (1 + math.log(times)) * rare * (1.5 if 2 * named > times else 1.0)
            heaviest.append((-weight, term))
    return [term for _, term in sorted(heaviest)[:limit]]


def _inside_sentence(gap: str) -> bool:
    """Return whether the text between two tokens keeps them in one line and one sentence.

    A token itself never ends in a sentence mark, so the gap's last mark decides.
    """
    if "\n" in gap:
        return False
    gap = gap.rstrip()
    return not gap or gap[-1] not in _SENTENCE_ENDS


def _terms(text: str) -> list[str]:
    tokens = _TOKEN.findall(unicodedata.normalize("NFKC", text))
    return [term for terms in _token_terms(tokens) for term in terms]


def _token_terms(tokens: list[tuple[str, str]]) -> list[tuple[str, ...]]:
    """Return the terms of each (CJK run, word) token: a run's bigrams, or the word casefolded.

    The words are folded in one call: casefolding maps each character alone, so folding them
    joined by NUL (which no word holds) and splitting again gives each word's folding.
    """
    if not tokens:
        return []
    folded = "\0".join(word for _, word in tokens).casefold().replace("’", "'").split("\0")
    return [
        tuple(cjk[i : i + 2] for i in range(max(1, len(cjk) - 1))) if cjk else (word,)
        for (cjk, _), word in zip(tokens, folded, strict=True)
    ]


def _shingles(words: list[str]) -> list[bytes]:
    """Return each run of SHINGLE words (all of them if fewer), joined by a space, in UTF-8.

    Cut from the whole text joined once: each word's place in its bytes is a running sum of lengths.
    """
    if not words:
        return []
    joined = " ".join(words)
    data = joined.encode()
    lengths = map(len, words) if len(data) == len(joined) else map(len, data.split(b" "))  # no word holds a space
    starts = [0, *accumulate(length + 1 for length in lengths)]  # starts[i + 1] - 1: where word i ends
    width = min(SHINGLE, len(words))
    return [data[starts[i] : starts[i + width] - 1] for i in range(len(words) - width + 1)]


def _minhash(items: list[bytes], permutations: int) -> bytes:
    """Return the MinHash of `items` as datasketch's "affine32" scheme computes it, bit for bit.

    Each item's hash (the first 4 bytes of its SHA-1, little-endian) is mixed by MurmurHash3's
    finalizer, then permuted as a * h + b mod 2^32; the signature keeps each permutation's
    minimum (2^32 - 1 when there are no items). Done here in numpy: importing datasketch
    (scipy with it) cost a process about a second.
    """
    if not items:
        return np.full(permutations, 0xFFFFFFFF, dtype="<u4").tobytes()
    first = b"".join(hashlib.sha1(item).digest()[:4] for item in items)
    mixed = _fmix32(np.frombuffer(first, dtype="<u4").astype(np.uint32))
    a, b = _permutations(permutations)
    return bytes((mixed[:, None] * a + b).min(axis=0).astype("<u4").tobytes())


def _fmix32(values: np.ndarray) -> np.ndarray:
    """Return MurmurHash3's 32-bit finalizer of each value (multiplications wrap around)."""
    values = values ^ (values >> np.uint32(16))
    values = values * np.uint32(0x85EBCA6B)
    values = values ^ (values >> np.uint32(13))
    values = values * np.uint32(0xC2B2AE35)
    mixed: np.ndarray = values ^ (values >> np.uint32(16))
    return mixed


@cache
def _permutations(permutations: int) -> tuple[np.ndarray, np.ndarray]:
    """Return datasketch's affine32 permutations for our seed: odd multipliers a, offsets b."""
    generator = np.random.RandomState(_SEED)
    a = generator.randint(0, 1 << 31, permutations, dtype=np.uint32) * np.uint32(2) + np.uint32(1)
    b = generator.randint(0, 1 << 32, permutations, dtype=np.uint32)
    return a, b


def _bands(signature: bytes, width: int) -> Iterable[tuple[int, int]]:
    return enumerate(range(0, len(signature) - width + 1, width))


def _int64s(data: bytes) -> list[int]:
    return list(np.frombuffer(data, dtype="<i8").tolist())


def _int64(data: bytes) -> int:
    return int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "little", signed=True)
