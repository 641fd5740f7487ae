"""Text normalization, decoding and URL normalization: small pure functions, checked by hand."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from scraper import CaptureError, normalize_url, site_of
from scraper._dates import find_date
from scraper._text import check_text, decode_bytes, normalize_text, phrases_by_first_character, word_count


def test_normalize_text_nfc_one_blank_line_no_stray_space() -> None:
    raw = "  Cafe\u0301  au\u00a0lait \r\n\r\n\r\n\tSecond\u200b line  \n   \n"
    assert normalize_text(raw) == "Café au lait\n\nSecond line"


def test_normalize_text_keeps_table_rows_together() -> None:
    raw = "Intro.\n| a | b |\n\n| 1 | 2 |\nAfter."
    assert normalize_text(raw) == "Intro.\n\n| a | b |\n| 1 | 2 |\n\nAfter."


@pytest.mark.parametrize(
    ("text", "count"),
    [
        ("Hello, world!", 2),
        ("U.S. troops don’t stay", 4),
        ("東京都に住む", 6),  # each CJK character counts one
        ("", 0),
    ],
)
def test_word_count(text: str, count: int) -> None:
    assert word_count(text) == count


def test_decode_declared_bom_and_legacy() -> None:
    assert decode_bytes("Grüße".encode("iso-8859-1"), declared="iso-8859-1") == ("Grüße", "iso-8859-1")
    assert decode_bytes(b"\xff\xfeh\x00i\x00") == ("hi", "utf-16")
    assert decode_bytes(b"plain ascii") == ("plain ascii", "utf-8")
    text, _ = decode_bytes("Ein schöner Tag in München, sagte die Bürgermeisterin am Dienstag.".encode("cp1252"))
    assert "schöner Tag in München" in text


def test_decode_refuses_noise_and_check_text_refuses_binary() -> None:
    with pytest.raises(CaptureError, match="undecodable"):
        decode_bytes(bytes(range(128, 256)) * 8 + b"\x00\x01\x02" * 50)
    with pytest.raises(CaptureError, match="binary"):
        check_text("PK\x03\x04\x00\x00\x00" * 50)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("HTTPS://WWW.Example.COM:443/a/b?utm_source=x&id=7&fbclid=abc#frag", "https://www.example.com/a/b?id=7"),
        ("http://example.com:80", "http://example.com/"),
        ("http://example.com:8080/x?gclid=1&utm_medium=m", "http://example.com:8080/x"),
        ("https://bücher.example/straße", "https://xn--bcher-kva.example/stra%C3%9Fe"),
        ("file:///tmp/a.txt", "file:///tmp/a.txt"),
    ],
)
def test_normalize_url(url: str, expected: str) -> None:
    assert normalize_url(url) == expected


def test_site_of() -> None:
    assert site_of("https://www.example.co.uk/x") == "example.co.uk"
    assert site_of("https://news.example.org/") == "news.example.org"
    assert site_of("file:///tmp/a.txt") is None


@pytest.mark.parametrize(
    ("text", "iso"),
    [
        ("May 4, 2025", "2025-05-04"),
        ("in News · 4 May 2025", "2025-05-04"),
        ("05/06/2025 // Someone", "2025-05-06"),  # slashes: month first
        ("13/06/2025", "2025-06-13"),  # the first number cannot be a month
        ("12.09.2025, 18:45 Uhr", "2025-09-12"),  # dots: day first
        ("21 de enero de 2025", "2025-01-21"),
        ("2025年3月14日", "2025-03-14"),
        ("February 30, 2025", None),
        ("no date here", None),
    ],
)
def test_find_date(text: str, iso: str | None) -> None:
    assert find_date(text) == iso


_PHRASES = r"\bshare\b|share on (?:x|facebook)|\bsign (?:up|in)\b|suscr[ií]b|\bstop|©|\(c\) ?\d{4}|广告|分享"
_PHRASE_PROBES = [
    "Share this | SHARE ON X | reshare, shares, share.",  # a boundary needed before and after
    "sign-in Sign up Signs in suscríbete SUSCRIBE",
    "stopover nonstop stop!",  # \bstop: not inside a word
    "© (c) 2025 (C)2024 (c) 20",
    "广告分享，分享广告",
    "ſhare KELVIN \u212aelvin İstop ıstop",  # characters other cases fold onto
    "",
]


@pytest.mark.parametrize("text", _PHRASE_PROBES)
def test_phrases_grouped_by_first_character_match_what_the_alternation_matches(text: str) -> None:
    plain = re.compile(_PHRASES, re.IGNORECASE)
    grouped = re.compile(phrases_by_first_character(_PHRASES), re.IGNORECASE)
    assert [m.span() for m in grouped.finditer(text)] == [m.span() for m in plain.finditer(text)]


def test_the_strippers_phrase_lists_are_grouped_without_changing_a_match(shared_seeds: Path) -> None:
    from scraper.strip import _STRONG, _STRONG_RE, _WEAK, _WEAK_RE

    lines = [line for path in sorted(shared_seeds.iterdir()) for line in path.read_text().splitlines()]
    lines += [*_PHRASE_PROBES, "Advertisement", "Most Popular", "Tags: news", "ANZEIGE", "Getty Images"]
    for pattern, grouped in ((_STRONG, _STRONG_RE), (_WEAK, _WEAK_RE)):
        assert grouped.pattern != pattern  # regrouped, not the plain alternation
        plain = re.compile(pattern, re.IGNORECASE)
        found = [[m.span() for m in plain.finditer(line)] for line in lines]
        assert [[m.span() for m in grouped.finditer(line)] for line in lines] == found
        assert sum(map(bool, found)) >= 5  # the lines hold phrases of both lists


@pytest.mark.parametrize(
    ("pattern", "reason"),
    [
        ("[ab]c|d", "does not begin with a literal"),
        (r"(?:a|b)c|d", "does not begin with a literal"),
        (r"\w+|d", "does not begin with a literal"),
        (r"\b-x|d", "non-word character"),
        ("k|\u212a", "in some case"),  # K and the Kelvin sign are one letter to IGNORECASE
    ],
)
def test_phrases_that_cannot_be_grouped_are_refused(pattern: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        phrases_by_first_character(pattern)
