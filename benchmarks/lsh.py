"""Near-duplicate and story candidates from the LSH index, against comparing every pair, as the catalog grows.

    python -m benchmarks.lsh [--sizes 10000,30000,100000]

One SQLite catalog grows through the sizes by Catalog.add_records (signatures, band keys and
term counts included). Among the synthetic documents, 1 in 100 is a near-copy of an earlier
one (two sentences rewritten, the last one dropped) and 1 in 100 retells one (its words
shuffled into other sentences, 30% of them replaced, six names shared). At each size: the
candidate pairs the band keys give and the time to find and verify them for every document
(what `scraper stories` does), `similar` latency for single documents, the share of planted
pairs found, and the time all pairs would take at the measured cost of one comparison.
"""

from __future__ import annotations

import argparse
import itertools
import random
import tempfile
import time
from dataclasses import replace
from typing import Any

from sqlalchemy import select

from archive.catalog.facade import Catalog
from archive.catalog.models import Document
from archive.catalog.similarity import _candidate_pairs, _Verifier, related
from benchmarks.synthetic import Corpus, machine, percentile, word, write_results
from scraper import Record
from scraper._text import sha256_hex

PLANT_EVERY = 100
BATCH = 500


class Planted:
    """Makes the synthetic stream, planting near-copies and retellings of earlier documents."""

    def __init__(self) -> None:
        self.corpus = Corpus(seed=3)
        self.rng = random.Random(9)
        self.texts: list[str] = []
        self.published: list[str] = []
        self.copies: list[tuple[int, int]] = []
        self.retellings: list[tuple[int, int]] = []

    def records(self, start: int, count: int) -> list[Record]:
        out = []
        for number in range(start, start + count):
            text = self._text(number)
            self.texts.append(text)
            record = self.corpus.record(number, text)
            if self.retellings and self.retellings[-1][1] == number:  # told the same day as the original
                record = replace(record, published=self.published[self.retellings[-1][0]])
            self.published.append(record.published or "")
            out.append(record)
        return out

    def _text(self, number: int) -> str:
        if number >= PLANT_EVERY and number % PLANT_EVERY == 0:
            original = self.rng.randrange(number)
            self.copies.append((original, number))
            sentences = self.texts[original].split(". ")[:-1]  # the copy drops the last sentence
            for i in self.rng.sample(range(len(sentences)), min(2, len(sentences))):  # and rewrites two
                sentences[i] = " ".join(word(self.rng.randrange(20_000)) for _ in range(12))
            return ". ".join(sentences) + "."
        if number >= PLANT_EVERY and number % PLANT_EVERY == 50:
            original = number - 1  # given the same names when it was made
            self.retellings.append((original, number))
            # Told again in other sentences: the original's words shuffled, 30% of them replaced.
            words = self.texts[original].replace(".", "").split()
            self.rng.shuffle(words)
            for i in self.rng.sample(range(len(words)), len(words) * 3 // 10):
                words[i] = word(self.rng.randrange(20_000))
            sentences = [" ".join(words[i : i + 14]).capitalize() for i in range(0, len(words), 14)]
            names = [word(50_000 + (original * 7 + k) % 9_000).capitalize() for k in range(6)]
            return _with_names(". ".join(sentences) + ".", names)
        if number % PLANT_EVERY == 49:  # a future retelling's original gets its names now
            names = [word(50_000 + (number * 7 + k) % 9_000).capitalize() for k in range(6)]
            return _with_names(self.corpus.text(), names)
        return self.corpus.text()


def _with_names(text: str, names: list[str]) -> str:
    sentences = text.split(". ")
    for i, name in enumerate(names * 2):
        where = (i * 3) % len(sentences)
        sentences[where] = f"{sentences[where]} with {name}"
    return ". ".join(sentences)


def _ordered(a: int, b: int) -> tuple[int, int]:
    """Return a pair of document ids smaller first, as the verifier's verdicts name them."""
    return (a, b) if a <= b else (b, a)


def measure(catalog: Catalog, planted: Planted, ids: dict[int, int]) -> dict[str, Any]:
    """Return candidate counts, timings and recall of planted pairs for the catalog as it is now."""
    everything = select(Document.id)
    with catalog.engine.connect() as connection:
        began = time.perf_counter()
        pairs = _candidate_pairs(connection, everything)
        candidates_s = time.perf_counter() - began
        verifier = _Verifier(connection)
        began = time.perf_counter()
        verdicts = verifier.judge(pairs)
        verify_s = time.perf_counter() - began
        sample = random.Random(1).sample(sorted(verifier.vectors), min(20_000, len(verifier.vectors)))
        probes = list(itertools.pairwise(sample))
        began = time.perf_counter()
        for a, b in probes:
            verifier._judge(a, b)
        per_pair = (time.perf_counter() - began) / max(1, len(probes))
        times = []
        for document in random.Random(2).sample(sorted(ids.values()), 100):
            began = time.perf_counter()
            related(connection, document)
            times.append((time.perf_counter() - began) * 1000)
    found = {_ordered(*p) for p in verdicts}

    def recall(planted_pairs: list[tuple[int, int]], relation: str) -> float:
        wanted = [_ordered(ids[a], ids[b]) for a, b in planted_pairs if a in ids and b in ids]
        hits = [p for p in wanted if p in found and verdicts.get(p, ("", 0))[0] in relation]
        return round(len(hits) / len(wanted), 3) if wanted else 0.0

    n = len(ids)
    return {
        "documents": n,
        "candidate_pairs": len(pairs),
        "candidates_per_document": round(len(pairs) / n, 2),
        "find_candidates_s": round(candidates_s, 2),
        "verify_s": round(verify_s, 2),
        "verified_pairs": len(verdicts),
        "all_pairs_estimate_s": round(per_pair * n * (n - 1) / 2, 1),
        "similar_p50_ms": round(percentile(times, 0.5), 1),
        "similar_p95_ms": round(percentile(times, 0.95), 1),
        "near_copy_recall": recall(planted.copies, "near-duplicate"),
        "retelling_recall": recall(planted.retellings, "same story near-duplicate"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,30000,100000")
    args = parser.parse_args()
    planted, rows, ids = Planted(), [], {}
    with tempfile.TemporaryDirectory(prefix="lsh-") as directory:
        catalog = Catalog(f"sqlite:///{directory}/catalog.sqlite")
        catalog.migrate()
        loaded, insert_s = 0, 0.0
        for size in sorted(int(s) for s in args.sizes.split(",")):
            while loaded < size:
                batch = planted.records(loaded, min(BATCH, size - loaded))
                began = time.perf_counter()
                catalog.add_records(batch)
                insert_s += time.perf_counter() - began
                loaded += len(batch)
            with catalog.engine.connect() as connection:
                by_digest = dict(connection.execute(select(Document.text_sha256, Document.id)).all())
            ids = {n: by_digest[sha256_hex(t)] for n, t in enumerate(planted.texts) if sha256_hex(t) in by_digest}
            row = {**measure(catalog, planted, ids), "insert_records_per_s": round(loaded / insert_s, 1)}
            print(row, flush=True)
            rows.append(row)
        catalog.close()
    head = (
        "| documents | add_records/s | candidate pairs (per doc) | find candidates s | verify s | all pairs, est. s |"
        " similar p50 / p95 ms | near-copy recall | retelling recall |"
    )
    lines = [head, "|" + "---|" * 9]
    for r in rows:
        lines.append(
            f"| {r['documents']:,} | {r['insert_records_per_s']:.0f} | {r['candidate_pairs']:,}"
            f" ({r['candidates_per_document']}) | {r['find_candidates_s']} | {r['verify_s']} |"
            f" {r['all_pairs_estimate_s']:,.0f} | {r['similar_p50_ms']} / {r['similar_p95_ms']} |"
            f" {r['near_copy_recall']:.1%} | {r['retelling_recall']:.1%} |"
        )
    print("\n".join(lines))
    write_results("lsh", {"machine": machine(), "rows": rows}, "\n".join(lines))


if __name__ == "__main__":
    main()
