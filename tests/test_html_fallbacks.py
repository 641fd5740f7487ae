"""HTML extraction when trafilatura turns a page down: fragments without <html>, pages it keeps nothing of."""

from __future__ import annotations

import gzip
import json

import pytest
import trafilatura

from scraper import Capture, build_record
from scraper._html import extract_html, parse_html
from scraper.errors import CaptureError
from scraper.evaluation import load_truth_set, truth_scores
from tests.conftest import DATA, ROOT, need

MAX_DATE = "2030-01-01"
# An old page saved without its <html>, <head> and <body>: it opens on a <div>, as a browser shows it.
# One outer <div> holds everything, so lxml parses it to a single element that trafilatura rejects.
FRAGMENT = (
    "<div id='wrap'><div id='main'><h2>October 08, 2004</h2>\n"
    "<div class='post'><p>The town hall debate opened with a question about the budget and the "
    "candidates answered it at length, each in turn, before the moderator moved on.</p>\n"
    "<p>Most of the evening went to foreign policy, where the two disagreed on almost every point "
    "and said so plainly, with the audience silent throughout.</p></div></div></div>\n"
)
CLEANEVAL = ROOT.parent / "shared" / "eval" / "more-dev" / "cleaneval"
FLOORS = json.loads((DATA / "quality_floors.json").read_text(encoding="utf-8"))


def test_trafilatura_turns_the_fragment_down() -> None:
    """The premise: without the fallback parse this page has no document at all."""
    assert trafilatura.load_html(FRAGMENT) is None


def test_a_page_that_opens_on_a_div_is_read_as_a_whole_document() -> None:
    tree = parse_html(FRAGMENT)
    assert tree.tag == "html" and tree.find("body") is not None
    found = extract_html(FRAGMENT, url=None, max_date=MAX_DATE)
    assert "town hall debate opened with a question" in found.text
    assert "disagreed on almost every point" in found.text
    assert found.input_words == 54  # 3 + 26 + 25 words, counted by hand


def test_a_fragment_with_nothing_to_read_is_still_unparseable() -> None:
    for markup in ("<div><img src='a.png'></div>", "<span> </span>"):
        with pytest.raises(CaptureError, match="unparseable HTML"):
            parse_html(markup)


def test_readability_speaks_when_trafilatura_keeps_nothing() -> None:
    """A dev page (CleanEval final-345: a long forum-like page) where trafilatura returns no text at all."""
    path = CLEANEVAL / "html" / "final-345.html.gz"
    need(path.is_file(), f"the CleanEval development set is not at {CLEANEVAL}")
    raw = gzip.decompress(path.read_bytes())
    assert not (trafilatura.extract(raw) or "").strip()
    record = build_record(Capture(raw, "file", str(path), "text/html"))
    assert record.provenance.extractor_options["text_from"].startswith("readability-lxml")
    assert len(record.text.split()) > 1000


@pytest.mark.slow  # extracts the 739 CleanEval pages
def test_cleaneval_stays_above_its_floor() -> None:
    """CleanEval holds old fragment pages and pages trafilatura keeps nothing of: the two paths above."""
    need((CLEANEVAL / "gt").is_dir(), f"the CleanEval development set is not at {CLEANEVAL}")
    pages = load_truth_set(CLEANEVAL)
    assert len(pages) == 739
    scores = truth_scores(pages, ["html"])["html"]
    floor = FLOORS["html_cleaneval"]["token_f1"]
    assert scores["token_f1"] >= floor, scores
    assert scores["empty"] <= 2, scores  # 13 before the fragment parse and the readability fallback
