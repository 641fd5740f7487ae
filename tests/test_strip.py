"""The plain-text stripper on the five real shared captures and on our own, labeled by hand.

Each expectation below was read off the capture by a person: titles, dates and bylines.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from scraper import strip_boilerplate
from scraper._text import normalize_line
from tests.conftest import DATA, PROJECT_SEEDS

# The shared seeds' text stays in ../shared: they are labeled by line number (data/seed_labels.json),
# and tests/test_seeds.py holds each to the article words kept and boilerplate words dropped.
SEED_LABELS = json.loads((DATA / "seed_labels.json").read_text(encoding="utf-8"))
SEED_NAMES = sorted(n for n in SEED_LABELS if not n.startswith("_"))


def _strip(path: Path):  # type: ignore[no-untyped-def]
    text = path.read_text(encoding="utf-8")
    if text.startswith(" date "):
        text = text.split("\n", 1)[1]
    return strip_boilerplate(text)


@pytest.mark.parametrize("name", SEED_NAMES)
def test_shared_seed_titles_are_the_lines_labeled_title(shared_seeds: Path, name: str) -> None:
    lines = (shared_seeds / name).read_text(encoding="utf-8").splitlines()
    labeled = {normalize_line(lines[number - 1]) for number in SEED_LABELS[name]["title"]}
    title = _strip(shared_seeds / name).title
    assert title in labeled if labeled else title is None, title


def test_shared_seed_dates_and_bylines(shared_seeds: Path) -> None:
    assert _strip(shared_seeds / "000_00149d0babb7de2b.txt").published == "2025-05-04"
    dated = _strip(shared_seeds / "004_37dd129275a04f7f.txt")
    assert dated.published == "2025-05-06"
    assert dated.authors == ("Cassie B.",)


def test_dates_after_the_capture_are_not_publication_dates() -> None:
    text = "Headline of the day\nJune 3, 2031\n\n" + "A full sentence of article text that goes on for a while. " * 4
    assert strip_boilerplate(text).published == "2031-06-03"
    assert strip_boilerplate(text, max_date="2025-01-01").published is None


@pytest.mark.parametrize(
    ("name", "title", "authors", "published"),
    [
        ("ferry-strike.txt", "Ferry crews walk out as talks over summer rosters collapse", (), "2025-07-18"),
        ("tafel-stadtrat.txt", "Tafel sucht dringend neue Räume", ("Jana Brückner",), "2025-09-12"),
        (
            "wire-drought.txt",
            "Drought pushes river freight onto rails as water levels hit record low",
            ("Amira Haddad", "Jonas Pettersen"),
            "2025-08-06",
        ),
    ],
)
def test_project_text_seeds(name: str, title: str, authors: tuple[str, ...], published: str) -> None:
    result = _strip(PROJECT_SEEDS / "text" / name)
    assert (result.title, result.authors, result.published) == (title, authors, published)
    joined = "\n".join(result.paragraphs)
    for furniture in ("Advertisement", "Anzeige", "Cookie", "©", "Share", "Newsletter", "Trending", "Read Next"):
        assert furniture not in joined, furniture


def test_hard_wrapped_paragraphs_are_joined() -> None:
    result = _strip(PROJECT_SEEDS / "text" / "wire-drought.txt")
    assert result.paragraphs[0].startswith(
        "BARGES on the upper river are running at a third of their capacity as water levels fell"
    )
    assert len(result.paragraphs) == 5


def test_empty_and_furniture_only_text_gives_no_paragraphs() -> None:
    assert strip_boilerplate("").paragraphs == ()
    assert strip_boilerplate("Home\nNews\nSports\nAdvertisement\n© 2025 All rights reserved").paragraphs == ()
