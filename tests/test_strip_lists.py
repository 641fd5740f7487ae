"""Headline lists above an article and lead-ins left dangling: fictional captures, labeled by hand."""

from __future__ import annotations

from scraper import Capture, build_record
from scraper._linemodel import default_model
from scraper.strip import analyse, comment_thread, dangling_lead_ins, strip_boilerplate

ARTICLE = [
    "The harbour board voted on Tuesday to close the old ferry pier for repairs, a decision that "
    "leaves commuters on the north shore with a longer trip until the spring.",
    "Engineers found that two of the pier's supporting piles had rotted below the waterline, and the "
    "board's chair said the structure could no longer carry the weight of a loaded ferry.",
    "Commuters will be carried by bus around the bay while the work goes on, adding about twenty "
    "minutes to each crossing, according to the timetable the board published.",
    "The repairs are expected to cost about four million dollars, most of it from a fund the city "
    "set aside after the storms three winters ago damaged the southern breakwater.",
    "Local shop owners near the pier said they feared losing trade over the winter months, when the "
    "ferry brings most of their customers across from the other shore each morning.",
]
HEADLINES = [
    "Council Weighs New Parking Rules for the Old Town and Its...",
    "Lighthouse Keeper Retires After Forty Years on the Rock",
    "Storm Season Forecast Warns of Higher Tides Along the Coast",
    "School Board Delays Vote on Longer Days Until the New...",
    "Fishing Fleet Returns Early as Prices for Cod Fall Again",
    "Why the Bridge Tolls Went Up, and Where the Money Will...",
]


def _record(lines: list[str]) -> tuple[str, str | None]:
    record = build_record(Capture("\n\n".join(lines).encode(), "file", "capture.txt", "text/plain"))
    return record.text, record.title


def test_a_list_of_headlines_some_cut_short_above_the_article_is_dropped() -> None:
    text, title = _record([*HEADLINES, "Harbour", "Ferry pier to close for repairs", *ARTICLE])
    assert title == "Ferry pier to close for repairs"
    assert text.split("\n\n") == ARTICLE


def test_a_dangling_sources_lead_in_goes_with_the_list_it_introduced() -> None:
    footer = ["Sources for this article include:", "HarbourNews.com", "CoastDaily.com", "Share", "Copy link"]
    text, _ = _record(["Ferry pier to close for repairs", *ARTICLE, *footer])
    assert text.split("\n\n") == ARTICLE


def test_a_lead_in_whose_lines_stay_stays_too() -> None:
    analysis = analyse("\n\n".join(["Ferry pier to close", ARTICLE[0], "The chair told reporters:", ARTICLE[1]]))
    assert dangling_lead_ins(analysis, [False, True, True, True]) == set()
    assert dangling_lead_ins(analysis, [False, True, True, False]) == {2}
    # A long line ending in a colon is a sentence of the article, kept whatever follows.
    long_one = analyse(
        "\n\n".join([ARTICLE[0], "The board listed the reasons for the closure in a notice it published:"])
    )
    assert dangling_lead_ins(long_one, [True, True]) == set()


def test_when_the_decision_keeps_nothing_the_article_shaped_lines_still_come_back() -> None:
    keep_none = lambda analysis: [False] * len(analysis.lines)  # noqa: E731 - a decision that finds no article
    thin = "\n\n".join(["Home", "Pier closes", ARTICLE[0], "Share", ARTICLE[1], "© 2025 All rights reserved"])
    assert strip_boilerplate(thin, decide=keep_none).paragraphs == (ARTICLE[0], ARTICLE[1])
    furniture = "Home\nNews\nSports\nAdvertisement\n© 2025 All rights reserved"
    assert strip_boilerplate(furniture, decide=keep_none).paragraphs == ()


def test_a_page_whose_only_text_is_cut_short_still_gives_it() -> None:
    """Menus around one excerpt ending in "...": stripper 1 kept nothing, and the capture had no text."""
    menu = [f"* {word}" for word in ("Home", "About", "Archive", "Contact", "Categories", "Feed", "Login")]
    months = [f"+ {month} 2014" for month in ("January", "February", "March", "April", "May", "June", "July")]
    excerpt = "I finally rode the new ferry across the bay this morning and it was a calm, quiet crossing ..."
    capture = Capture("\n".join([*menu, "Ferry day", excerpt, *months]).encode(), "file", "c.txt", "text/plain")
    assert build_record(capture).text == excerpt


THREAD = [
    "Add a Comment",
    "Comments (2 of 2)",
    "o 9:44 am January 12, 2024 o Jane Roe wrote :",
    "I have taken that ferry every morning for ten years and I will miss it badly over the winter.",
    "o 8:10 am January 12, 2024 o Max Muster wrote :",
    "The board should have repaired the piles years ago instead of waiting for them to rot away like this.",
]


def test_a_reader_comment_thread_after_the_article_is_dropped() -> None:
    text, _ = _record(["Ferry pier to close for repairs", *ARTICLE, *THREAD])
    assert text.split("\n\n") == ARTICLE


def test_keep_comments_keeps_the_thread_after_the_article() -> None:
    page = "\n\n".join(["Ferry pier to close for repairs", *ARTICLE, *THREAD])
    model = default_model()
    assert model is not None
    for decide in (None, model.decide):
        assert strip_boilerplate(page, decide=decide).paragraphs == tuple(ARTICLE)
        kept = strip_boilerplate(page, decide=decide, keep_comments=True).paragraphs
        assert kept[: len(ARTICLE)] == tuple(ARTICLE)
        assert {THREAD[3], THREAD[5]} <= set(kept[len(ARTICLE) :])  # both comments' bodies
        assert THREAD[0] not in kept  # the heading stays furniture


def test_keep_comments_changes_nothing_on_a_page_without_a_thread() -> None:
    page = "\n\n".join(["Ferry pier to close for repairs", *ARTICLE, "Share", "© 2025 Harbour Board"])
    assert strip_boilerplate(page, keep_comments=True) == strip_boilerplate(page)


def test_a_subhead_naming_comments_without_a_thread_stays() -> None:
    analysis = analyse("\n\n".join([ARTICLE[0], ARTICLE[1], "Public comments", ARTICLE[2], ARTICLE[3]]))
    assert comment_thread(analysis, [True] * len(analysis.lines)) == set()
    quoting = analyse("\n\n".join([ARTICLE[0], ARTICLE[1], "Public comments", "The mayor said:", ARTICLE[2]]))
    assert comment_thread(quoting, [True] * len(quoting.lines)) == set()  # an article quoting someone
    with_thread = analyse("\n\n".join([ARTICLE[0], ARTICLE[1], "Public comments", "Jane Roe wrote:", ARTICLE[4]]))
    assert comment_thread(with_thread, [True] * len(with_thread.lines)) == {2, 3, 4}


def test_a_page_run_together_into_one_long_line_still_gives_it() -> None:
    """An old table layout rendered as one line: its menu words mark it furniture, but it is the page."""
    collapsed = " :: ".join(["Home", "News", "Share", "Privacy", *ARTICLE, *ARTICLE, *ARTICLE, "© 2005 Harbour Board"])
    assert strip_boilerplate(collapsed).paragraphs == (collapsed,)
    capture = Capture(collapsed.encode(), "file", "c.txt", "text/plain")
    assert build_record(capture).text == collapsed


def test_a_page_run_together_into_a_few_long_lines_still_gives_them() -> None:
    """An old layout rendered as three long lines: menu words on the first, a stop and "Comments" ending the
    second (a photo credit's shape on a short line), a footer of its own on the third."""
    lines = [
        " | ".join(["Home", "News", "Share", "Subscribe", "Related", ARTICLE[0], ARTICLE[1]]),
        " ".join([ARTICLE[2], ARTICLE[3], "Comments"]),
        " | ".join(["Privacy", "Terms of use", "Advertise with us", "Contact", "Sign in", "© 2005 Harbour Board"]),
    ]
    assert strip_boilerplate("\n".join(lines)).paragraphs == (lines[0], lines[1])
    capture = Capture("\n".join(lines).encode(), "file", "c.txt", "text/plain")
    assert build_record(capture).text == "\n\n".join(lines[:2])


def test_a_page_with_no_article_gives_what_it_says() -> None:
    """A forum's error page: no line is article-shaped, yet its message and headings are the page."""
    page = [
        "Harbour Forum",
        "FAQ Search Memberlist Usergroups Register",
        "Log in to check your private messages",
        "Information",
        "The topic you asked for does not exist",
        "Powered by phpBB © 2005",
    ]
    # Checked by hand: "Log in" and "©" are furniture phrases, "Information" has a counter label's shape.
    assert strip_boilerplate("\n".join(page)).paragraphs == (page[0], page[1], page[4])
    assert strip_boilerplate("404 : Page Not Found").paragraphs == ("404 : Page Not Found",)
