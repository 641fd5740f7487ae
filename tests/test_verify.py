"""`scraper verify` on a sound archive and on each kind of damage it must report.

Each test damages a copy of one replay of seeds/ made once for the session (SQLite);
tests/test_repair.py runs verify and repair on PostgreSQL too.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
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
    assert "tampered.warc.gz@0: <urn:uuid:00000000-0000-4000-8000-000000000001>" in found.out, found.out
    assert "problems: 1" in found.out


def test_a_cut_file_and_the_pointers_into_the_lost_part_are_reported(cli: Cli) -> None:
    _archive(cli)
    [warc] = warc_files(cli.data)
    data = warc.read_bytes()
    warc.write_bytes(data[: len(data) * 2 // 3])
    found = cli("verify")
    assert found.code == 1
    assert f"{warc.name}: unreadable after the last good record" in found.out, found.out
    assert "dangling: capture" in found.out and "no record there" in found.out


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
