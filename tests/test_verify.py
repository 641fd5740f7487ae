"""`scraper verify` on a sound archive and on each kind of damage it must report.

Each test damages a copy of one replay of seeds/ made once for the session (SQLite);
tests/test_repair.py runs verify and repair on PostgreSQL too.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import subprocess
import sys
import zlib
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from tests.conftest import Cli, Result, copy_archive, warc_files, warcio_check


@pytest.fixture
def cli(project_seeds_archive: tuple[Cli, Result], tmp_path: Path) -> Cli:
    """A copy of the session's replay of seeds/, this test's to damage."""
    return copy_archive(project_seeds_archive[0], tmp_path)


def _archive(cli: Cli) -> None:
    """The archive is there already: a copy of seeds/ replayed (see the cli fixture)."""
    assert warc_files(cli.data)


def _execute(cli: Cli, statement: str) -> None:
    engine = create_engine(cli.db.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.begin() as connection:
        connection.execute(text(statement))
    engine.dispose()


def test_a_sound_archive_verifies_and_every_digest_is_checked(cli: Cli) -> None:
    _archive(cli)
    found = cli("verify", check=True)
    assert "problems: 0" in found.out
    passes = warcio_check(warc_files(cli.data)).stdout.count("digest pass")
    assert passes > 30 and f"digests: {passes} checked" in found.out  # the same records warcio itself checks


def test_a_record_whose_bytes_do_not_match_its_digest_is_reported(cli: Cli) -> None:
    _archive(cli)
    body = b"the archived text"
    claimed = "sha256:" + base64.b32encode(hashlib.sha256(b"some other text").digest()).decode()
    record = (
        (
            "WARC/1.1\r\nWARC-Type: resource\r\nWARC-Record-ID: <urn:uuid:00000000-0000-4000-8000-000000000001>\r\n"
            "WARC-Date: 2026-01-01T00:00:00Z\r\nWARC-Target-URI: file:///x.txt\r\nContent-Type: text/plain\r\n"
            f"WARC-Block-Digest: {claimed}\r\nContent-Length: {len(body)}\r\n\r\n"
        ).encode()
        + body
        + b"\r\n\r\n"
    )
    (cli.data / "warc" / "tampered.warc.gz").write_bytes(gzip.compress(record))
    found = cli("verify")
    assert found.code == 1
    line = f"tampered.warc.gz: offset 0, {len(gzip.compress(record))} bytes: damaged (bad bytes): record <urn:uuid:"
    assert line in found.out and "00000000-0000-4000-8000-000000000001" in found.out, found.out
    assert "problems: 1" in found.out


def test_a_cut_file_and_the_pointers_into_the_lost_part_are_reported(cli: Cli) -> None:
    _archive(cli)
    [warc] = warc_files(cli.data)
    data = warc.read_bytes()
    cut = len(data) * 2 // 3
    warc.write_bytes(data[:cut])
    found = cli("verify")
    assert found.code == 1 and found.err == ""
    # One line for the torn end, naming every capture with a record past the cut; no dangling line besides.
    [line] = [x for x in found.out.splitlines() if x.strip().startswith(f"{warc.name}: offset ")]
    offset = int(line.split("offset ")[1].split(",")[0])
    assert 0 < offset < cut and f", {cut - offset} bytes: cut short: " in line, line
    lost = _captures_past(cli, offset)
    assert lost and all(capture in line for capture in lost), (lost, line)
    assert "dangling:" not in found.out


@pytest.mark.parametrize("into", [1, 2])
def test_a_file_cut_a_byte_or_two_into_a_records_gzip_header_is_cut_short(cli: Cli, into: int) -> None:
    """The bytes left are the start of the next member's magic (1f 8b): the file ends inside it, not bad bytes."""
    from warcio.archiveiterator import ArchiveIterator

    [warc] = warc_files(cli.data)
    with warc.open("rb") as handle:
        records = ArchiveIterator(handle)
        offsets = [records.get_record_offset() for _ in records]
    start = offsets[len(offsets) // 2]
    warc.write_bytes(warc.read_bytes()[: start + into])
    found = cli("verify")
    [line] = [x for x in found.out.splitlines() if x.strip().startswith(f"{warc.name}: offset ")]
    assert f"offset {start}, {into} bytes: cut short: the file ends inside a gzip member" in line, line


def _captures_past(cli: Cli, offset: int) -> set[str]:
    engine = create_engine(cli.db)
    with engine.connect() as connection:
        rows = connection.execute(text('SELECT capture_id FROM warc_records WHERE "offset" >= :o'), {"o": offset})
        found = {row[0] for row in rows}
    engine.dispose()
    return found


def test_each_damaged_stretch_is_reported_once_with_its_captures_and_nothing_leaks_to_stderr(cli: Cli) -> None:
    _archive(cli)
    [warc] = warc_files(cli.data)
    data = bytearray(warc.read_bytes())
    engine = create_engine(cli.db)
    with engine.connect() as connection:
        rows = connection.execute(
            text('SELECT capture_id, "offset", length FROM warc_records WHERE role = \'raw\' ORDER BY "offset"')
        )
        raws = [tuple(row) for row in rows]
    engine.dispose()
    hit = [raws[1], raws[3]]  # two raw records, each its own gzip member: two stretches
    for _, offset, length in hit:
        data[offset + length // 3] ^= 0x80
    warc.write_bytes(data)
    found = cli("verify")
    assert found.code == 1 and found.err == "", found.err
    assert "problems: 2" in found.out, found.out
    for capture, offset, length in hit:
        [line] = [x for x in found.out.splitlines() if f"{warc.name}: offset {offset}, " in x]
        assert f"offset {offset}, {length} bytes: damaged (bad bytes): " in line and f"(captures: {capture} " in line
    assert "cut short" not in found.out and "Error -3" not in found.err


def test_catalog_rows_pointing_nowhere_and_records_without_rows_are_reported(cli: Cli) -> None:
    _archive(cli)
    _execute(cli, 'UPDATE warc_records SET "offset" = "offset" + 1 WHERE id = (SELECT min(id) FROM warc_records)')
    found = cli("verify")
    assert found.code == 1 and found.out.count("dangling: ") == 1, found.out
    _execute(cli, 'UPDATE warc_records SET "offset" = "offset" - 1 WHERE id = (SELECT min(id) FROM warc_records)')
    assert cli("verify").code == 0
    # A capture the catalog lost (as when a writer dies between WARC and commit): its records are orphans.
    _execute(cli, "DELETE FROM warc_records WHERE capture_id = (SELECT min(id) FROM captures)")
    found = cli("verify")
    assert found.code == 1 and found.out.count("orphan: ") == 1 and "has no catalog row" in found.out, found.out


_MEASURE = """
import resource, subprocess, sys
done = subprocess.run([sys.executable, "-m", "archive.cli", *sys.argv[1:]], capture_output=True, text=True)
peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # KiB on Linux: the child's peak
print(done.returncode, peak, repr(done.stderr[-300:]))
"""


@pytest.mark.slow
def test_a_gzip_bomb_member_is_read_in_bounded_memory(tmp_path: Path) -> None:
    # One record of 1 GiB of zeros in one gzip member of about 1 MB: reading it must not hold it.
    size = 1 << 30
    head = (
        "WARC/1.1\r\nWARC-Type: resource\r\nWARC-Record-ID: <urn:uuid:00000000-0000-4000-8000-00000000b0b0>\r\n"
        f"WARC-Date: 2026-01-01T00:00:00Z\r\nWARC-Target-URI: file:///bomb\r\nContent-Length: {size}\r\n\r\n"
    ).encode()
    warc = tmp_path / "data" / "warc" / "bomb.warc.gz"
    warc.parent.mkdir(parents=True)
    packer, zeros = zlib.compressobj(9, zlib.DEFLATED, 31), bytes(1 << 20)
    with open(warc, "wb") as out:
        out.write(packer.compress(head))
        for _ in range(size // len(zeros)):
            out.write(packer.compress(zeros))
        out.write(packer.compress(b"\r\n\r\n") + packer.flush())
    assert warc.stat().st_size < 2 << 20
    args = ["verify", "--data", str(tmp_path / "data"), "--db", f"sqlite:///{tmp_path / 'catalog.sqlite'}"]
    measured = subprocess.run([sys.executable, "-c", _MEASURE, *args], capture_output=True, text=True, check=True)
    code, peak_kib, err = measured.stdout.split(" ", 2)
    assert code == "0" and err.strip() == "''", measured.stdout  # a sound record, read whole; nothing on stderr
    assert int(peak_kib) < 600 * 1024, f"peak RSS {int(peak_kib) // 1024} MiB"


def test_a_warc_file_that_cannot_be_read_is_named_and_its_captures_are_kept(cli: Cli) -> None:
    """Unreadable is not gone: verify says so in one line, and repair drops none of the captures the file holds."""
    [warc] = warc_files(cli.data)
    captures = len(cli("export", "--format", "jsonl", check=True).out.splitlines())
    warc.chmod(0)
    try:
        found = cli.as_owner("verify")
        assert found.code == 1 and "Traceback" not in found.err, found.err
        line = f"{warc.name}: cannot be read: Permission denied (the catalog's pointers into it unchecked)"
        assert f"problems: 1\n  {line}" in found.out and "dangling" not in found.out, found.out
        assert "catalog: 0 pointers read back" in found.out, found.out
        mended = cli.as_owner("repair")
        assert mended.code == 1 and f"not mended: 1\n  {warc.name}: cannot be read: Permission denied" in mended.out
        assert "dropped" not in mended.out, mended.out
    finally:
        warc.chmod(0o644)
    assert len(cli("export", "--format", "jsonl", check=True).out.splitlines()) == captures
    assert "problems: 0" in cli("verify", check=True).out
