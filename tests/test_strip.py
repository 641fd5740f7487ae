"""The plain-text stripper on the five real shared captures and on our own, labeled by hand.

Each expectation below was read off the capture by a person: the first words of
article paragraphs that must stay, and furniture lines that must go.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from scraper import strip_boilerplate
from tests.conftest import PROJECT_SEEDS

KEEP = {
    "000_00149d0babb7de2b.txt": [
        "Mexican President Claudia Sheinbaum said Saturday she declined",
        "“I told him, ‘No, President Trump, our territory is inviolable",
        "It remains the leading cause of death for Americans ages 18 to 44",
        "“We want to help her. We want to help Mexico",
    ],
    "001_baa794ac9f464c19.txt": [
        "In a bold display of defiance, Mexican President Claudia Sheinbaum",
        "“No, President Trump, our territory is inalienable",
        "On Saturday, Sheinbaum said she offered to cooperate",
    ],
    "002_803af18d729c8acf.txt": [
        "Mexican President Claudia Sheinbaum said Saturday that she flatly rejected",
        "The White House did not immediately respond to a request for comment",
    ],
    "003_c21ef9109a519698.txt": [
        "(MENAFN) Mexican President Claudia Sheinbaum has firmly rejected",
        "Earlier this year, in February, Sheinbaum agreed to deploy 10,000",
    ],
    "004_37dd129275a04f7f.txt": [
        "Mexican President Claudia Sheinbaum rejected Donald Trump’s proposal",  # bullet summary
        "The dispute threatens recent agreements, including Mexico’s troop",  # last bullet
        "A controversial proposal",  # subhead
        "Sovereignty vs. security",
        "Sheinbaum’s firm rejection of U.S. military intervention signals",
    ],
}
DROP = {
    "000_00149d0babb7de2b.txt": [
        "Home",
        "View All Result",
        "SHARES",
        "1.4k",
        "Share on FacebookShare on Twitter",
        "Tags: Donald Trump",
        "Lalo Schifrin, composer of the ‘Mission: Impossible’ theme, dies at 93",
        "Copyright © 2025.",
        "The post Mexico’s president says",
    ],
    "001_baa794ac9f464c19.txt": [
        "Race, And The Biggest Mass Psyop In Human History",
        "Advertisement",
        "Join the conversation as a VIP Member",
        "Trending on Townhall Videos",
    ],
    "004_37dd129275a04f7f.txt": [
        "Support Natural News by linking to this article",
        "Permalink to this article:",
        "This site uses cookies",
        "Get 100% real, uncensored news delivered straight to your inbox",
        "This site is part of the Natural News Network",
    ],
}
TITLES = {
    "000_00149d0babb7de2b.txt": "Mexico’s president says she declined Trump’s offer for US military crackdown on cartels",
    "001_baa794ac9f464c19.txt": "Mexican President Snubs Trump’s Push for U.S. Military In Mexico’s Cartel Fight",
    "003_c21ef9109a519698.txt": "Mexico refuses Trump’s troops suggestion",
    "004_37dd129275a04f7f.txt": "Mexican president rejects Trump’s offer to deploy U.S. troops against cartels",
}


def _strip(path: Path):  # type: ignore[no-untyped-def]
    text = path.read_text(encoding="utf-8")
    if text.startswith(" date "):
        text = text.split("\n", 1)[1]
    return strip_boilerplate(text)


@pytest.mark.parametrize("name", sorted(KEEP))
def test_shared_seeds_keep_article_and_drop_furniture(shared_seeds: Path, name: str) -> None:
    result = _strip(shared_seeds / name)
    for start in KEEP[name]:
        assert any(p.startswith(start) for p in result.paragraphs), start
    raw_lines = [line.strip() for line in (shared_seeds / name).read_text(encoding="utf-8").splitlines()]
    for line in DROP.get(name, []):
        assert any(raw.startswith(line) for raw in raw_lines), f"label not in the capture: {line}"
        assert not any(p.startswith(line) for p in result.paragraphs), line
    assert result.title == TITLES.get(name)


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
