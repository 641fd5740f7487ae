"""An archive written by 0.1.0 keeps working: the catalog migrates, verify reads it, replay serves its pages.

tests/data/archive-0.1.0.tar.gz is `scraper replay seeds` as release 0.1.0 (commit 3f2261e) wrote it:
a SQLite catalog at schema 0007 and one WARC file whose conversion and metadata records stand at the
page's own URL, with a later date (what made pywb serve the JSON instead of the page).
"""

from __future__ import annotations

import json
import tarfile
from pathlib import Path

import pytest
from warcio.archiveiterator import ArchiveIterator

from tests.conftest import DATA, PROJECT_SEEDS, Cli, warc_files
from tests.pywb import Pywb, need_pywb

OLD = DATA / "archive-0.1.0.tar.gz"
LIGHTHOUSE = "https://www.coastlinecourier.example/2025/03/14/harbor-town-votes-to-restore-lighthouse/"


@pytest.fixture
def old_archive(tmp_path: Path) -> Cli:
    data = tmp_path / "data"
    data.mkdir()
    with tarfile.open(OLD) as archive:
        archive.extractall(data, filter="data")
    return Cli(cwd=tmp_path, data=data, db=f"sqlite:///{data / 'catalog.sqlite'}")


def _old_records(data: Path) -> list[tuple[str, str]]:
    with warc_files(data)[0].open("rb") as handle:
        return [(r.rec_type, r.rec_headers.get_header("WARC-Target-URI") or "") for r in ArchiveIterator(handle)]


def test_the_fixture_is_an_old_archive(old_archive: Cli) -> None:
    """What the fixture must be for the tests below to mean anything: derived records at the page's URL."""
    records = _old_records(old_archive.data)
    assert ("metadata", records[1][1]) in records and ("conversion", records[1][1]) in records
    assert not any(uri.startswith(("urn:text:", "urn:record:")) for _, uri in records)


def test_an_old_catalog_migrates_and_verify_reads_the_old_files(old_archive: Cli) -> None:
    assert _revision(old_archive) == "0007"
    verified = old_archive("verify")
    assert verified.code == 0 and "problems: 0" in verified.out, verified.out + verified.err
    hits = json.loads(old_archive("query", "lighthouse", "--format", "json", check=True).out)
    [lighthouse] = [h for h in hits if h["canonical_url"] == LIGHTHOUSE]
    raw = old_archive("show", lighthouse["id"], "--raw", check=True).stdout_bytes
    assert raw == (PROJECT_SEEDS / "html" / "harbor-lighthouse.html").read_bytes()
    assert _revision(old_archive) == "0012"  # migrated on first use, records kept


def _revision(cli: Cli) -> str:
    import sqlite3

    with sqlite3.connect(cli.data / "catalog.sqlite") as connection:
        return str(connection.execute("SELECT version_num FROM alembic_version").fetchone()[0])


def test_reextract_on_an_old_archive_rewrites_only_what_changed(old_archive: Cli) -> None:
    """Changed: the text captures (they now name their outlet) and the pages naming no publisher (site_name no longer
    their host); the old file is left as it was."""
    [old_file] = warc_files(old_archive.data)
    old_bytes = old_file.read_bytes()
    done = old_archive("reextract", "--jobs", "1")
    texts = len(list((PROJECT_SEEDS / "text").glob("*.txt")))
    # Of the 9 HTML captures (seeds/html, and the WARC file's 2 pages) all but 3 give no og:site_name or
    # application-name (checked by hand: harbor-lighthouse, orchard-longread, ciencia-portal do).
    assert done.code == 0 and f"re-extracted: {texts + 6} captures" in done.out, done.out + done.err
    assert old_file.read_bytes() == old_bytes  # the new extractions went into a new file
    exported = [json.loads(line) for line in old_archive("export", "--format", "jsonl", check=True).out.splitlines()]
    # Each fictional seed names its publisher in a copyright line (checked by hand in seeds/text/).
    sites = {
        r["provenance"]["source_location"].rsplit("/", 1)[-1]: r["site"]
        for r in exported
        if r["provenance"]["media_type"] == "text/plain"
    }
    assert sites == {
        "ferry-strike.txt": "Island Herald",
        "tafel-stadtrat.txt": "Nordstadt Kurier",
        "wire-drought.txt": "Wire Service",
    }


def _pages(data: Path) -> list[tuple[str, str, bytes]]:
    """(URI, media type, bytes) of every saved page (resource record) of the old archive's http(s) captures."""
    with warc_files(data)[0].open("rb") as handle:
        return [
            (r.rec_headers.get_header("WARC-Target-URI"), r.rec_headers.get_header("Content-Type"), r.raw_stream.read())
            for r in ArchiveIterator(handle)
            if r.rec_type == "resource" and r.rec_headers.get_header("WARC-Target-URI").startswith("http")
        ]


@pytest.mark.slow
def test_pywb_serves_the_old_pages_through_our_index(old_archive: Cli, tmp_path: Path) -> None:
    """The upgrade the README gives: index with `scraper index` and serve that index; no WARC is rewritten."""
    need_pywb()
    index = tmp_path / "index.cdxj"
    old_archive("index", "--out", str(index), check=True)
    pages = _pages(old_archive.data)
    assert len(pages) == 7
    with Pywb(tmp_path / "pywb") as pywb:
        pywb.add_warcs("their-index", warc_files(old_archive.data))
        pywb.use_index("our-index", index, warc_files(old_archive.data))
        pywb.start()
        theirs = [pywb.get("their-index", uri) for uri, _, _ in pages]  # pywb's own index: the old bug
        ours = [pywb.get("our-index", uri) for uri, _, _ in pages]
    assert [answer.media_type for answer in theirs] == ["application/json"] * len(pages)
    for (uri, content_type, body), answer in zip(pages, ours, strict=True):
        assert (answer.status, answer.media_type, answer.body) == (200, content_type.split(";")[0], body), uri
