"""Scoring against ground-truth text (the more-dev sets' metric): token F1, checked by hand on tiny cases."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from scraper.evaluation import load_truth_set, token_f1, truth_scores


def test_token_f1_counts_words_as_a_multiset() -> None:
    # output a b b c, truth b c d: overlap b, c = 2; precision 2/4, recall 2/3; F1 = 4/7.
    assert token_f1("A b, b c.", "b c d") == pytest.approx(4 / 7)
    assert token_f1("same words", "Same words") == 1.0
    assert token_f1("", "some truth") == 0.0
    assert token_f1("", "") == 1.0
    assert token_f1("other", "words") == 0.0


def test_a_truth_set_is_read_and_scored_page_by_page(tmp_path: Path) -> None:
    (tmp_path / "html").mkdir()
    (tmp_path / "gt").mkdir()
    page = "<html><body><p>The ferry pier closes for repairs on Monday.</p></body></html>"
    (tmp_path / "html" / "1.html.gz").write_bytes(gzip.compress(page.encode()))
    (tmp_path / "gt" / "1.txt").write_text("The ferry pier closes for repairs on Monday.", encoding="utf-8")
    (tmp_path / "html" / "2.html.gz").write_bytes(gzip.compress(b"<html></html>"))  # no truth beside it: left out
    pages = load_truth_set(tmp_path)
    assert [(p.path.name, truth) for p, truth in pages] == [
        ("1.html.gz", "The ferry pier closes for repairs on Monday.")
    ]
    scores = truth_scores(pages, ["text-keep-all"])
    assert scores["text-keep-all"] == {"token_f1": 1.0, "pages": 1, "empty": 0}
