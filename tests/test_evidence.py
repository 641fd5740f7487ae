"""Cross-capture evidence: lines a site repeats on other pages are dropped, in memory and through the catalog.

The CLI runs on SQLite; tests/test_catalog.py counts site lines on SQLite and PostgreSQL.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from archive.catalog.facade import Catalog
from scraper import Capture, LineCounts, build_record
from scraper.evidence import line_key, line_keys
from tests.conftest import Cli, warc_files, warcio_check
from tests.site_pages import BLURB, page


def _record(n: int, evidence: LineCounts | None, *, html: bool = False) -> tuple[str, object]:
    url, text = page(n)
    return url, build_record(Capture(text.encode(), "file", f"page{n}.txt", "text/plain", url=url), evidence=evidence)


def test_line_key_ignores_case_spacing_and_numbers() -> None:
    assert line_key("496 SHARES") == line_key("1,204  shares") == line_key("  7 Shares ")
    assert line_key("496 shares") != line_key("496 likes")
    assert line_key("2026") is None and line_key("— | —") is None
    assert line_keys(["Home", "home", "Sport", "12"]) == (line_key("Home"), line_key("Sport"))


def test_a_url_counts_once_and_never_as_evidence_against_itself() -> None:
    counts = LineCounts()
    blurb = line_key(BLURB)
    assert blurb is not None
    counts.add("a.example", "https://a.example/1", [blurb])
    counts.add("a.example", "https://a.example/1", [blurb])  # the same page captured again
    assert counts.recurring("a.example", "https://a.example/9", [blurb]) == frozenset()
    counts.add("a.example", "https://a.example/2", [blurb])
    assert counts.recurring("a.example", "https://a.example/9", [blurb]) == {blurb}
    # Page 1 itself has only one other page with the line: not enough.
    assert counts.recurring("a.example", "https://a.example/1", [blurb]) == frozenset()
    assert counts.recurring("b.example", "https://b.example/9", [blurb]) == frozenset()


def test_the_site_blurb_goes_once_two_other_pages_carry_it() -> None:
    counts = LineCounts()
    texts = []
    for n in range(4):
        url, record = _record(n, counts)
        texts.append(record.text)  # type: ignore[attr-defined]
        counts.add("tidewater-ledger.example", url, record.line_keys)  # type: ignore[attr-defined]
    assert [BLURB in t for t in texts] == [True, True, False, False]
    # The article itself is untouched: every paragraph of the fourth page is still there.
    for paragraph in page(3)[1].split("\n\n")[3:6]:
        assert paragraph.strip() in texts[3]
    _, fourth = _record(3, counts)
    assert fourth.provenance.extractor_options["site_evidence"] == {"recurring_lines_dropped": 1}  # type: ignore[attr-defined]


def test_without_evidence_nothing_changes() -> None:
    _, record = _record(4, None)
    assert BLURB in record.text  # type: ignore[attr-defined]
    assert "site_evidence" not in record.provenance.extractor_options  # type: ignore[attr-defined]


def _warc_of(pages: list[int], path: Path) -> Path:
    with path.open("wb") as fh:
        writer = WARCWriter(fh, gzip=True)
        for n in pages:
            url, text = page(n)
            body = text.encode()
            fields = [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body)))]
            headers = StatusAndHeaders("200 OK", fields, protocol="HTTP/1.1")
            record = writer.create_warc_record(
                url, "response", payload=io.BytesIO(body), length=len(body), http_headers=headers
            )
            writer.write_record(record)
    return path


def _texts(cli: Cli) -> dict[str, str]:
    records = [json.loads(line) for line in cli("export", "--format", "jsonl", check=True).out.splitlines()]
    return {r["canonical_url"]: r["text"] for r in records}


@pytest.mark.slow
def test_replay_learns_a_sites_furniture_in_the_catalog(cli: Cli, tmp_path: Path) -> None:
    cli("replay", str(_warc_of([0, 1, 2], tmp_path / "first.warc.gz")), check=True)
    cli("replay", str(_warc_of([3, 4], tmp_path / "second.warc.gz")), check=True)
    texts = _texts(cli)
    later = [page(3)[0], page(4)[0]]
    assert all(BLURB not in texts[url] for url in later), "three pages already carried the blurb"
    assert "cycle path" in texts[page(3)[0]] and "cold store" in texts[page(4)[0]]
    check = warcio_check(warc_files(cli.data))
    assert check.returncode == 0, check.stdout

    catalog = Catalog(cli.db)
    blurb = line_key(BLURB)
    assert blurb is not None
    assert catalog.recurring("tidewater-ledger.example", "https://www.tidewater-ledger.example/x", [blurb]) == {blurb}
    # A page already counted is not its own evidence; a recapture does not count it twice.
    assert not catalog.count_site_lines("tidewater-ledger.example", page(0)[0], [blurb])
    catalog.close()


@pytest.mark.slow
def test_site_evidence_off_keeps_the_blurb(cli: Cli, tmp_path: Path) -> None:
    warc = _warc_of([0, 1, 2, 3], tmp_path / "all.warc.gz")
    cli("replay", "--site-evidence", "off", str(warc), check=True)
    cli("replay", "--site-evidence", "off", str(_warc_of([4], tmp_path / "last.warc.gz")), check=True)
    assert all(BLURB in text for text in _texts(cli).values())
