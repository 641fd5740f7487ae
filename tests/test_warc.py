"""WARC writer: byte-for-byte layout with fixed ids and clock, per-record gzip members, rollover, reading back."""

from __future__ import annotations

import gzip
import itertools
import os
import zlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from warcio.archiveiterator import ArchiveIterator

from archive.warc.reader import WarcReadError, read_payload
from archive.warc.writer import WarcFileWriter
from scraper import Capture, Provenance, Record, WarcLocation
from tests.conftest import DATA, warcio_check

GOLDEN = DATA / "golden-layout.warc"
CAPTURED = "2025-05-06T00:00:00Z"


def _fixed_writer(directory: Path, **options: object) -> WarcFileWriter:
    ticks = itertools.count()
    ids = itertools.count(1)
    return WarcFileWriter(
        directory,
        prefix="golden",
        hostname="test-host",
        info={"operator": "Test Operator", "isPartOf": "crawl-1"},
        clock=lambda: datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC) + timedelta(seconds=next(ticks)),
        make_id=lambda: f"<urn:uuid:00000000-0000-4000-8000-{next(ids):012d}>",
        **options,  # type: ignore[arg-type]
    )


def _record(text: str = "First paragraph.\n\nSecond paragraph.", **changes: object) -> Record:
    values: dict[str, object] = {
        "id": "0123456789abcdef0123456789abcdef",
        "source_url": "urn:file:captures/story.txt",
        "canonical_url": "urn:file:captures/story.txt",
        "site": None,
        "site_name": None,
        "title": "A story",
        "authors": ("Ada Writer",),
        "published": "2025-05-05",
        "language": "en",
        "tags": (),
        "description": None,
        "text": text,
        "word_count": 4,
        "payload_sha256": "0" * 64,
        "text_sha256": "1" * 64,
        "provenance": Provenance(
            source_kind="file",
            source_location="captures/story.txt",
            captured_at=CAPTURED,
            media_type="text/plain",
            encoding="utf-8",
            extractor="scraper.strip",
            extractor_version="1",
            project_version="0.1.0",
            input_word_count=9,
            crawl_id="crawl-1",
        ),
    }
    values.update(changes)
    return Record(**values)  # type: ignore[arg-type]


def _capture(
    payload: bytes = b" date 2025-05-06 Ada Writer\nA story\nFirst paragraph.\nSecond paragraph.\n",
) -> Capture:
    return Capture(
        payload=payload,
        source_kind="file",
        source_location="captures/story.txt",
        media_type="text/plain",
        charset="utf-8",
        url="urn:file:captures/story.txt",
    )


def test_record_layout_is_byte_for_byte_golden(tmp_path: Path) -> None:
    writer = _fixed_writer(tmp_path)
    writer.write_capture(_capture(), _record())
    writer.close()
    [name] = writer.files
    assert name == "golden-20260102030405000-00001-test-host.warc.gz"
    layout = gzip.decompress((tmp_path / name).read_bytes())
    if os.environ.get("UPDATE_GOLDEN") == "1":
        GOLDEN.write_bytes(layout)
    assert layout == GOLDEN.read_bytes()


def test_golden_file_says_what_the_spec_asks(tmp_path: Path) -> None:
    """Checks of the golden bytes themselves, so the golden file cannot drift unnoticed."""
    golden = GOLDEN.read_bytes().decode("utf-8")
    blocks = golden.split("WARC/1.1\r\n")[1:]
    assert [b.split("WARC-Type: ")[1].split("\r\n")[0] for b in blocks] == [
        "warcinfo",
        "resource",
        "conversion",
        "metadata",
    ]
    warcinfo, raw, conversion, metadata = blocks
    assert "WARC-Filename: golden-20260102030405000-00001-test-host.warc.gz" in warcinfo
    assert "operator: Test Operator\r\n" in warcinfo and "hostname: test-host\r\n" in warcinfo
    assert "WARC-Date: 2025-05-06T00:00:00Z" in raw  # the capture's own time, not the clock's
    assert "Content-Type: text/plain; charset=utf-8" in raw
    assert "WARC-Record-ID: <urn:uuid:00000000-0000-4000-8000-000000000002>" in raw
    assert "WARC-Target-URI: urn:file:captures/story.txt\r\n" in raw  # a saved file: no fetch claimed, no host path
    assert "WARC-Date: 2026-01-02T03:04:07Z" in conversion  # derived records: when we archived
    # Derived records are addressed off the page's URI (replay must not take them for the page)
    # and name the raw record they come from: its id, URI and date.
    assert "WARC-Target-URI: urn:text:urn:file:captures/story.txt\r\n" in conversion
    assert "WARC-Target-URI: urn:record:urn:file:captures/story.txt\r\n" in metadata
    for derived in (conversion, metadata):
        assert "WARC-Refers-To: <urn:uuid:00000000-0000-4000-8000-000000000002>" in derived
        assert "WARC-Refers-To-Target-URI: urn:file:captures/story.txt\r\n" in derived
        assert "WARC-Refers-To-Date: 2025-05-06T00:00:00Z\r\n" in derived
    assert conversion.endswith("First paragraph.\n\nSecond paragraph.\r\n\r\n")
    assert '"warc_raw": {"file": "golden-20260102030405000-00001-test-host.warc.gz"' in metadata
    ids = [b.split("WARC-Record-ID: ")[1].split("\r\n")[0] for b in blocks]
    assert ids == [f"<urn:uuid:00000000-0000-4000-8000-{n:012d}>" for n in range(1, 5)]


def test_each_record_is_its_own_gzip_member_at_the_recorded_offset(tmp_path: Path) -> None:
    writer = _fixed_writer(tmp_path)
    located = [writer.write_capture(_capture(), _record(f"Text number {n}.")) for n in range(3)]
    writer.close()
    path = tmp_path / writer.files[0]
    data = path.read_bytes()
    for record in located:
        for location in (
            record.provenance.warc_raw,
            record.provenance.warc_conversion,
            record.provenance.warc_metadata,
        ):
            assert location is not None
            member = data[location.offset : location.offset + location.length]
            decompressor = zlib.decompressobj(31)
            decompressor.decompress(member)
            assert decompressor.eof and not decompressor.unused_data, "one whole gzip member per record"
    assert read_payload(tmp_path, located[1].provenance.warc_conversion) == b"Text number 1."  # type: ignore[arg-type]
    with path.open("rb") as fh:
        it = ArchiveIterator(fh)
        offsets = [(it.get_record_offset(), r.rec_headers.get_header("WARC-Record-ID")) for r in it]
    expected = [(loc.offset, loc.record_id) for r in located for loc in _locations(r)]
    assert offsets[1:] == expected
    assert warcio_check([path]).returncode == 0


def _locations(record: Record) -> list[WarcLocation]:
    prov = record.provenance
    return [loc for loc in (prov.warc_raw, prov.warc_conversion, prov.warc_metadata) if loc is not None]


def test_rolls_over_by_size_keeping_a_capture_in_one_file(tmp_path: Path) -> None:
    writer = _fixed_writer(tmp_path, max_size=2000)
    located = [writer.write_capture(_capture(), _record("word " * 200)) for _ in range(4)]
    writer.close()
    assert len(writer.files) >= 2
    assert [f.split("-")[2] for f in writer.files] == [f"{n:05d}" for n in range(1, len(writer.files) + 1)]
    for record in located:
        assert len({loc.file for loc in _locations(record)}) == 1
    check = warcio_check([tmp_path / f for f in writer.files])
    assert check.returncode == 0, check.stdout
    for name in writer.files:  # every file opens with its own warcinfo
        with (tmp_path / name).open("rb") as fh:
            assert next(iter(ArchiveIterator(fh))).rec_type == "warcinfo"


def test_never_overwrites_an_existing_file(tmp_path: Path) -> None:
    first = _fixed_writer(tmp_path)
    first.write_capture(_capture(), _record())
    first.close()
    before = (tmp_path / first.files[0]).read_bytes()
    second = _fixed_writer(tmp_path)  # same clock, same serial: the name is taken
    second.write_capture(_capture(), _record())
    second.close()
    assert second.files[0] != first.files[0]
    assert (tmp_path / first.files[0]).read_bytes() == before


def test_http_captures_become_response_records_with_wire_headers(tmp_path: Path) -> None:
    body = gzip.compress(b"<html><body><p>hello</p></body></html>", mtime=0)
    capture = Capture(
        payload=body,
        source_kind="live",
        source_location="https://example.org/a?x=1",
        media_type="text/html",
        url="https://example.org/a?x=1",
        http_status=404,
        http_reason="Not Found",
        http_headers=(("Content-Type", "text/html"), ("Content-Encoding", "gzip"), ("Transfer-Encoding", "chunked")),
    )
    writer = _fixed_writer(tmp_path)
    located = writer.write_capture(capture, _record(source_url="https://example.org/a?x=1"))
    writer.close()
    with (tmp_path / writer.files[0]).open("rb") as fh:
        records = list(ArchiveIterator(fh))
    response = records[1]
    assert response.rec_type == "response"
    assert response.rec_headers.get_header("WARC-Target-URI") == "https://example.org/a?x=1"
    assert response.http_headers.statusline == "404 Not Found"
    assert response.http_headers.get_header("Content-Encoding") == "gzip"
    assert response.http_headers.get_header("Transfer-Encoding") is None  # body is stored de-chunked
    assert read_payload(tmp_path, located.provenance.warc_raw) == body  # type: ignore[arg-type]


def test_read_payload_refuses_a_wrong_pointer(tmp_path: Path) -> None:
    writer = _fixed_writer(tmp_path)
    located = writer.write_capture(_capture(), _record())
    writer.close()
    raw = located.provenance.warc_raw
    assert raw is not None
    with pytest.raises(WarcReadError, match="not <urn:uuid:bogus>"):
        read_payload(tmp_path, WarcLocation(raw.file, raw.offset, raw.length, "<urn:uuid:bogus>"))
    with pytest.raises(WarcReadError, match="No such file"):
        read_payload(tmp_path, WarcLocation("missing.warc.gz", 0, 10, raw.record_id))


def test_a_killed_writers_torn_tail_is_cut_and_complete_records_stay(tmp_path: Path) -> None:
    from archive.warc.recovery import recover_open_files

    writer = _fixed_writer(tmp_path)
    first = writer.write_capture(Capture(b"First paragraph.", "file", "/a.txt", "text/plain"), _record())
    writer.flush()
    [name] = writer.files
    assert (tmp_path / f".{name}.open").exists()  # the marker says the file is being written
    intact = (tmp_path / name).stat().st_size
    writer.write_capture(Capture(b"Second capture.", "file", "/b.txt", "text/plain"), _record(id="f" * 32))
    writer.flush()
    grown = (tmp_path / name).stat().st_size
    os.truncate(tmp_path / name, intact + (grown - intact) // 2)  # the kill: half of the last capture on disk
    assert writer._file is not None
    os.close(writer._file.fd)  # the process is gone, its descriptors (and the marker's lock) with it
    writer._file.marker.close()

    repaired = recover_open_files(tmp_path)
    assert len(repaired) == 1 and repaired[0][0] == name and repaired[0][1] > 0
    assert not (tmp_path / f".{name}.open").exists()
    assert warcio_check([tmp_path / name]).returncode == 0
    assert read_payload(tmp_path, first.provenance.warc_raw) == b"First paragraph."  # type: ignore[arg-type]
    size = (tmp_path / name).stat().st_size
    assert intact <= size < grown  # only the torn record's bytes went; complete ones never move
    assert recover_open_files(tmp_path) == []  # nothing left to repair


def test_a_file_another_writer_holds_open_is_not_touched(tmp_path: Path) -> None:
    from archive.warc.recovery import recover_open_files

    writer = _fixed_writer(tmp_path)  # a second writer on the same directory, alive and mid-file
    writer.write_capture(Capture(b"First paragraph.", "file", "/a.txt", "text/plain"), _record())
    writer.flush()
    [name] = writer.files
    with open(tmp_path / name, "ab") as handle:
        handle.write(b"WARC/1.1\r\n")  # as if it were halfway through its next record
    size = (tmp_path / name).stat().st_size
    assert recover_open_files(tmp_path) == []
    assert (tmp_path / name).stat().st_size == size and (tmp_path / f".{name}.open").exists()
    writer.close()
    assert not (tmp_path / f".{name}.open").exists()


def _member_ends(data: bytes) -> list[int]:
    """Return where each gzip member of a file ends (zlib's own reading of the bytes)."""
    ends, position, rest = [], 0, data
    while rest:
        reader = zlib.decompressobj(31)
        reader.decompress(rest)
        position += len(rest) - len(reader.unused_data)
        ends.append(position)
        rest = reader.unused_data
    return ends


def test_a_tail_cut_anywhere_in_its_last_records_is_cut_back_to_a_whole_record(tmp_path: Path) -> None:
    """Cuts one byte into a member, inside its header, in its block and just before its end: all are torn."""
    from archive.warc.recovery import cut_torn_tail

    writer = _fixed_writer(tmp_path)
    writer.write_capture(Capture(b"First paragraph.", "file", "/a.txt", "text/plain"), _record())
    writer.write_capture(Capture(b"Second capture." * 40, "file", "/b.txt", "text/plain"), _record(id="f" * 32))
    writer.close()
    [name] = writer.files
    data = (tmp_path / name).read_bytes()
    ends = _member_ends(data)
    assert len(ends) == 7 and ends[-1] == len(data)  # warcinfo + 2 x (resource, conversion, metadata)
    cuts = [start + step for start, end in itertools.pairwise(ends[-4:]) for step in (1, 30, (end - start) // 2)]
    cuts += [end - 1 for end in ends[-3:]]
    for cut in cuts:
        torn = tmp_path / f"torn-{cut}.warc.gz"
        torn.write_bytes(data[:cut])
        removed = cut_torn_tail(torn)
        kept = torn.stat().st_size
        assert kept == max(e for e in ends if e <= cut), f"cut at {cut}: kept {kept} bytes"
        assert removed == cut - kept
        check = warcio_check([torn])
        assert check.returncode == 0, check.stdout
