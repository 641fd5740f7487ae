"""build_record: one capture in, one normalized record out; the same record on any day."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from archive.warc.sources import SourceRef, load_capture
from scraper import Capture, CaptureError, Record, build_record
from scraper._text import sha256_hex
from tests.conftest import PROJECT_SEEDS

PAGE = """<html lang="en"><head><title>Dated page</title>
<meta property="article:published_time" content="{date}">
<link rel="canonical" href="https://Example.org:443/story?utm_campaign=x#top"></head>
<body><article><h1>Dated page</h1>
<p>This paragraph is long enough to count as the main text of a small article page about nothing much.</p>
<p>A second paragraph follows it so that the extractor has a real body of text to find here.</p>
</article></body></html>"""


def _html_capture(date: str, captured: datetime | None) -> Capture:
    return Capture(
        payload=PAGE.format(date=date).encode(),
        source_kind="file",
        source_location="saved/page.html",
        media_type="text/html",
        url="urn:file:saved/page.html",
        captured_at=captured,
    )


def test_html_record_fields() -> None:
    record = build_record(_html_capture("2024-02-03", datetime(2024, 3, 1, tzinfo=UTC)))
    # A saved file names no fetch: its source is where it was read; the page's own URL is what it is.
    assert record.source_url == "urn:file:saved/page.html"
    assert record.canonical_url == "https://example.org/story"
    assert record.site == "example.org" and record.claimed_url is None
    assert record.title == "Dated page"
    assert record.published == "2024-02-03"
    assert record.language == "en"
    assert record.text.startswith("This paragraph is long enough")
    assert "\n\nA second paragraph" in record.text
    assert record.text_sha256 == sha256_hex(record.text)
    assert record.payload_sha256 == sha256_hex(PAGE.format(date="2024-02-03"))
    assert record.provenance.captured_at == "2024-03-01T00:00:00Z"
    assert record.provenance.extractor == "trafilatura"


def test_dates_are_judged_against_the_capture_not_the_clock() -> None:
    # Published after the capture: impossible, so not taken as the publication date.
    future = build_record(_html_capture("2024-06-01", datetime(2024, 3, 1, tzinfo=UTC)))
    assert future.published != "2024-06-01"
    # No capture date: the wall clock plays no part, so a date "after today" still stands.
    undated = build_record(_html_capture("2031-01-15", None))
    assert undated.published == "2031-01-15"


def test_the_same_bytes_give_the_same_record_id() -> None:
    a = build_record(_html_capture("2024-02-03", datetime(2024, 3, 1, tzinfo=UTC)))
    b = build_record(_html_capture("2024-02-03", datetime(2024, 3, 1, tzinfo=UTC)))
    c = build_record(_html_capture("2024-02-04", datetime(2024, 3, 1, tzinfo=UTC)))
    assert a == b
    assert a.id != c.id  # other bytes, other capture
    assert len(a.id) == 32


def test_text_capture_date_line_sets_capture_date_and_author() -> None:
    body = (
        b" date 2025-05-06 Mariane Angela\n\n" + b"A sentence of the article that is long enough to be prose here. " * 3
    )
    record = build_record(Capture(payload=body, source_kind="file", source_location="x", media_type="text/plain"))
    assert record.authors == ("Mariane Angela",)
    assert record.provenance.captured_at == "2025-05-06T00:00:00Z"
    assert "date 2025-05-06" not in record.text


def test_a_number_in_the_author_slot_names_nobody() -> None:
    body = b" date 2025-05-05 403\n" + b"A sentence of the article that is long enough to be prose here. " * 3
    record = build_record(Capture(payload=body, source_kind="file", source_location="x", media_type="text/plain"))
    assert record.authors == ()
    assert record.provenance.captured_at == "2025-05-05T00:00:00Z"


@pytest.mark.parametrize(
    ("payload", "media", "reason"),
    [
        (b"", "text/plain", "empty capture (no bytes)"),
        (b"\n \n", "text/html", "empty capture (only whitespace)"),
        (b"%PDF-1.7 \x00\x01\x02", "application/pdf", "unsupported media type 'application/pdf'"),
        (b"Home\nNews\nAdvertisement\n", "text/plain", "no article text found"),
    ],
)
def test_captures_without_an_article_raise_with_the_reason(payload: bytes, media: str, reason: str) -> None:
    with pytest.raises(CaptureError) as caught:
        build_record(Capture(payload=payload, source_kind="file", source_location="x", media_type=media))
    assert str(caught.value) == reason


def test_legacy_encoded_html_seed_decodes_by_its_meta_charset() -> None:
    capture = load_capture(SourceRef(PROJECT_SEEDS / "html" / "bahnhof-zeitung.html", "html"))
    record = build_record(capture)
    assert record.provenance.encoding == "iso-8859-1"
    assert "großer Mehrheit" in record.text and "Übelacker" in record.authors[0]
    assert "Cookies" not in record.text  # the consent layer is pruned


def test_gzipped_html_seed_and_table_text(tmp_path: Path) -> None:
    record = build_record(load_capture(SourceRef(PROJECT_SEEDS / "html" / "battery-release.html.gz", "html")))
    assert record.canonical_url == "https://news.northwind-cells.example/press/2025/recycling-line?lang=en"
    assert "| Aluminium | 98% | Current collectors |\n| Cathode metals" in record.text
    assert not record.text.startswith(record.title or "-")  # the title is not repeated as text


def _fetched(url: str, canonical: str) -> Capture:
    page = PAGE.format(date="2024-02-03").replace("https://Example.org:443/story?utm_campaign=x#top", canonical)
    return Capture(
        page.encode(), "live", url, "text/html", url=url, captured_at=datetime(2024, 3, 1, tzinfo=UTC), http_status=200
    )


def test_a_fetched_page_stays_on_the_site_it_came_from_whatever_it_claims() -> None:
    """A canonical link to another site is kept as a claim; it moves neither the site nor the canonical URL."""
    syndicated = build_record(_fetched("https://mirror.example.net/copy/story", "https://origin.example.org/story"))
    assert syndicated.source_url == "https://mirror.example.net/copy/story"
    assert syndicated.site == "mirror.example.net"
    assert syndicated.canonical_url == "https://mirror.example.net/copy/story"
    assert syndicated.claimed_url == "https://origin.example.org/story"
    # On the same site (a subdomain counts) the page's own URL is its canonical one.
    mobile = build_record(_fetched("https://m.example.org/story?ref=app", "https://www.example.org/story"))
    assert (mobile.site, mobile.canonical_url, mobile.claimed_url) == (
        "m.example.org",
        "https://www.example.org/story",
        None,
    )


def test_site_name_is_the_one_a_page_gives_never_its_host_made_into_a_name() -> None:
    """trafilatura names a site with no name of its own after its URL's host; the record leaves it null then."""
    from scraper._html import extract_html

    body = "<body><article><p>" + "The ferry timetable changes on Monday for the winter months ahead. " * 4
    for head, url, expected in [
        ("", "https://www.harbour.example:8443/news/ferry", None),
        ("", "http://127.0.0.1:41411/news/ferry", None),
        ('<meta property="og:site_name" content="Harbour Weekly">', "https://harbour.example/ferry", "Harbour Weekly"),
        ('<meta name="application-name" content="harbour.example">', "https://news.example.org/a", "harbour.example"),
    ]:
        markup = f"<html><head><title>Ferry</title>{head}</head>{body}</p></article></body></html>"
        assert extract_html(markup, url=url, max_date="2026-12-31").site_name == expected, (head, url)


def test_dateparser_reads_dates_in_the_bounded_languages_only() -> None:
    """htmldate's dateparser compiles only DATE_LANGUAGES' patterns, and reads their dates as before."""
    from htmldate.extractors import external_date_parser, get_external_parser

    from scraper._html import DATE_LANGUAGES

    assert get_external_parser().languages == list(DATE_LANGUAGES)
    assert external_date_parser("14 avril 2026", "%Y-%m-%d") == "2026-04-14"  # French is among them
    assert external_date_parser("14. dubna 2026", "%Y-%m-%d") == "2026-04-14"  # and Czech
    assert external_date_parser("14 aprilie 2026", "%Y-%m-%d") == "2026-04-14"  # and Romanian
    # Welsh is not (dateparser knows it): its month names go unread, every language's patterns uncompiled.
    assert external_date_parser("14 Ebrill 2026", "%Y-%m-%d") is None


def test_consent_banners_are_small_containers_named_for_them() -> None:
    from scraper._html import PRUNE_XPATH, extract_html, mark_banners, parse_html

    article = "<p>" + "The council met on Tuesday to weigh the harbour plan and its cost to the town. " * 6 + "</p>"
    wrapper_text = "Wrapper words that make this container far too long to be a banner. " * 20  # > 1,200 characters
    markup = (
        '<html><body class="cookie-page"><main id="consent-main">'
        f'<div class="Site-COOKIE-Notice">We use cookies to keep this site working.</div>'
        f'<div id="gdpr-wrapper">{wrapper_text}</div>'
        f'<div class="coo\u212aie-bar">Kelvin-sign look-alike: not folded by XPath, not a banner.</div>'
        f'<article class="consent-story"><h1>Harbour plan</h1>{article}</article>'
        "</main></body></html>"
    )
    tree = parse_html(markup)
    assert mark_banners(tree)
    marked = tree.xpath(PRUNE_XPATH)
    assert [element.get("class") for element in marked] == ["Site-COOKIE-Notice"]
    assert not mark_banners(parse_html(f"<html><body><article>{article}</article></body></html>"))
    text = extract_html(markup, url=None, max_date="2026-12-31").text
    assert "harbour plan" in text and "We use cookies" not in text


def test_a_record_as_a_dict_holds_its_fields_and_provenance_not_its_working_data() -> None:
    capture = Capture(
        payload=("Harbour council votes on the lighthouse. " * 12).encode(),
        source_kind="file",
        source_location="file:///harbour.txt",
        media_type="text/plain",
        url="file:///harbour.txt",
    )
    record = build_record(capture).with_text_features()
    assert record.line_keys and record.text_features is not None  # working data present, to be left out
    data = record.to_dict()
    assert "line_keys" not in data and "text_features" not in data
    assert data["provenance"]["source_location"] == "file:///harbour.txt" and isinstance(data["provenance"], dict)
    assert "text" not in record.to_dict(with_text=False) and data["text"] == record.text
    assert Record.from_dict(json.loads(json.dumps(data))) == record


GERMAN = (
    "Der Stadtrat hat am Dienstag beschlossen, die alte Brücke über den Fluss bis zum Herbst zu sanieren. "
    "Die Arbeiten sollen im Mai beginnen, und während der Bauzeit fahren die Busse eine Umleitung durch die Altstadt. "
    "Anwohner hatten sich seit Jahren über Lärm und Schlaglöcher beschwert, nun gibt es endlich einen Zeitplan. "
)
ENGLISH = (
    "The council voted on Tuesday to repair the old bridge over the river before the autumn arrives. "
    "Work is due to start in May, and buses will take a diversion through the old town while it lasts. "
)


def test_language_of_a_text_is_settled_by_its_opening_only_when_that_is_unambiguous() -> None:
    from scraper.extract import _langid, detect_language

    identifier = _langid()
    # Names, figures and codes say little: the opening is not sure, so more of the text decides.
    roster = " ".join(f"K{n:03d} 12.{n % 12 + 1:02d}. {n * 37 % 1000} Nr. {n}" for n in range(40))
    opening = roster + " " + GERMAN * 30
    assert len(roster) > 500 and identifier.classify(opening[:500])[1] < 0.999  # the case it is about
    assert detect_language(opening) == "de"
    # A sure opening settles it; a text too short for a glance is classified whole.
    assert detect_language(GERMAN * 30) == "de"
    assert detect_language(ENGLISH * 2) == "en" and len(ENGLISH * 2) < 500
    assert detect_language("Kurz.") is None
