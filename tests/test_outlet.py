"""Who published a text capture: the outlet read off the capture's own lines.

The shared seeds are labeled by hand in data/seed_outlets.json; the other captures here are
fictional (outlets and stories made up for these tests), each expectation read off the text.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from scraper.outlet import OUTLET_RULES_VERSION, find_outlet
from tests.conftest import DATA, Cli

SEED_OUTLETS = json.loads((DATA / "seed_outlets.json").read_text(encoding="utf-8"))
SEED_NAMES = sorted(n for n in SEED_OUTLETS if not n.startswith("_"))

PROSE = (
    "The harbour board voted on Tuesday to close the old ferry pier for repairs, a decision that "
    "leaves commuters on the north shore with a longer trip until the spring."
)


def _capture(*lines: str) -> str:
    return "\n\n".join(lines)


@pytest.mark.parametrize("name", SEED_NAMES)
def test_each_shared_seed_names_the_outlet_its_reader_finds(shared_seeds: Path, name: str) -> None:
    label = SEED_OUTLETS[name]
    outlet = find_outlet((shared_seeds / name).read_text(encoding="utf-8"))
    assert outlet is not None, name
    assert (outlet.name, outlet.domain, outlet.origin) == (label["outlet"], label["domain"], label["origin"])
    assert sorted({c.rule for c in outlet.cues}) == label["rules"]
    assert outlet.site == (label["domain"] or label["outlet"])


def test_a_capture_that_names_no_outlet_gets_no_claim() -> None:
    text = _capture("Ferry pier to close for repairs", PROSE, "Photo: © Jane Roe", "Share this story")
    assert find_outlet(text) is None


def test_the_claim_says_which_rule_found_the_outlet_and_on_which_line() -> None:
    text = "\n".join(["Pier closes", "", PROSE, "", "Support Harbour Ledger by linking to this article."])
    outlet = find_outlet(text)
    assert outlet is not None
    assert outlet.claim() == {
        "name": "Harbour Ledger",
        "domain": None,
        "found_by": [{"rule": "support by linking", "line": 5, "text": "Harbour Ledger"}],
        "rules_version": OUTLET_RULES_VERSION,
    }


def test_spellings_of_one_outlet_add_up_and_its_domain_names_the_site() -> None:
    text = _capture(
        PROSE,
        "Support Harbour Ledger by linking to this article from your website.",
        "Reprinting is permitted with credit to HarbourLedger.com (with a link).",
        "This site is part of the Harbour Ledger Network © 2023 All Rights Reserved.",
        "Sources: NorthShoreDaily.com",
    )
    outlet = find_outlet(text)
    assert outlet is not None
    assert outlet.name == "Harbour Ledger"
    assert outlet.domain == "harbourledger.com"  # not the other domain the capture names
    assert outlet.site == "harbourledger.com"
    assert [c.rule for c in outlet.cues] == ["support by linking", "credit to", "copyright"]


def test_a_republished_story_names_its_page_and_where_it_first_appeared() -> None:
    head = ["QWEZNEWS", "  • Home", "  • World", "QWEZNEWS", "Pier closes", PROSE]
    text = "\n".join([*head, "The post Pier closes appeared first on Lakeside Courier.", "  • Home", "  • World"])
    outlet = find_outlet(text)
    assert outlet is not None
    assert (outlet.name, outlet.origin) == ("QWEZNEWS", "Lakeside Courier")
    assert outlet.claim()["origin"] == {
        "name": "Lakeside Courier",
        "found_by": [{"rule": "appeared first on", "line": 7, "text": "Lakeside Courier"}],
    }


def test_with_no_page_cue_the_origin_stands_for_the_outlet() -> None:
    text = _capture(PROSE, "The mayor did not immediately respond to a request for comment from the Lakeside Courier.")
    outlet = find_outlet(text)
    assert outlet is not None
    assert (outlet.name, outlet.origin) == ("Lakeside Courier", None)
    other = _capture(PROSE, "The mayor did not respond to a Lakeside Courier request for comment.")
    assert getattr(find_outlet(other), "name", None) == "Lakeside Courier"


@pytest.mark.parametrize(
    ("opening", "agency"),
    [
        ("(QWIRE) The harbour board", "QWIRE"),
        ("PORTVILLE (Coastwire) — The harbour board", "Coastwire"),
        ("Portville (QW) - The harbour board", "QW"),
        ("Portville (qwn) - The harbour board", "qwn"),
        ("(QWIRE).- The harbour board", "QWIRE"),
    ],
)
def test_an_agency_dateline_names_the_origin(opening: str, agency: str) -> None:
    text = _capture("Pier closes", f"{opening} {PROSE[len('The harbour board ') :]}")
    outlet = find_outlet(text)
    assert outlet is not None
    assert (outlet.name, [c.rule for c in outlet.cues]) == (agency, ["agency dateline"])


@pytest.mark.parametrize(
    "opening",
    [
        "The Harbour Authority (HA) said the board",  # an abbreviation, not a dateline
        "Portville (Westland) - The harbour board",  # a country after a town
        "(Updated) The harbour board",
        "Jane Roe (Photo) was at the harbour board",
    ],
)
def test_brackets_that_are_no_dateline_name_no_one(opening: str) -> None:
    assert find_outlet(_capture("Pier closes", f"{opening} {PROSE}")) is None


def test_trending_on_names_the_outlet_without_its_section_word() -> None:
    text = _capture(PROSE, "Recommended", "Trending on Lakeside Courier Videos", "Advertisement")
    outlet = find_outlet(text)
    assert outlet is not None
    assert (outlet.name, outlet.cues[0].line) == ("Lakeside Courier", 5)


def test_a_copyright_line_names_its_holder_but_not_a_rights_notice_or_a_photo_credit() -> None:
    assert getattr(
        find_outlet(_capture(PROSE, "Copyright © 2024 Lakeside Courier. All Rights Reserved.")), "name", None
    ) == ("Lakeside Courier")
    assert find_outlet(_capture(PROSE, "Copyright © 2024. All Rights Reserved.")) is None
    assert find_outlet(_capture(PROSE, "The pier in 1950. © Jane Roe")) is None  # no year: a photo credit
    assert find_outlet(_capture(PROSE, "The board cited copyright law and Harbour Rules.")) is None


def test_a_brand_line_must_head_the_page_repeat_and_look_like_a_name() -> None:
    def brand(first: str, common: tuple[str, ...] = ()) -> str | None:
        outlet = find_outlet("\n".join([first, "Menu", first, "Pier closes", PROSE]), common_words=common)
        return outlet.name if outlet else None

    assert brand("QWEZNEWS") == "QWEZNEWS"
    assert brand("QwezNews") == "QwezNews"
    assert brand("Harbourledger") is None  # one title-case word: as often a section as a name
    assert brand("Newsletter QW", common=("newsletter",)) is None  # a word every site uses
    assert brand("Home") is None
    assert find_outlet("\n".join(["QWEZNEWS", "Pier closes", PROSE])) is None  # said once
    # A title-case brand the capture gives a domain for is a name after all.
    outlet = find_outlet("\n".join(["Harbourledger", "Menu", "Harbourledger", PROSE, "Write to us: harbourledger.org"]))
    assert outlet is not None
    assert (outlet.name, outlet.domain) == ("Harbourledger", "harbourledger.org")


def test_a_day_or_a_month_after_originally_published_names_no_one() -> None:
    text = _capture("Originally Published on Tuesday, August 9, 2011:", PROSE, "Originally published in March 2011.")
    assert find_outlet(text) is None
    assert getattr(find_outlet(_capture(PROSE, "Originally published by Lakeside Courier.")), "name", None) == (
        "Lakeside Courier"
    )


def test_extracting_again_carries_the_site_a_text_names() -> None:
    """A saved text's site comes from its outlet, so a new extraction that names one replaces the old site."""
    from scraper import Capture, build_record

    text = _capture("Pier closes", PROSE, "Support Harbour Ledger by linking to this article.").encode()
    held = build_record(Capture(text, "file", "pier.txt", "text/plain"))
    named = replace(held, site="harbourledger.com")
    assert not held.same_extraction(named)
    assert held.with_extraction(named).site == "harbourledger.com"


def test_stories_of_the_shared_seeds_name_their_outlets_not_their_files(shared_seeds: Path, cli: Cli) -> None:
    """The five captures of one story come out under the outlets the labels name, as the record's site."""
    cli("replay", str(shared_seeds), check=True)
    exported = [json.loads(line) for line in cli("export", "--format", "jsonl", check=True).out.splitlines()]
    sites = {Path(r["provenance"]["source_location"]).name: (r["site"], r["site_name"]) for r in exported}
    assert sites == {
        name: (SEED_OUTLETS[name]["domain"] or SEED_OUTLETS[name]["outlet"], SEED_OUTLETS[name]["outlet"])
        for name in SEED_NAMES
    }
    claims = {Path(r["provenance"]["source_location"]).name: r["provenance"]["extractor_options"] for r in exported}
    assert all(claims[name]["outlet"]["found_by"] for name in SEED_NAMES)  # with how it was found
    [story] = json.loads(cli("stories", "--format", "json", check=True).out)  # one story, told by five outlets
    assert story["size"] == len(SEED_NAMES) and story["sites"] == sorted(site for site, _ in sites.values())
    # As a table, each document's title starts in one column, after its outlet however long that is.
    listed = cli("stories", check=True).out.splitlines()
    rows = [line for line in listed if line.startswith("  ")]
    starts = {line.index(doc["title"] or doc["url"]) for line, doc in zip(rows, story["documents"], strict=True)}
    assert len(rows) == len(SEED_NAMES) and len(starts) == 1, listed
    # `show` names the outlet once where it is the site, and adds its name where the site is a domain.
    both = [r for r in exported if r["site_name"] != r["site"]]
    assert both and len(both) < len(exported)  # the seeds hold both cases
    for record in exported:
        [line] = [line for line in cli("show", record["id"], check=True).out.splitlines() if line.startswith("site:")]
        named = f" ({record['site_name']})" if record in both else ""
        assert line == f"site:        {record['site']}{named}"
