"""Training the text model on ground-truth sets: each rendered line voted on by trafilatura and the true text."""

from __future__ import annotations

import gzip
from pathlib import Path

from scraper.evaluation import EvalPage
from scraper.strip import analyse
from scraper.training import _page_samples, truth_site

ARTICLE = [
    "The harbour council voted on Tuesday to rebuild the old sea wall before the winter storms arrive in the bay.",
    "Engineers said the new wall would stand two metres taller and would be finished by the end of next year.",
    "Residents who lost boats in last year's flooding welcomed the decision but asked for a faster timetable.",
]
COMMENT = "Finally some sense from the council, my street floods every single spring and nobody ever listens to us."
PAGE = f"""<html><head><title>Sea wall to be rebuilt</title></head><body>
<nav><ul><li><a href="https://harbour-news.example/">Home</a></li>
<li><a href="https://harbour-news.example/sport">Sport</a></li>
<li><a href="https://harbour-news.example/weather">Weather</a></li></ul></nav>
<article><h1>Sea wall to be rebuilt</h1>{"".join(f"<p>{p}</p>" for p in ARTICLE)}</article>
<div id="comments" class="comments"><h3>Comments</h3><div class="comment"><p>{COMMENT}</p></div></div>
<footer><a href="https://harbour-news.example/about">About us</a> <a href="https://social.example/share">Share</a></footer>
</body></html>"""


def _page(tmp_path: Path, html: str) -> EvalPage:
    path = tmp_path / "0001.html.gz"
    path.write_bytes(gzip.compress(html.encode()))
    return EvalPage("", path, (), ())


def test_a_truth_page_labels_what_both_keep_article_and_what_only_the_truth_keeps_nothing(tmp_path: Path) -> None:
    page = _page(tmp_path, PAGE)
    truth = "\n".join(["Sea wall to be rebuilt", *ARTICLE, COMMENT])  # a truth that counts reader comments
    samples = _page_samples((page, truth, "harbour-set"))
    assert {s.renderer for s in samples} == {"inscriptis", "html2text"}
    for sample in samples:
        assert (sample.site, sample.truth, sample.truth_set) == ("harbour-news.example", truth, "harbour-set")
        lines = analyse(sample.text).lines
        labels = {line.text.lstrip("# "): int(label) for line, label in zip(lines, sample.labels, strict=True)}
        assert all(labels[p] == 1 for p in ARTICLE), labels  # trafilatura and the truth keep them
        assert labels["Home"] == labels["Weather"] == labels["About us Share"] == 0  # neither keeps them
        assert labels[COMMENT] == -1  # the truth keeps it, trafilatura (comments off) does not: no lesson


def test_a_truth_page_belongs_to_the_site_its_links_go_to_else_to_itself(tmp_path: Path) -> None:
    assert truth_site(_page(tmp_path, PAGE)) == "harbour-news.example"  # 4 links there, 1 elsewhere
    lone = _page(tmp_path, f"<html><body><p>{ARTICLE[0]}</p></body></html>")
    assert truth_site(lone) == "0001.html.gz.invalid"  # no link says whose page it is: a site of its own
