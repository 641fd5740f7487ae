"""Synthetic catalog records: Zipf-distributed pseudo-words, sites, authors, languages and dates.

Deterministic for a seed, so two runs (or two catalogs) hold the same documents.
"""

from __future__ import annotations

import hashlib
import json
import platform
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from scraper import Provenance, Record, WarcLocation, __version__

VOCABULARY = 60_000
NAMES = 500_000
FAMOUS = 2_000
SITES = 300
AUTHORS = 2_000
LANGUAGES = ("en", "en", "en", "de", "fr", "es")
FIRST_DAY = date(2022, 1, 1)
DAYS = 3 * 365
_SYLLABLES = [c + v for c in "bcdfghjklmnprstvwz" for v in ("a", "e", "i", "o", "u", "ai", "ou")]
RESULTS = Path(__file__).resolve().parent / "results"


def word(rank: int) -> str:
    """Return the pseudo-word of a vocabulary rank (rank 0 is the commonest)."""
    out, n = [], rank + 1
    while n:
        n, digit = divmod(n, len(_SYLLABLES))
        out.append(_SYLLABLES[digit])
    return "".join(out)


@dataclass
class Corpus:
    """A stream of synthetic documents; `words(i)` is the i-th document's word ranks."""

    seed: int = 7
    min_words: int = 80
    max_words: int = 250

    def __post_init__(self) -> None:
        self.rng = np.random.default_rng(self.seed)
        self.words_by_rank = [word(r) for r in range(VOCABULARY)]

    def ranks(self, count: int) -> np.ndarray:
        """Return `count` word ranks drawn from a Zipf law over the vocabulary."""
        return (self.rng.zipf(1.15, count) - 1) % VOCABULARY

    def text(self) -> str:
        """Return one document's text in sentences of 8-20 words, naming 2-8 people or places.

        Up to two names from 2,000 that recur across many documents, and 2-6 from a pool of
        500,000, each written once to three times with a capital inside a sentence, as in news.
        """
        length = int(self.rng.integers(self.min_words, self.max_words))
        words = [self.words_by_rank[r] for r in self.ranks(length)]
        famous = self.rng.integers(0, FAMOUS, int(self.rng.integers(0, 3)))  # recur across many documents
        rare = self.rng.integers(FAMOUS, NAMES, int(self.rng.integers(2, 7)))  # a few documents each
        for rank in [*famous, *rare]:
            name = word(VOCABULARY + int(rank)).capitalize()
            for _ in range(int(self.rng.integers(1, 4))):
                words.insert(int(self.rng.integers(1, len(words))), name)
        sentences, start = [], 0
        while start < len(words):
            end = start + int(self.rng.integers(8, 20))
            chunk = words[start:end]
            sentences.append(" ".join([chunk[0].capitalize(), *chunk[1:]]) + ".")
            start = end
        return " ".join(sentences)

    def records(self, count: int, start: int = 0) -> Iterator[Record]:
        """Yield `count` records numbered from `start`."""
        for number in range(start, start + count):
            yield self.record(number, self.text())

    def record(self, number: int, text: str) -> Record:
        """Return a catalog record for synthetic document `number` with `text`."""
        site = f"site{int(self.rng.integers(SITES))}.example"
        day = FIRST_DAY + timedelta(days=int(self.rng.integers(DAYS)))
        url = f"https://{site}/{day.isoformat()}/story-{number}"
        digest = hashlib.sha256(f"{number}:{text}".encode()).hexdigest()
        where = WarcLocation("synthetic.warc.gz", number * 3000, 2900, f"<urn:uuid:{digest[:32]}>")
        return Record(
            id=digest[:32],
            source_url=url,
            canonical_url=url,
            site=site,
            site_name=site,
            title=" ".join(self.words_by_rank[r] for r in self.ranks(7)).capitalize(),
            authors=(f"Author {int(self.rng.integers(AUTHORS))}",),
            published=day.isoformat(),
            language=LANGUAGES[int(self.rng.integers(len(LANGUAGES)))],
            tags=(),
            description=None,
            text=text,
            word_count=len(text.split()),
            payload_sha256=digest,
            text_sha256=hashlib.sha256(text.encode()).hexdigest(),
            provenance=Provenance(
                source_kind="file",
                source_location=f"synthetic/{number}.html",
                captured_at=f"{day.isoformat()}T12:00:00Z",
                media_type="text/html",
                extractor="synthetic",
                extractor_version="0",
                project_version=__version__,
                warc_raw=where,
                warc_conversion=where,
                warc_metadata=where,
            ),
        )


def machine() -> dict[str, Any]:
    """Return what the figures were measured on."""
    import os

    found: dict[str, Any] = {"python": platform.python_version(), "machine": platform.machine(), "cpus": os.cpu_count()}
    try:  # Linux: the processor's name and the memory size
        info = Path("/proc/cpuinfo").read_text()
        found["cpu"] = next(line.split(":", 1)[1].strip() for line in info.splitlines() if "model name" in line)
        total = next(line for line in Path("/proc/meminfo").read_text().splitlines() if line.startswith("MemTotal"))
        found["memory_gb"] = round(int(total.split()[1]) / 1024 / 1024, 1)
    except (OSError, StopIteration):
        pass
    return found


def write_results(name: str, results: dict[str, Any], table: str, directory: Path = RESULTS) -> None:
    """Write DIRECTORY/NAME.json and DIRECTORY/NAME.md (default benchmarks/results)."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / f"{name}.json").write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    (directory / f"{name}.md").write_text(table + "\n", encoding="utf-8")


def percentile(values: list[float], share: float) -> float:
    """Return the `share` percentile (0-1) of `values`."""
    return float(np.percentile(np.array(values), share * 100)) if values else 0.0
