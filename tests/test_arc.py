"""ARC files, WARC's predecessor (older collections hold them): replayed like WARC files, damage named, the rest read.

The files are written here byte by byte as the ARC format lays them out (version 1: a
filedesc:// record, then one record per fetch, each a header line of URL, IP address,
14-digit date, media type and length, the content, and a newline), plain and gzipped a
member per record.
"""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from archive.warc.sources import CaptureFailure, SkippedRecord, SourceRef, find_sources, load_capture
from tests.conftest import Cli, warc_files, warcio_check


def _record(url: str, ip: str, date: str, media: str, block: bytes) -> bytes:
    return f"{url} {ip} {date} {media} {len(block)}\n".encode() + block + b"\n"


def _page(title: str, sentence: str) -> bytes:
    paragraphs = "".join(f"<p>{sentence} ({n} of 5.)</p>" for n in range(1, 6))
    html = (
        f"<html><head><title>{title}</title></head><body><article><h1>{title}</h1>{paragraphs}</article></body></html>"
    )
    return b"HTTP/1.0 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n\r\n" + html.encode()


FOG = "Thick fog over the harbour delayed the morning ferries by up to two hours on Tuesday, the operator said"
FERRIES = "The ferry operator added two evening crossings to the timetable after a month of full boats"
RECORDS = [
    _record(
        "filedesc://harbour.arc",
        "0.0.0.0",
        "20010203040506",
        "text/plain",
        b"1 0 Harbour Archive\nURL IP-address Archive-date Content-type Archive-length\n",
    ),
    _record("dns:harbour.example", "192.0.2.1", "20010203040500", "text/dns", b"20010203040500\nharbour.example. A\n"),
    _record("http://harbour.example/fog", "192.0.2.7", "20010203040506", "text/html", _page("Harbour fog", FOG)),
    _record("http://harbour.example/ferries", "192.0.2.7", "20010203041010", "text/html", _page("Ferries", FERRIES)),
]
FOG_AT, FERRIES_AT = 2, 3  # positions in RECORDS


def _write(path: Path, records: list[bytes], gzipped: bool) -> list[int]:
    """Write an ARC file; return where each record starts."""
    blocks = [gzip.compress(r) for r in records] if gzipped else records
    path.write_bytes(b"".join(blocks))
    return [sum(len(b) for b in blocks[:i]) for i in range(len(blocks))]


@pytest.mark.parametrize("suffix", [".arc", ".arc.gz"])
def test_an_arc_files_pages_are_read_with_their_url_date_and_address(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"harbour{suffix}"
    offsets = _write(path, RECORDS, gzipped=suffix.endswith(".gz"))
    found = list(find_sources([str(path)]))
    assert not [f for f in found if isinstance(f, CaptureFailure)]
    skipped = sorted(f.record_type for f in found if isinstance(f, SkippedRecord))
    assert skipped == ["dns: response", "warcinfo"]  # the DNS lookup; the filedesc record, as warcio converts it
    refs = [f for f in found if isinstance(f, SourceRef)]
    assert [(r.kind, r.offset) for r in refs] == [("arc", offsets[FOG_AT]), ("arc", offsets[FERRIES_AT])]
    captures = [load_capture(r) for r in refs]
    assert [(c.url, c.captured_at, c.ip_address, c.http_status, c.media_type) for c in captures] == [
        ("http://harbour.example/fog", datetime(2001, 2, 3, 4, 5, 6, tzinfo=UTC), "192.0.2.7", 200, "text/html"),
        ("http://harbour.example/ferries", datetime(2001, 2, 3, 4, 10, 10, tzinfo=UTC), "192.0.2.7", 200, "text/html"),
    ]
    assert FOG.encode() in captures[0].payload and FERRIES.encode() in captures[1].payload
    # warcio makes an ARC record a WARC-Record-ID anew each time it reads one: none is kept.
    assert all(c.source_record_id is None for c in captures)


@pytest.mark.parametrize("suffix", [".arc", ".arc.gz"])
def test_a_damaged_arc_record_is_named_and_the_record_after_it_is_read(tmp_path: Path, suffix: str) -> None:
    gzipped = suffix.endswith(".gz")
    records = list(RECORDS)
    if gzipped:
        path = tmp_path / f"harbour{suffix}"
        offsets = _write(path, records, gzipped=True)
        data = bytearray(path.read_bytes())
        data[offsets[FOG_AT] + 40 : offsets[FOG_AT] + 80] = b"\x00" * 40  # bad bytes inside its gzip member
        path.write_bytes(bytes(data))
    else:  # the fog record's length says 60 bytes more than it holds: it reaches into the next record
        line, _, rest = records[FOG_AT].partition(b"\n")
        url, ip, date, media, length = line.split(b" ")
        records[FOG_AT] = b" ".join([url, ip, date, media, str(int(length) + 60).encode()]) + b"\n" + rest
        path = tmp_path / f"harbour{suffix}"
        offsets = _write(path, records, gzipped=False)
    found = list(find_sources([str(path)]))
    [failure] = [f for f in found if isinstance(f, CaptureFailure)]
    damaged = offsets[FERRIES_AT] - offsets[FOG_AT]
    assert failure.source == str(path)
    assert failure.reason.startswith(f"corrupt or truncated WARC at offset {offsets[FOG_AT]}: {damaged} bytes"), failure
    refs = [f for f in found if isinstance(f, SourceRef)]
    assert [r.offset for r in refs] == [offsets[FERRIES_AT]]
    assert load_capture(refs[0]).url == "http://harbour.example/ferries"


def test_replaying_an_arc_file_archives_its_pages_as_warc_records(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "harbour.arc.gz"
    offsets = _write(path, RECORDS, gzipped=True)
    result = cli("replay", str(path), check=True)
    assert "2 captures read, 2 records written, 0 unchanged, 0 failed" in result.out, result.out
    assert "skipped WARC records: 1 dns: response, 1 warcinfo" in result.out, result.out
    records = {
        r["source_url"]: r for r in map(json.loads, cli("export", "--format", "jsonl", check=True).out.splitlines())
    }
    fog = records["http://harbour.example/fog"]
    assert fog["title"] == "Harbour fog" and FOG in fog["text"]
    provenance = fog["provenance"]
    assert provenance["captured_at"] == "2001-02-03T04:05:06Z" and provenance["http_status"] == 200
    assert provenance["source_location"] == f"harbour.arc.gz#{offsets[FOG_AT]}"
    assert provenance["source_record_id"] is None
    check = warcio_check(warc_files(cli.data))
    assert check.returncode == 0, check.stdout + check.stderr


@pytest.mark.parametrize("suffix", [".arc", ".arc.gz"])
def test_arc_records_without_http_headers_are_counted_as_such(tmp_path: Path, suffix: str) -> None:
    """An ftp:// file and an empty fetch carry no status line: named as what they are, not as application/http."""
    ftp_file = b"<html><body><p>" + FERRIES.encode() + b".</p></body></html>"
    path = tmp_path / f"mixed{suffix}"
    _write(
        path,
        [
            *RECORDS,
            _record("ftp://harbour.example/pub/notes.html", "192.0.2.8", "20010203041500", "text/html", ftp_file),
            _record("http://harbour.example/gone", "192.0.2.7", "20010203041600", "text/html", b""),
        ],
        gzipped=suffix.endswith(".gz"),
    )
    found = list(find_sources([str(path)]))
    assert not [f for f in found if isinstance(f, CaptureFailure)]
    skipped = sorted(f.record_type for f in found if isinstance(f, SkippedRecord))
    assert skipped == ["ARC record without HTTP headers"] * 2 + ["dns: response", "warcinfo"]
    assert len([f for f in found if isinstance(f, SourceRef)]) == 2  # the two pages with HTTP headers are read


def _gzip_encoded_page(title: str, sentence: str) -> bytes:
    """A response whose body came gzip-encoded, as many in real ARC files: a whole gzip member inside the file."""
    html = f"<html><head><title>{title}</title></head><body><article>" + f"<p>{sentence}.</p>" * 5 + "</article>"
    body = gzip.compress((html + "</body></html>").encode())
    head = (
        f"HTTP/1.0 200 OK\r\nContent-Type: text/html\r\nContent-Encoding: gzip\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


def test_a_plain_arc_holding_gzip_encoded_bodies_is_read_as_plain_whatever_its_names_case(tmp_path: Path) -> None:
    """The gzip members inside responses must not make a plain ARC file look gzipped (its name upper case too)."""
    page = _record(
        "http://harbour.example/tide", "192.0.2.7", "20010203050000", "text/html", _gzip_encoded_page("Tide", FOG)
    )
    path = tmp_path / "HARBOUR.ARC"
    offsets = _write(path, [RECORDS[0], page, RECORDS[FERRIES_AT]], gzipped=False)
    found = list(find_sources([str(path)]))
    assert not [f for f in found if isinstance(f, CaptureFailure)]
    refs = [f for f in found if isinstance(f, SourceRef)]
    assert [r.offset for r in refs] == offsets[1:]
    assert FOG.encode() in load_capture(refs[0]).body  # the body decoded from its Content-Encoding


@pytest.mark.parametrize("suffix", [".arc", ".arc.gz"])
def test_an_arc_whose_filedesc_record_is_rotted_or_missing_is_read_by_its_name(tmp_path: Path, suffix: str) -> None:
    gzipped = suffix.endswith(".gz")
    rotted = b"xxxx" + RECORDS[0][4:]  # "filedesc://" no more
    for name, records in (("rotted", [rotted, *RECORDS[1:]]), ("headless", RECORDS[1:])):
        path = tmp_path / f"{name}{suffix}"
        offsets = _write(path, records, gzipped=gzipped)
        refs = [f for f in find_sources([str(path)]) if isinstance(f, SourceRef)]
        assert [(r.kind, r.offset) for r in refs] == [("arc", offsets[-2]), ("arc", offsets[-1])], name


def test_arc_files_that_cannot_be_read_are_named_and_blank_lines_ending_one_are_no_damage(tmp_path: Path) -> None:
    version_2 = RECORDS[0].replace(b"\n1 0 Harbour Archive\n", b"\n2 0 Harbour Archive\n")
    _write(tmp_path / "version-2.arc", [version_2, *RECORDS[1:]], gzipped=False)
    (tmp_path / "empty.arc").write_bytes(b"")
    (tmp_path / "trailing.arc").write_bytes(b"".join(RECORDS) + b"\n\n")
    found = list(find_sources([str(tmp_path)]))
    failures = sorted((Path(f.source).name, f.reason) for f in found if isinstance(f, CaptureFailure))
    assert failures == [
        ("empty.arc", "empty file (no records)"),
        ("version-2.arc", "ARC version 2: only version 1 is read"),
    ]
    assert [Path(f.path).name for f in found if isinstance(f, SourceRef)] == ["trailing.arc", "trailing.arc"]
