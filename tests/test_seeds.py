"""The five shared seeds, one by one: issue 23's targets on each capture, by the hand labels in data/seed_labels.json.

The aggregate over the five is gated in test_quality.py; here no seed may hide behind the others.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from scraper import Capture, build_record
from scraper.evaluation import word_shares
from tests.conftest import DATA

LABELS = json.loads((DATA / "seed_labels.json").read_text(encoding="utf-8"))
NAMES = sorted(n for n in LABELS if not n.startswith("_"))
ARTICLE_KEPT = 0.98  # of the words on lines labeled article
BOILERPLATE_DROPPED = 0.97  # of the words on every other line but title and meta


@pytest.mark.parametrize("name", NAMES)
def test_each_seed_keeps_its_article_and_drops_its_boilerplate(shared_seeds: Path, name: str) -> None:
    raw = (shared_seeds / name).read_bytes()
    record = build_record(Capture(raw, "file", str(shared_seeds / name), "text/plain"))
    shares = word_shares(raw.decode("utf-8").splitlines(), LABELS[name], record.title, record.text)
    assert shares.kept_share >= ARTICLE_KEPT, shares
    assert shares.dropped_share >= BOILERPLATE_DROPPED, shares
    assert not record.text.rstrip().endswith((":", "：")), "the text ends on a dangling lead-in"
