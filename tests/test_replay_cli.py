"""End to end through the real CLI: replay -> WARC + catalog -> query, show, export.

Replays run as subprocesses; the catalog commands in this process (conftest's Cli). The first
test runs on SQLite and PostgreSQL (the replay family's run on both); the others on SQLite,
most of them on one replay of seeds/ made once for the session (conftest's project_seeds_archive).
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import re
import subprocess
import sys
import zipfile
from collections.abc import Collection, Iterator
from pathlib import Path
from typing import Any

import pytest
from warcio.archiveiterator import ArchiveIterator
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from tests.conftest import PROJECT_SEEDS, Cli, Result, copy_archive, warc_files, warcio_check

SEED_COUNT = 5


def _records(cli: Cli) -> list[dict]:
    return [json.loads(line) for line in cli("export", "--format", "jsonl", check=True).out.splitlines()]


@pytest.fixture
def seeds_archive(project_seeds_archive: tuple[Cli, Result], tmp_path: Path) -> tuple[Cli, Result]:
    """The session's replay of seeds/, read through a CLI whose working directory is this test's own."""
    template, replayed = project_seeds_archive
    return Cli(cwd=tmp_path, data=template.data, db=template.db), replayed


def test_replay_shared_seeds_end_to_end(cli_any_db: Cli, shared_seeds: Path) -> None:
    cli = cli_any_db
    first = cli("replay", str(shared_seeds), "--jobs", "2", check=True)
    assert "5 captures read, 5 records written, 0 unchanged, 0 failed" in first.out
    # Five captures are too few to start worker processes: the summary says who extracted them.
    assert "extraction: 1 process(es), 0 captures extracted in workers" in first.out, first.out

    hits = json.loads(cli("query", "sovereignty", "--format", "json", check=True).out)
    assert len(hits) == SEED_COUNT
    assert all("«sovereignty»" in h["snippet"].lower() for h in hits)

    by_file = {Path(r["provenance"]["source_location"]).name: r for r in _records(cli)}
    assert sorted(by_file) == sorted(p.name for p in shared_seeds.glob("*.txt"))
    for name, record in by_file.items():
        raw = cli("show", record["id"], "--raw", check=True).stdout_bytes
        assert raw == (shared_seeds / name).read_bytes(), name

    second = cli("replay", str(shared_seeds), check=True)
    assert "5 captures read, 0 records written, 5 unchanged, 0 failed" in second.out
    assert len(_records(cli)) == SEED_COUNT
    assert len(warc_files(cli.data)) == 1, "a replay that adds nothing must not leave an empty WARC file"


@pytest.mark.slow
def test_replay_output_passes_warcio_check_and_has_the_layout(cli: Cli, shared_seeds: Path) -> None:
    cli("replay", str(shared_seeds), check=True)
    [warc] = warc_files(cli.data)
    check = warcio_check([warc])
    assert check.returncode == 0, check.stdout + check.stderr
    assert check.stdout.count("digest pass") == 1 + 3 * SEED_COUNT

    assert re.fullmatch(r"scraper-\d{17}-00001-[\w.-]+\.warc\.gz", warc.name)
    with warc.open("rb") as fh:
        records = [(r.rec_type, dict(r.rec_headers.headers), r.content_stream().read()) for r in ArchiveIterator(fh)]
    assert [t for t, _, _ in records] == ["warcinfo"] + ["resource", "conversion", "metadata"] * SEED_COUNT
    assert all(h["WARC-Block-Digest"].startswith("sha256:") for _, h, _ in records)
    info = records[0][2].decode()
    assert "software: scraper-archive/" in info and "format: WARC File Format 1.1" in info
    for (_, raw, _), (_, conv, text), (_, meta, body) in zip(*[iter(records[1:])] * 3, strict=True):
        assert conv["WARC-Refers-To"] == raw["WARC-Record-ID"] == meta["WARC-Refers-To"]
        assert conv["Content-Type"] == "text/plain; charset=utf-8" and meta["Content-Type"] == "application/json"
        assert raw["Content-Type"].startswith("text/plain")
        doc = json.loads(body)
        assert doc["provenance"]["warc_raw"]["record_id"] == raw["WARC-Record-ID"]
        assert doc["provenance"]["warc_conversion"]["record_id"] == conv["WARC-Record-ID"]
        assert doc["text_sha256"] == hashlib.sha256(text).hexdigest()


def test_project_seeds_replay_every_kind(seeds_archive: tuple[Cli, Result]) -> None:
    cli, result = seeds_archive
    # 7 HTML pages + 3 text captures + 2 HTTP responses in the WARC; its request record is
    # carried with its response, its revisit archived as a revisit, its metadata record counted and left.
    assert "12 captures read, 12 records written, 0 unchanged, 0 failed" in result.out
    assert "skipped WARC records: 1 metadata, 1 warcinfo" in result.out
    records = {r["canonical_url"]: r for r in _records(cli)}
    lighthouse = records["https://www.coastlinecourier.example/2025/03/14/harbor-town-votes-to-restore-lighthouse/"]
    assert lighthouse["title"] == "Harbor town votes to restore its 1874 lighthouse"
    assert lighthouse["authors"] == ["Priya Castellanos"] and lighthouse["published"] == "2025-03-14"
    assert "cookies" not in lighthouse["text"].lower() and "Related stories" not in lighthouse["text"]
    garden = records["https://eastside-dispatch.example/community/garden-grant"]
    assert garden["source_url"].endswith("?utm_source=newsletter")  # as fetched; the canonical drops it
    assert garden["provenance"]["http_status"] == 200 and garden["provenance"]["source_kind"] == "warc"
    assert garden["provenance"]["captured_at"] == "2025-05-21T10:15:00Z"
    assert "140 raised beds" in garden["text"]
    # The WARC response keeps the gzip-encoded body as it was transferred.
    raw = cli("show", garden["id"], "--raw", check=True).stdout_bytes
    assert raw[:2] == b"\x1f\x8b"


@pytest.mark.slow  # a second replay of seeds/: 4 s
def test_replaying_the_same_captures_again_writes_nothing(
    project_seeds_archive: tuple[Cli, Result], tmp_path: Path
) -> None:
    """Pages unchanged, and the WARC file's revisit one this archive already wrote: no new WARC file at all."""
    cli = copy_archive(project_seeds_archive[0], tmp_path)
    files = warc_files(cli.data)
    again = cli("replay", str(PROJECT_SEEDS), check=True).out
    assert "12 captures read, 0 records written, 12 unchanged, 0 failed" in again, again
    assert "skipped WARC records: 1 metadata, 1 revisit already in this archive, 1 warcinfo" in again, again
    assert warc_files(cli.data) == files
    [latest, first] = json.loads(cli("crawls", "--format", "json", check=True).out)[:2]
    assert (first["counts"]["revisits"], latest["counts"]["revisits"]) == (1, 0)
    # history lists the visit the revisit records (seeds/warc: fetched 2025-05-21, the same bytes 2025-05-28)
    library = "https://eastside-dispatch.example/community/library-hours"
    listed = cli("history", library, check=True).out.splitlines()
    assert listed[1:] == ["    seen again 2025-05-28T10:16:00Z  (the same bytes)"], listed
    [version] = json.loads(cli("history", library, "--format", "json", check=True).out)
    assert version["revisits"] == [{"captured_at": "2025-05-28T10:16:00Z", "profile": "identical-payload-digest"}]


@pytest.mark.slow
def test_replaying_our_own_warc_reproduces_the_records(
    project_seeds_archive: tuple[Cli, Result], tmp_path: Path
) -> None:
    cli = copy_archive(project_seeds_archive[0], tmp_path / "first")  # replayed into again below
    originals = {r["id"]: r for r in _records(cli)}
    again = Cli(cwd=tmp_path, data=tmp_path / "second", db=f"sqlite:///{tmp_path / 'second.sqlite'}")
    again("replay", *map(str, warc_files(cli.data)), check=True)
    replayed = {r["id"]: r for r in _records(again)}
    assert replayed.keys() == originals.keys()
    for record_id, original in originals.items():
        copy = replayed[record_id]
        for key in ("text", "text_sha256", "payload_sha256", "title", "authors", "published", "canonical_url"):
            assert copy[key] == original[key], (record_id, key)
        assert copy["provenance"]["captured_at"] == original["provenance"]["captured_at"]
        assert copy["provenance"]["source_kind"] == "warc"
    # Into the first catalog the same WARC adds nothing.
    assert f"{len(originals)} unchanged" in cli("replay", *map(str, warc_files(cli.data))).out


def test_query_filters_show_and_exports(seeds_archive: tuple[Cli, Result]) -> None:
    cli, _ = seeds_archive
    german = json.loads(cli("query", "--lang", "de", "--format", "json", check=True).out)
    assert {r["title"] for r in german} == {
        "Neuer Bahnhof in Lindenfeld soll 2027 öffnen",
        "Tafel sucht dringend neue Räume",
    }
    by_site = json.loads(cli("query", "--site", "eastside-dispatch.example", "--format", "json", check=True).out)
    assert len(by_site) == 2
    by_author = json.loads(cli("query", "--author", "hannah oduya", "--format", "json", check=True).out)
    assert [r["title"] for r in by_author] == ["The last apple orchards of the Calder Valley"]
    dated = json.loads(cli("query", "--since", "2025-06-01", "--until", "2025-08-31", "--format", "json").out)
    assert sorted(r["published"] for r in dated) == ["2025-06-02", "2025-07-18", "2025-08-06"]
    assert cli("query", "xylophonequartz").code == 1
    everything = json.loads(cli("query", "--sort", "oldest", "--limit", "100", "--format", "json", check=True).out)
    assert len(everything) == 12
    pages = [
        json.loads(cli("query", "--sort", "oldest", "--limit", "5", "--page", str(n), "--format", "json").out or "[]")
        for n in (1, 2, 3, 4)
    ]
    assert [len(page) for page in pages] == [5, 5, 2, 0]
    assert [r["id"] for page in pages for r in page] == [r["id"] for r in everything]  # no gaps, no repeats
    found = list(csv.DictReader(io.StringIO(cli("query", "bahnhof", "--format", "csv", check=True).out)))
    assert [r["title"] for r in found] == ["Neuer Bahnhof in Lindenfeld soll 2027 öffnen"]
    assert "«" in found[0]["snippet"] and "text" not in found[0]

    table = cli("query", "lighthouse", check=True).out
    assert "Harbor town votes" in table and "1 record(s)" in table
    listed = cli("query", "--limit", "100", check=True).out  # no words asked: each text's opening is its snippet
    assert "12 record(s)" in listed
    assert "\\n" not in listed  # paragraph breaks are spaces in a cell, not escapes
    record_id = json.loads(cli("query", "lighthouse", "--format", "jsonl", check=True).out.splitlines()[0])["id"]
    shown = cli("show", record_id[:8], check=True).out
    assert f"id:          {record_id}" in shown and "Edwin Marsh" in shown
    # The three WARC records, one role a line, their files in one column after the labels'.
    warc = [line for line in shown.splitlines() if line.startswith(("warc:", " " * 13)) and ".warc" in line]
    assert [line[13:].split()[0] for line in warc] == ["raw", "conversion", "metadata"], shown
    assert len({line.index(line.split()[-3]) for line in warc}) == 1, shown
    assert json.loads(cli("show", record_id, "--format", "json", check=True).out)["id"] == record_id
    assert cli("show", "0000000000").code == 1
    short = cli("show", record_id[:4])  # a prefix too short to look up, though a record starts with it
    assert (short.code, short.err) == (
        1,
        f"error: no record with id {record_id[:4]!r} (a prefix needs 6 or more hex digits)\n",
    )
    for command in ("query", "stories"):  # a run that is not there: said, not an empty result
        no_run = cli(command, "--crawl", "abcdef12")
        assert (no_run.code, no_run.err) == (1, "error: no run with id 'abcdef12' (see `scraper crawls`)\n"), command
    unknown = cli("history", "https://nowhere.example/page")
    assert (unknown.code, unknown.err) == (1, "error: no captures of https://nowhere.example/page\n")
    # history lists a version's capture time to the second, as crawls does; its JSON keeps the file's microseconds
    source = json.loads(cli("show", record_id, "--format", "json", check=True).out)["source_url"]
    [version] = json.loads(cli("history", source, "--format", "json", check=True).out)
    whole, fraction = re.fullmatch(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?Z", version["captured_at"]).groups()
    listed_version = cli("history", source, check=True).out.split()
    assert listed_version == ["v1", f"{whole}Z", record_id, str(version["words"]), "words"], fraction

    rows = list(csv.DictReader(io.StringIO(cli("export", "--format", "csv", check=True).out)))
    assert len(rows) == 12 and {"id", "text", "provenance"} <= set(rows[0])
    out = cli.cwd / "export.jsonl"
    cli("export", "--format", "jsonl", "--out", str(out), check=True)
    assert len(out.read_text(encoding="utf-8").splitlines()) == 12
    import pyarrow.parquet as pq

    parquet = cli.cwd / "export.parquet"
    cli("export", "--format", "parquet", "--out", str(parquet), check=True)
    table = pq.read_table(parquet)
    assert table.num_rows == 12 and str(table.schema.field("authors").type.value_type) == "string"
    as_jsonl = {r["id"]: r for r in map(json.loads, out.read_text(encoding="utf-8").splitlines())}
    fields = set(next(iter(as_jsonl.values())))  # every field of a record, claimed_url and all
    assert set(rows[0]) == fields and set(table.column_names) == fields, fields ^ set(rows[0])
    for row in table.to_pylist():  # the same records, typed: lists stay lists, provenance is JSON
        assert row["text"] == as_jsonl[row["id"]]["text"] and row["authors"] == as_jsonl[row["id"]]["authors"]
        assert json.loads(row["provenance"]) == as_jsonl[row["id"]]["provenance"]
    assert cli("export", "--format", "parquet").code == 2  # a binary table needs a file


def test_a_catalog_that_cannot_open_stops_the_run_with_an_error(cli: Cli, tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where the catalog's directory should be")
    result = cli("replay", "--db", f"sqlite:///{blocker}/catalog.sqlite", str(PROJECT_SEEDS / "text"))
    assert result.code == 1
    assert "error: the run stopped:" in result.err and "not-a-directory" in result.err


def _all_warc_bytes(data: Path) -> bytes:
    """Every WARC file of a data folder, decompressed, one after another."""
    import gzip

    return b"".join(gzip.decompress(p.read_bytes()) for p in warc_files(data))


@pytest.mark.slow  # six CLI processes (two replays): 12.5 s on a busy machine, among the fast tier's slowest
def test_no_host_path_reaches_the_archive_unless_asked(tmp_path: Path) -> None:
    """Saved files are named relative to the folder given to replay: nothing says where they sat on this host."""
    root = tmp_path / "inbox-on-this-host"
    (root / "html").mkdir(parents=True)
    for page in sorted((PROJECT_SEEDS / "html").glob("*.html"))[:2]:
        (root / "html" / page.name).write_bytes(page.read_bytes())
    cli = Cli(cwd=tmp_path, data=tmp_path / "data", db=f"sqlite:///{tmp_path / 'catalog.sqlite'}")
    cli("replay", str(root), check=True)  # given as an absolute path
    host_path = str(tmp_path).encode()
    assert host_path not in _all_warc_bytes(cli.data)
    exported = cli("export", check=True).out + cli("crawls", "--format", "json", check=True).out
    assert str(tmp_path) not in exported
    records = _records(cli)
    assert {r["provenance"]["source_location"] for r in records} == {
        f"inbox-on-this-host/html/{p.name}" for p in sorted((PROJECT_SEEDS / "html").glob("*.html"))[:2]
    }
    assert all(r["source_url"].startswith("urn:file:inbox-on-this-host/html/") for r in records)
    # Asked for, absolute paths are kept.
    asked = Cli(cwd=tmp_path, data=tmp_path / "asked", db=f"sqlite:///{tmp_path / 'asked.sqlite'}")
    asked("replay", str(root), "--absolute-paths", check=True)
    assert {r["provenance"]["source_location"] for r in _records(asked)} == {
        str((root / "html" / p.name).resolve()) for p in sorted((PROJECT_SEEDS / "html").glob("*.html"))[:2]
    }


def test_replaying_a_warc_file_keeps_its_provenance(seeds_archive: tuple[Cli, Result]) -> None:
    """The copy names its source record; the source's request, address and revisit come along."""
    cli, _ = seeds_archive
    source = PROJECT_SEEDS / "warc" / "eastside-dispatch.warc.gz"
    with source.open("rb") as fh:
        records = ArchiveIterator(fh)
        originals = {
            (r.rec_type, r.rec_headers.get_header("WARC-Target-URI")): (
                records.get_record_offset(),
                dict(r.rec_headers.headers),
            )
            for r in records
        }
    garden_url = "https://eastside-dispatch.example/community/garden-grant?utm_source=newsletter"
    library_url = "https://eastside-dispatch.example/community/library-hours"
    with warc_files(cli.data)[0].open("rb") as fh:
        ours = [(r.rec_type, dict(r.rec_headers.headers), r.http_headers) for r in ArchiveIterator(fh)]
    by_id = {h["WARC-Record-ID"]: (t, h, http) for t, h, http in ours}
    [garden] = [h for t, h, _ in ours if t == "response" and h["WARC-Target-URI"] == garden_url]
    source_garden = originals[("response", garden_url)][1]
    assert garden["Source-Record-ID"] == source_garden["WARC-Record-ID"] != garden["WARC-Record-ID"]
    offset = originals[("response", garden_url)][0]
    assert garden["Source-Location"] == f"seeds/warc/eastside-dispatch.warc.gz#{offset}"  # named as replay was given it
    assert garden["WARC-IP-Address"] == source_garden["WARC-IP-Address"]
    kind, request, http = by_id[garden["WARC-Concurrent-To"]]  # the source's request, carried with it
    assert kind == "request" and request["WARC-Concurrent-To"] == garden["WARC-Record-ID"]
    assert http.protocol == "GET" and http.statusline == "/community/garden-grant?utm_source=newsletter HTTP/1.1"
    assert http.get_header("User-Agent") == "seed-maker"
    # The source's revisit is a revisit here too, of the capture it names.
    [revisit] = [h for t, h, _ in ours if t == "revisit"]
    [library] = [h for t, h, _ in ours if t == "response" and h["WARC-Target-URI"] == library_url]
    assert revisit["WARC-Refers-To"] == library["WARC-Record-ID"]
    assert revisit["WARC-Refers-To-Date"] == originals[("revisit", library_url)][1]["WARC-Refers-To-Date"]
    record = next(r for r in _records(cli) if r["source_url"] == garden_url)
    assert record["provenance"]["source_record_id"] == source_garden["WARC-Record-ID"]


def _other_tools_warc(path: Path) -> None:
    """Write a WARC file as other crawlers leave them: a page among the notes they keep of their crawl."""
    article = b"<p>Thick fog over the harbour delayed the morning ferries by up to two hours on Tuesday.</p>"
    page = b"<html><head><title>Harbour fog delays ferries</title></head><body><article>" + article * 6
    with path.open("wb") as fh:
        writer = WARCWriter(fh, gzip=True, warc_version="1.1")

        def write(target: str, kind: str, body: bytes, media: str | None = None, **more: Any) -> None:
            block, size = io.BytesIO(body), len(body)  # a length given: warcio spools nothing to a temporary file
            record = writer.create_warc_record(
                target, kind, payload=block, length=size, warc_content_type=media, **more
            )
            writer.write_record(record)

        head = StatusAndHeaders("200 OK", [("Content-Type", "text/html; charset=utf-8")], protocol="HTTP/1.1")
        write("dns:harbour.example", "response", b"20260101000000\nharbour.example. 300 IN A 192.0.2.7\n", "text/dns")
        write("https://harbour.example/fog", "response", page + b"</article></body></html>", http_headers=head)
        # Browsertrix: the page's text as the browser rendered it, and what it noted of the page.
        write(
            "urn:text:https://harbour.example/fog", "resource", b"Harbour fog delays ferries\nThick fog.", "text/plain"
        )
        write("urn:pageinfo:https://harbour.example/fog", "resource", b'{"url": "https://harbour.example/fog"}')
        # wget: its arguments and its log (empty when it ran quiet).
        write("metadata://gnu.org/software/wget/warc/wget_arguments.txt", "resource", b'"wget" "-r"', "text/plain")
        write("metadata://gnu.org/software/wget/warc/wget.log", "resource", b"", "text/plain")
        # A saved file, as this archive addresses one: still a page.
        write("urn:file:notes/ferry.txt", "resource", b"Ferries run again\n\n" + article[3:-4] * 3, "text/plain")


def test_a_crawlers_notes_in_a_warc_are_counted_not_archived_as_pages(cli: Cli, tmp_path: Path) -> None:
    """Only records addressed as pages become records: not wget's log, a DNS lookup or Browsertrix's text copy."""
    source = tmp_path / "other-tools.warc.gz"
    _other_tools_warc(source)
    # Two resources of the web: a page as XHTML in a legacy charset, and a mail, which is no page.
    xhtml = '<html xmlns="http://www.w3.org/1999/xhtml"><head><title>Café du port</title></head><body><p>'
    xhtml += "Le café du port rouvre ses portes après six mois de travaux sur la digue. " * 8 + "</p></body></html>"
    with (tmp_path / "resources.warc.gz").open("wb") as fh:
        writer = WARCWriter(fh, gzip=True, warc_version="1.1")
        for target, body, media in (
            (
                "https://harbour.example/cafe",
                xhtml.encode("windows-1252"),
                "application/xhtml+xml; charset=windows-1252",
            ),
            ("https://harbour.example/mail/1", b"From: a@example.org\r\nSubject: hi\r\n\r\nhello", "message/rfc822"),
        ):
            record = writer.create_warc_record(
                target, "resource", payload=io.BytesIO(body), length=len(body), warc_content_type=media
            )
            writer.write_record(record)
    result = cli("replay", str(source), str(tmp_path / "resources.warc.gz"))
    assert result.code == 0, result.out + result.err  # the empty wget log is no failed capture
    assert "3 captures read, 3 records written, 0 unchanged, 0 failed" in result.out, result.out
    skipped = "1 dns: response, 1 message/rfc822 resource, 2 metadata:// resource, 1 urn:pageinfo: resource"
    assert f"skipped WARC records: {skipped}, 1 urn:text: resource" in result.out, result.out
    records = {r["source_url"]: r for r in _records(cli)}
    assert sorted(records) == [
        "https://harbour.example/cafe",
        "https://harbour.example/fog",
        "urn:file:notes/ferry.txt",
    ]
    # The copy says its charset, so it reads the same when replayed again.
    assert records["https://harbour.example/cafe"]["title"] == "Café du port"
    with warc_files(cli.data)[0].open("rb") as fh:
        types = {
            r.rec_headers.get_header("WARC-Target-URI"): r.rec_headers.get_header("Content-Type")
            for r in ArchiveIterator(fh)
            if r.rec_type == "resource"
        }
    assert types["https://harbour.example/cafe"] == "application/xhtml+xml; charset=windows-1252"


def _package(path: Path, members: dict[str, bytes], compressed: Collection[str] = ()) -> None:
    """Write a zip as WACZ lays one out: members stored as they are, unless named in `compressed`."""
    with zipfile.ZipFile(path, "w") as package:
        for name, data in members.items():
            package.writestr(name, data, zipfile.ZIP_DEFLATED if name in compressed else zipfile.ZIP_STORED)


def test_a_wacz_package_replays_as_the_warc_files_it_holds(seeds_archive: tuple[Cli, Result], tmp_path: Path) -> None:
    """Browsertrix and `scraper wacz` hand over WACZ: its WARC files are read in place; a bad package is named."""
    source, _ = seeds_archive
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    source("wacz", "--out", str(inbox / "seeds.wacz"), check=True)
    other = tmp_path / "other.warc.gz"
    _other_tools_warc(other)
    seed_warc = (PROJECT_SEEDS / "warc" / "eastside-dispatch.warc.gz").read_bytes()
    # One WARC file the zip deflated (not readable in place), one stored beside it, one empty.
    _package(
        inbox / "mixed.wacz",
        {
            "archive/a.warc.gz": seed_warc,
            "archive/b.warc.gz": other.read_bytes(),
            "archive/c.warc.gz": b"",
            "datapackage.json": b"{}",
        },
        compressed={"archive/a.warc.gz"},
    )
    _package(inbox / "no-warc.wacz", {"datapackage.json": b"{}", "pages/pages.jsonl": b""})
    (inbox / "junk.wacz").write_bytes(bytes(range(256)) * 8)
    # A member's name flagged UTF-8 in the zip's directory that is not UTF-8.
    _package(inbox / "bad-name.wacz", {"archive/x.warc.gz": other.read_bytes()})
    package = bytearray((inbox / "bad-name.wacz").read_bytes())
    entry = package.rindex(b"PK\x01\x02")  # the central directory's entry
    package[entry + 9] |= 0x08  # its flags' high byte: bit 11, names in UTF-8
    package[entry + 46 + len("archive/")] = 0xFF
    (inbox / "bad-name.wacz").write_bytes(bytes(package))

    cli = Cli(cwd=tmp_path, data=tmp_path / "data", db=f"sqlite:///{tmp_path / 'catalog.sqlite'}")
    result = cli("replay", str(inbox))
    assert result.code == 1, result.out + result.err
    failures = sorted(line.strip() for line in result.err.splitlines() if line.strip().startswith("failed:"))
    assert failures == [
        f"failed: {inbox / 'bad-name.wacz'}: not a readable WACZ package: "
        "'utf-8' codec can't decode byte 0xff in position 8: invalid start byte",
        f"failed: {inbox / 'junk.wacz'}: not a readable WACZ package (not a zip file, or cut short): "
        "File is not a zip file",
        f"failed: {inbox / 'mixed.wacz'}: archive/a.warc.gz: compressed or encrypted in the zip, "
        "not stored as WACZ stores WARC files",
        f"failed: {inbox / 'mixed.wacz'}: archive/c.warc.gz: empty file (no records)",
        f"failed: {inbox / 'no-warc.wacz'}: a WACZ package with no WARC file in its archive/ folder",
    ], result.err
    assert "14 captures read, 14 records written, 0 unchanged, 5 failed" in result.out, result.out

    # The package's records are the archive's own: the same ids and texts, read from where they lie in it.
    original = {r["id"]: r for r in _records(source)}
    replayed = {r["id"]: r for r in _records(cli)}
    assert set(original) < set(replayed)
    assert {i: r["text"] for i, r in replayed.items() if i in original} == {i: r["text"] for i, r in original.items()}
    assert {r["source_url"] for i, r in replayed.items() if i not in original} == {
        "https://harbour.example/fog",
        "urn:file:notes/ferry.txt",
    }
    for record in replayed.values():
        name, _, offset = record["provenance"]["source_location"].rpartition("#")
        with (tmp_path / name).open("rb") as fh:
            fh.seek(int(offset))
            assert (
                next(iter(ArchiveIterator(fh))).rec_headers.get_header("WARC-Record-ID")
                == (record["provenance"]["source_record_id"])
            )
    check = warcio_check(warc_files(cli.data))
    assert check.returncode == 0, check.stdout + check.stderr


@pytest.mark.slow  # two replays
def test_a_damaged_warc_reads_the_same_in_a_wacz_package_as_alone(tmp_path: Path) -> None:
    """Bit rot inside a package's WARC file: what survives, and what is named, match the WARC file replayed alone."""
    source = PROJECT_SEEDS / "warc" / "eastside-dispatch.warc.gz"
    with source.open("rb") as fh:
        records = ArchiveIterator(fh)
        offsets = [(records.get_record_offset(), r.rec_type) for r in records]
    at = next(i for i, (_, kind) in enumerate(offsets) if kind == "response")
    first, after = offsets[at][0], offsets[at + 1][0]  # the first response's gzip member
    damaged = bytearray(source.read_bytes())
    damaged[first + 300 : first + 360] = b"\x00" * 60
    (tmp_path / "alone").mkdir()
    (tmp_path / "alone" / "crawl.warc.gz").write_bytes(damaged)
    (tmp_path / "packed").mkdir()
    _package(tmp_path / "packed" / "crawl.wacz", {"datapackage.json": b"{}", "archive/crawl.warc.gz": bytes(damaged)})
    start = (tmp_path / "packed" / "crawl.wacz").read_bytes().index(damaged)

    def replayed(name: str) -> tuple[str, list[str], list[tuple[str, str]]]:
        cli = Cli(cwd=tmp_path, data=tmp_path / f"data-{name}", db=f"sqlite:///{tmp_path / name}.sqlite")
        result = cli("replay", name)
        assert result.code == 1, result.out + result.err
        failures = [line.strip() for line in result.err.splitlines() if line.strip().startswith("failed:")]
        return result.out.splitlines()[0], failures, sorted((r["id"], r["text"]) for r in _records(cli))

    summary, failures, kept = replayed("alone")
    named = f"alone/crawl.warc.gz: corrupt or truncated WARC at offset {first}: {after - first} bytes damaged"
    assert len(failures) == 1 and failures[0].startswith(f"failed: {named} (bad bytes): bad gzip data"), failures
    assert summary.startswith("replay: 1 captures read, 1 records written") and len(kept) == 1, summary
    # In the package: the same records and summary; the damage named at the package's own offset.
    in_package = (
        f"packed/crawl.wacz: corrupt or truncated WARC at offset {start + first}: {after - first} bytes damaged"
    )
    assert start > 0 and replayed("packed") == (summary, [failures[0].replace(named, in_package)], kept)


@pytest.mark.slow  # two replays and a warcio process: 8 s
def test_a_warc_file_gzipped_whole_is_named_with_the_way_to_read_it(cli: Cli, tmp_path: Path) -> None:
    """`gzip crawl.warc` makes one gzip stream: no record reads at its offset, and the failure says what fixes it."""
    plain = gzip.decompress((PROJECT_SEEDS / "warc" / "eastside-dispatch.warc.gz").read_bytes())
    whole = tmp_path / "whole.warc.gz"
    whole.write_bytes(gzip.compress(plain))
    result = cli("replay", str(whole))
    assert result.code == 1 and "0 captures read, 0 records written, 0 unchanged, 1 failed" in result.out
    [failure] = [line.strip() for line in result.err.splitlines() if line.strip().startswith("failed:")]
    assert failure == (
        f"failed: {whole}: {whole.stat().st_size} bytes at offset 0 gzipped as one stream, not a member per record: "
        "`warcio recompress FILE NEW.warc.gz` rewrites it so each record can be read"
    )
    # The advice holds: recompressed, the file replays (its two responses; its revisit is archived as a revisit).
    fixed = tmp_path / "fixed.warc.gz"
    subprocess.run([str(Path(sys.executable).parent / "warcio"), "recompress", str(whole), str(fixed)], check=True)
    again = cli("replay", str(fixed), check=True)
    assert "2 captures read, 2 records written" in again.out, again.out


def test_a_reader_error_on_one_file_is_its_failure_and_the_next_file_is_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A format's case no reader foresaw must not end the batch, or end it saying nothing failed."""
    from archive.warc import sources

    def broken(path: Path) -> Iterator[Any]:
        yield sources.CaptureFailure(str(path), "what it read before the error")
        raise RuntimeError("a case no reader foresaw")

    monkeypatch.setattr(sources, "_from_wacz", broken)
    (tmp_path / "a.wacz").write_bytes(b"PK")
    (tmp_path / "b.txt").write_text("A line of text.\n")
    found = list(sources.find_sources([str(tmp_path)]))
    assert [(type(f).__name__, Path(f.source if hasattr(f, "source") else f.path).name) for f in found] == [
        ("CaptureFailure", "a.wacz"),
        ("CaptureFailure", "a.wacz"),
        ("SourceRef", "b.txt"),
    ]
    assert found[1].reason == "unreadable: RuntimeError: a case no reader foresaw"


@pytest.mark.slow  # a replay of its own: 4.5 s
def test_a_page_claiming_another_sites_address_shows_and_exports_the_claim(cli: Cli, tmp_path: Path) -> None:
    """A mirror's copy keeps its own site; the address it gives for itself is the claim, in show and every export."""

    page = (
        '<html><head><title>Dredging</title><link rel="canonical" href="https://origin.example/2026/dredging">'
        "</head><body><article><p>" + "The harbour will be dredged in March, the port authority said. " * 8
    ).encode() + b"</p></article></body></html>"
    path = tmp_path / "mirror.warc.gz"
    with path.open("wb") as out:
        writer = WARCWriter(out, gzip=True)
        head = StatusAndHeaders("200 OK", [("Content-Type", "text/html; charset=utf-8")], "HTTP/1.1")
        writer.write_record(
            writer.create_warc_record(
                "https://mirror.example/copy/dredging",
                "response",
                payload=io.BytesIO(page),
                length=len(page),
                http_headers=head,
            )
        )
    cli("replay", str(path), check=True)
    [record] = [json.loads(line) for line in cli("export", "--format", "jsonl", check=True).out.splitlines()]
    assert (record["site"], record["claimed_url"]) == ("mirror.example", "https://origin.example/2026/dredging")
    shown = cli("show", record["id"], check=True).out
    assert "claimed:     https://origin.example/2026/dredging (the URL the page gives for itself" in shown
    [row] = list(csv.DictReader(io.StringIO(cli("export", "--format", "csv", check=True).out)))
    assert row["claimed_url"] == "https://origin.example/2026/dredging"
