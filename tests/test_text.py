"""Text normalization, decoding and URL normalization: small pure functions, checked by hand."""

from __future__ import annotations

import pytest

from scraper import CaptureError, normalize_url, site_of
from scraper._dates import find_date
from scraper._text import check_text, decode_bytes, normalize_text, word_count


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
