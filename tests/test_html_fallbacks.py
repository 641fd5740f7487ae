"""HTML extraction when trafilatura turns a page down: fragments without <html>, pages it keeps nothing of."""

from __future__ import annotations

import gzip
import json
from typing import Any

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


# Pages on each path of trafilatura.load_html: a whole page, a string declaring its encoding (lxml
# refuses it as a string: parsed as bytes), a doctype line, a self-closing <html/>, control
# characters it strips, a page never naming <html> that parses to one block (turned down).
LOAD_CASES = (
    "<!DOCTYPE html><html><head><title>T</title></head><body><p>One.</p><form><input name=q></form></body></html>",
    '<?xml version="1.0" encoding="utf-8"?>\n<html><body><p>Declared, caf\u00e9.</p></body></html>',
    '<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0//EN">\n<html><body><p>Old doctype.</p></body></html>',
    "<html/>\n<body><p>Self-closing root.</p><p>Second.</p></body>",
    "<html><body><p>Bell\x07 and\x0b tab.</p><!-- note --><?pi x?></body></html>",
    FRAGMENT,
    "<div>one</div><div>two</div>",
)


@pytest.mark.parametrize("markup", LOAD_CASES)
def test_our_parse_is_trafilaturas(markup: str) -> None:
    """parse_html's own parser (a C-level element class lookup) builds the tree trafilatura.load_html builds."""
    from lxml.html import HtmlElement

    ours = _same_tree_as_trafilaturas(markup, "case")
    if ours is not None:
        assert all(type(el) is HtmlElement for el in ours.iter())  # no Python lookup: <form> is no FormElement


def test_our_parse_is_trafilaturas_on_dev_pages() -> None:
    """The same trees on the first 60 pages of the development set (encodings, broken markup, CJK)."""
    from scraper._text import decode_bytes

    pages = sorted((ROOT.parent / "shared" / "eval" / "trafilatura-eval" / "html").glob("*.html.gz"))[:60]
    need(len(pages) == 60, "the trafilatura-eval development set is not beside the project")
    for path in pages:
        _same_tree_as_trafilaturas(decode_bytes(gzip.decompress(path.read_bytes()))[0], path.name)


def _same_tree_as_trafilaturas(markup: str, name: str) -> Any:
    """Assert _load_html turns `markup` down, or parses it, as trafilatura.load_html does; return our tree."""
    from lxml import etree

    from scraper._html import _load_html

    ours, theirs = _load_html(markup), trafilatura.load_html(markup)
    assert (ours is None) == (theirs is None), name
    if ours is not None:
        assert etree.tostring(ours) == etree.tostring(theirs), name
    return ours
