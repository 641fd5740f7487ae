"""Scoring against ground-truth text (the more-dev sets' metric): token F1, checked by hand on tiny cases."""

from __future__ import annotations

import gzip
import json
import re
from pathlib import Path

import pytest

from scraper.evaluation import load_truth_set, margins, token_f1, truth_scores
from tests.conftest import DATA, Cli


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
    assert {k: v for k, v in scores["text-keep-all"].items() if k != "pages_per_second"} == {
        "token_f1": 1.0,
        "pages": 1,
        "empty": 0,
        "failures": 0,
    }


# The story of tests/data/comments/article.html and its truth (article.truth.txt, written by hand:
# the title, the article, the comments) counted by hand in word tokens: the title 7 words, the
# article 26 + 29 + 23 = 78, the two comments 17 + 17 = 34.
# Our HTML mode leaves out the title the article repeats; trafilatura's keeps it.
TITLE, ARTICLE, COMMENTS = 7, 78, 34


def _truth_set(root: Path) -> Path:
    """Write a ground-truth set: the story, its truth title + article + comments (as Dragnet's); an empty page."""
    (root / "html").mkdir(parents=True)
    (root / "gt").mkdir()
    (root / "html" / "1.html.gz").write_bytes(gzip.compress((DATA / "comments" / "article.html").read_bytes()))
    (root / "gt" / "1.txt").write_bytes((DATA / "comments" / "article.truth.txt").read_bytes())
    (root / "html" / "2.html.gz").write_bytes(gzip.compress(b"<html><body></body></html>"))
    (root / "gt" / "2.txt").write_text("A page whose text the capture lost.", encoding="utf-8")
    return root


def _f1_of_subset(kept: int, missed: int) -> float:
    """F1 of an output whose words are all in the truth (precision 1) and `missed` truth words short."""
    return 2 * kept / (2 * kept + missed)


EXPECTED = {  # per mode, the mean over the two pages (the empty page scores 0)
    "html": _f1_of_subset(ARTICLE, TITLE + COMMENTS) / 2,
    "trafilatura": _f1_of_subset(TITLE + ARTICLE, COMMENTS) / 2,
    "html+comments": _f1_of_subset(ARTICLE + COMMENTS, TITLE) / 2,
    "trafilatura+comments": 1.0 / 2,
}


def test_truth_scores_with_and_without_comments(tmp_path: Path) -> None:
    pages = load_truth_set(_truth_set(tmp_path))
    scores = truth_scores(pages, list(EXPECTED))
    for mode, f1 in EXPECTED.items():
        assert scores[mode]["token_f1"] == pytest.approx(f1, abs=1e-4), mode
        assert scores[mode]["pages"] == 2 and scores[mode]["empty"] == 1
    assert scores["html"]["failures"] == 1  # our extraction refuses a page with no text: counted as empty
    assert scores["trafilatura"]["failures"] == 0  # trafilatura returns nothing instead
    assert margins(scores) == {
        "html - trafilatura": round(scores["html"]["token_f1"] - scores["trafilatura"]["token_f1"], 4),
        "html+comments - trafilatura+comments": round(
            scores["html+comments"]["token_f1"] - scores["trafilatura+comments"]["token_f1"], 4
        ),
    }
    assert margins(scores)["html - trafilatura"] < 0  # trafilatura kept the title the truth has


def test_eval_scores_each_truth_set_and_states_the_margins(tmp_path: Path) -> None:
    cli = Cli(cwd=tmp_path, data=tmp_path / "data", db=f"sqlite:///{tmp_path / 'catalog.sqlite'}")
    first, second = _truth_set(tmp_path / "one"), _truth_set(tmp_path / "two")
    modes = "html,trafilatura,html+comments,trafilatura+comments"
    done = cli("eval", "--truth", str(first), "--truth", str(second), "--modes", modes, "--format", "json", check=True)
    report = json.loads(done.out)
    assert "corpus" not in report  # no snippet set named: only the truth sets are scored
    assert [(found["name"], found["pages"]) for found in report["truth"]] == [("one", 2), ("two", 2)]
    for found in report["truth"]:
        rows = {row["mode"]: row for row in found["modes"]}
        assert {mode: round(row["token_f1"], 4) for mode, row in rows.items()} == {
            mode: round(f1, 4) for mode, f1 in EXPECTED.items()
        }
        assert all(row["empty"] == 1 for row in rows.values())
        assert set(found["margins"]) == {"html - trafilatura", "html+comments - trafilatura+comments"}
    table = cli("eval", "--truth", str(first), "--modes", "html,trafilatura", check=True).out
    assert table.splitlines()[0] == "one: 2 pages, token F1 against the ground truth"
    assert f"F1 {EXPECTED['html']:.4f}     1 empty (1 failed)" in table
    assert re.search(r"html - trafilatura +-0\.\d{4}$", table, re.MULTILINE)
    refused = cli("eval", "--truth", str(tmp_path / "data"), "--modes", "html")
    assert refused.code == 2 and "not a ground-truth set" in refused.err
