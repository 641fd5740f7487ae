"""`scraper repair`: re-index what the catalog lost, cut torn tails, drop rows whose bytes are gone; delete no record.

The first test is the verify/repair family's run on SQLite and PostgreSQL; the others damage a
copy of one replay made once for the session (SQLite).
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from tests.conftest import PROJECT_SEEDS, Cli, Result, copy_archive, warc_files, warcio_check


@pytest.fixture(scope="module")
def text_seeds_archive(tmp_path_factory: pytest.TempPathFactory) -> Cli:
    """Replay seeds/text once for this module (a template: tests change copies of it)."""
    work = tmp_path_factory.mktemp("text-seeds")
    template = Cli(cwd=work, data=work / "data", db=f"sqlite:///{work / 'catalog.sqlite'}")
    template("replay", str(PROJECT_SEEDS / "text"), check=True)
    return template


def _execute(cli: Cli, statement: str) -> None:
    engine = create_engine(cli.db.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.begin() as connection:
        connection.execute(text(statement))
    engine.dispose()


def _export(cli: Cli) -> dict[str, dict[str, object]]:
    lines = cli("export", "--format", "jsonl", check=True).out.splitlines()
    return {r["id"]: r for r in map(json.loads, lines)}


def _repair(cli: Cli) -> dict[str, object]:
    done = cli("repair", "--format", "json")
    assert done.code == 0, done.out + done.err
    return dict(json.loads(done.out))


def test_captures_the_catalog_lost_come_back_from_the_warc_files_as_they_were(cli_any_db: Cli) -> None:
    cli = cli_any_db
    cli("replay", str(PROJECT_SEEDS), check=True)
    before = _export(cli)
    lost = sorted(before)[:3]
    ids = ", ".join(f"'{i}'" for i in lost)
    # As when a writer dies after its WARC records are durable and before the rows commit.
    _execute(cli, f"DELETE FROM warc_records WHERE capture_id IN ({ids})")
    _execute(cli, f"DELETE FROM captures WHERE id IN ({ids})")
    assert cli("verify").out.count("orphan: ") == 3
    sizes = {p.name: p.read_bytes() for p in warc_files(cli.data)}

    done = _repair(cli)
    assert done["reindexed"] == 3 and done["cut"] == {} and done["forgotten"] == []
    assert _export(cli) == before  # every field and provenance pointer as first archived
    assert cli("verify").code == 0
    assert {p.name: p.read_bytes() for p in warc_files(cli.data)} == sizes  # no WARC byte touched
    assert _repair(cli)["reindexed"] == 0  # nothing left to do
    found = cli("query", "--format", "json", check=True).out
    assert all(i in found for i in lost)


@pytest.mark.slow
def test_a_torn_tail_is_cut_and_the_rows_into_it_leave_the_catalog(
    project_seeds_archive: tuple[Cli, Result], tmp_path: Path
) -> None:
    cli = copy_archive(project_seeds_archive[0], tmp_path)  # seeds/ replayed
    [warc] = warc_files(cli.data)
    original = warc.read_bytes()
    before = _export(cli)
    # A copy cut short (not a file our writer left open): the last capture's records are half there.
    conversions = sorted(r["provenance"]["warc_conversion"]["offset"] for r in before.values())  # type: ignore[index]
    cut_at = conversions[-1] + 10
    warc.write_bytes(original[:cut_at])

    done = _repair(cli)
    [(name, removed)] = dict(done["cut"]).items()  # type: ignore[call-overload]
    assert name == warc.name and 0 < removed <= 10
    kept = warc.read_bytes()
    assert original.startswith(kept) and len(kept) == cut_at - removed  # only the torn record's bytes went
    [forgotten] = done["forgotten"]  # type: ignore[misc]
    assert before[forgotten]["provenance"]["warc_conversion"]["offset"] == conversions[-1]  # type: ignore[index]
    assert set(_export(cli)) == set(before) - {forgotten}
    assert cli("verify").code == 0
    assert warcio_check([warc]).returncode == 0

    cli("replay", str(PROJECT_SEEDS), check=True)  # the lost capture is archived again
    assert set(_export(cli)) == set(before)
    assert cli("verify").code == 0


@pytest.mark.slow
def test_a_capture_archived_twice_is_a_superseded_copy_not_a_problem(text_seeds_archive: Cli, tmp_path: Path) -> None:
    cli = copy_archive(text_seeds_archive, tmp_path)  # seeds/text replayed
    first = _export(cli)
    # Two writers archiving the same capture at once: the second one's rows lose the race.
    _execute(cli, "DELETE FROM warc_records")
    _execute(cli, "DELETE FROM captures")
    cli("replay", str(PROJECT_SEEDS / "text"), check=True)
    assert set(_export(cli)) == set(first)
    found = cli("verify", "--format", "json")
    report = json.loads(found.out)
    assert found.code == 0 and report["superseded"] == len(first), found.out
    assert _repair(cli)["reindexed"] == 0  # the catalog already holds each capture


def test_a_capture_whose_records_disagree_with_its_metadata_is_reported_not_indexed(
    text_seeds_archive: Cli, tmp_path: Path
) -> None:
    cli = copy_archive(text_seeds_archive, tmp_path)  # seeds/text replayed
    before = _export(cli)
    # The file's last capture: tampering with it moves no other capture's records.
    lost = max(before, key=lambda i: before[i]["provenance"]["warc_conversion"]["offset"])  # type: ignore[index]
    _execute(cli, f"DELETE FROM warc_records WHERE capture_id = '{lost}'")
    _execute(cli, f"DELETE FROM captures WHERE id = '{lost}'")
    [warc] = warc_files(cli.data)
    data = warc.read_bytes()
    place = before[lost]["provenance"]["warc_conversion"]  # type: ignore[index]
    start, end = place["offset"], place["offset"] + place["length"]  # type: ignore[index]
    head, _, body = gzip.decompress(data[start:end]).partition(b"\r\n\r\n")
    member = gzip.compress(head + b"\r\n\r\n" + body.replace(b"e", b"o", 1))  # another text, same length
    warc.write_bytes(data[:start] + member + data[end:])

    done = cli("repair")
    assert done.code == 1 and f"capture {lost}:" in done.out, done.out
    assert "not where its metadata says" in done.out or "does not match the text digest" in done.out
    assert set(_export(cli)) == set(before) - {lost}  # the others stay; the tampered one is not trusted
