"""The metric itself, on hand-made pages whose right answers are obvious."""

from __future__ import annotations

from pathlib import Path

from scraper.evaluation import EvalPage, Scores, score_output, word_shares


def _page(with_: tuple[str, ...], without: tuple[str, ...]) -> EvalPage:
    return EvalPage("https://example.org/a", Path("unused"), with_, without)


def test_snippet_counts_follow_the_published_metric() -> None:
    page = _page(("the main  story", "second point"), ("cookie banner", "share this"))
    scores = score_output(page, "The intro.\nthe main\nstory goes on. Share this now. cookie banner")
    # "the main story" is found after whitespace folding; "second point" is not;
    # "cookie banner" is found (case matters, as in the reference metric: "Share this" is not "share this").
    assert (scores.tp, scores.fn, scores.fp, scores.tn) == (1, 1, 1, 1)
    assert scores.precision == 0.5 and scores.recall == 0.5 and scores.f1 == 0.5


def test_scores_add_up_over_pages() -> None:
    total = Scores()
    total.add(Scores(tp=3, fp=1, fn=0, tn=2))
    total.add(Scores(tp=1, fp=0, fn=4, tn=1))
    assert (total.tp, total.fp, total.fn, total.tn) == (4, 1, 4, 3)
    assert round(total.precision, 3) == 0.8 and round(total.recall, 3) == 0.5


def test_word_shares_count_lines_by_label() -> None:
    raw = ["Menu", "Home News", "A Title Here", "First article line has words.", "", "Advertisement", "Second one."]
    labels = {"title": [3], "meta": [], "article": [4, 7]}
    shares = word_shares(raw, labels, "A Title Here", "First article line has words.\n\nAdvertisement")
    assert (shares.article_words, shares.article_kept) == (7, 5)  # "Second one." was lost
    assert (shares.boilerplate_words, shares.boilerplate_dropped) == (4, 3)  # "Advertisement" was kept
