"""`scraper repair`: re-index what the catalog lost, cut torn tails, drop rows whose bytes are gone; delete no record.

The first test is the verify/repair family's run on SQLite and PostgreSQL; the others damage a
copy of one replay made once for the session (SQLite).
"""

from __future__ import annotations

import gzip
import hashlib
import json
import zlib
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from archive.integrity.damage import scan_file
from tests.bitrot import Archive, describe, plain_copy
from tests.conftest import PROJECT_SEEDS, Cli, Result, copy_archive, warc_files


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


def _catalog_state(cli: Cli) -> list[tuple[object, ...]]:
    engine = create_engine(cli.db.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.connect() as connection:
        rows = connection.execute(
            text('SELECT capture_id, role, file, "offset", length, record_id FROM warc_records ORDER BY record_id')
        )
        found = [tuple(row) for row in rows]
        found += [tuple(row) for row in connection.execute(text("SELECT id, source_url FROM captures ORDER BY id"))]
    engine.dispose()
    return found


def _tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_a_flipped_byte_costs_the_one_capture_that_held_it_and_is_set_aside(cli_any_db: Cli) -> None:
    cli = cli_any_db
    cli("replay", str(PROJECT_SEEDS), check=True)
    before = _export(cli)
    [warc] = warc_files(cli.data)
    original = warc.read_bytes()
    # The raw record of the capture archived fifth: one gzip member, one byte flipped in its middle.
    victim = sorted(before, key=lambda i: before[i]["provenance"]["warc_raw"]["offset"])[4]  # type: ignore[index]
    raw = before[victim]["provenance"]["warc_raw"]  # type: ignore[index]
    offset, length = raw["offset"], raw["length"]  # type: ignore[index]
    damaged = bytearray(original)
    damaged[offset + length // 2] ^= 0x01
    warc.write_bytes(damaged)

    files, catalog = _tree(cli.data), _catalog_state(cli)
    dry = cli("repair", "--dry-run")
    assert dry.code == 1 and "dry run: nothing was changed" in dry.out, dry.out
    assert "1 stretch(es) would be set aside" in dry.out and victim in dry.out
    assert _tree(cli.data) == files and _catalog_state(cli) == catalog  # not one byte, not one row changed

    done = cli("repair")
    assert done.code == 1, done.out + done.err
    line = f"{warc.name}: offset {offset}, {length} bytes: damaged (bad bytes): "
    [unmended] = done.out.split("not mended: 1\n")[1].splitlines()
    assert unmended.strip().startswith(line) and f"(captures: {victim} {before[victim]['source_url']})" in unmended
    assert set(_export(cli)) == set(before) - {victim}  # the other captures stay, each as it was
    assert all(_export(cli)[i] == before[i] for i in set(before) - {victim})
    assert warc.read_bytes() == bytes(damaged)  # in place: no byte of the file moved or went
    quarantine = cli.data / "quarantine"
    assert (quarantine / f"{warc.name}@{offset}+{length}.bin").read_bytes() == bytes(damaged[offset : offset + length])
    [entry] = [json.loads(x) for x in (quarantine / "report.jsonl").read_text().splitlines()]
    assert (entry["offset"], entry["length"], entry["kind"]) == (offset, length, "damaged (bad bytes)")
    assert [c["id"] for c in entry["captures"]] == [victim]
    assert raw["record_id"] in entry["captures"][0]["record_ids"]  # type: ignore[index]

    again = cli("repair")
    assert again.code == 0 and "not mended: 0" in again.out and "1 set aside earlier" in again.out, again.out
    checked = cli("verify")
    assert checked.code == 0 and "damage set aside by repair: 1" in checked.out, checked.out
    assert checked.err == ""


@pytest.mark.slow
def test_a_closed_file_cut_short_keeps_its_bytes_and_sets_the_torn_record_aside(
    project_seeds_archive: tuple[Cli, Result], tmp_path: Path
) -> None:
    cli, warc, before = _seeds_copy(project_seeds_archive, tmp_path)
    original = warc.read_bytes()
    # A copy cut short (not a file our writer left open): the last capture's metadata record is half there.
    last = max(before, key=lambda i: before[i]["provenance"]["warc_conversion"]["offset"])  # type: ignore[index]
    conversion = before[last]["provenance"]["warc_conversion"]  # type: ignore[index]
    metadata_at = conversion["offset"] + conversion["length"]  # type: ignore[index]
    cut_at = metadata_at + 10
    warc.write_bytes(original[:cut_at])

    done = cli("repair", "--format", "json")
    report = json.loads(done.out)
    assert done.code == 1 and report["cut"] == {}, done.out  # a closed file loses no byte
    assert warc.read_bytes() == original[:cut_at]
    [line] = report["unmendable"]
    assert line.startswith(f"{warc.name}: offset {metadata_at}, 10 bytes: cut short: ") and last in line, line
    assert report["forgotten"] == [last]
    assert set(_export(cli)) == set(before) - {last}
    assert cli("verify").code == 0  # what repair set aside is known, not a problem

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
    # Its conversion record no longer matches its own block digest: a damaged stretch, its capture not mended.
    assert done.code == 1 and f"(captures: {lost} " in done.out, done.out
    assert f"{warc.name}: offset {start}, " in done.out and "digest" in done.out
    assert set(_export(cli)) == set(before) - {lost}  # the others stay; the tampered one is not trusted


def test_a_bad_byte_in_a_files_first_gzip_header_costs_that_record_alone(
    project_seeds_archive: tuple[Cli, Result], tmp_path: Path
) -> None:
    cli, warc, before = _seeds_copy(project_seeds_archive, tmp_path)
    damaged = bytearray(warc.read_bytes())
    warcinfo_end = _member_length(bytes(damaged))
    damaged[1] ^= 0x01  # the gzip magic of the warcinfo member: the file no longer starts as a .warc.gz does
    warc.write_bytes(damaged)

    done = cli("repair", "--format", "json")
    report = json.loads(done.out)
    # Read by its name as the .warc.gz it is: the warcinfo alone is damaged, every capture reads whole.
    [line] = report["unmendable"]
    assert line.startswith(f"{warc.name}: offset 0, {warcinfo_end} bytes: damaged (bad bytes): "), line
    assert "(captures: none in the catalog)" in line and report["forgotten"] == [], done.out
    assert _export(cli) == before
    assert _repair(cli)["unmendable"] == []
    assert cli("verify").code == 0
    some = sorted(before)[0]
    raw = cli("show", some, "--raw", check=True).stdout_bytes
    assert hashlib.sha256(raw).hexdigest() == before[some]["payload_sha256"]  # the original bytes come back


def test_a_bad_byte_in_a_record_id_sets_that_record_aside_once(
    project_seeds_archive: tuple[Cli, Result], tmp_path: Path
) -> None:
    # A .warc file (not gzipped): its headers carry no digest, so a bad byte in a record's id
    # leaves a record that reads whole under an id nothing names.
    plain, data = _plain_seeds_copy(project_seeds_archive, tmp_path)
    cli = Cli(cwd=tmp_path, data=plain.data, db=f"sqlite:///{plain.catalog}")
    before = _export(cli)
    victim = sorted(before)[2]
    conversion = before[victim]["provenance"]["warc_conversion"]["record_id"]  # type: ignore[index]
    at = data.index(f"WARC-Record-ID: {conversion}".encode()) + len("WARC-Record-ID: <urn:uuid:") + 3
    renamed = data[:at] + bytes([data[at] ^ 0x01]) + data[at + 1 :]  # one bit: still a hex digit or a letter
    plain.warc.write_bytes(renamed)
    start = max(r.offset for r in plain.records if r.offset <= at)

    done = cli("repair", "--format", "json")
    report = json.loads(done.out)
    [line] = report["unmendable"]
    assert line.startswith(f"{plain.warc.name}: offset {start}, "), line
    assert f"record {conversion}: its WARC-Record-ID reads " in line and f"(captures: {victim} " in line, line
    assert report["forgotten"] == [victim]
    assert set(_export(cli)) == set(before) - {victim}
    assert all(_export(cli)[i] == before[i] for i in set(before) - {victim})
    assert plain.warc.read_bytes() == renamed  # set aside in quarantine, left in place
    again = _repair(cli)  # the renamed record stays set aside: nothing new, no capture rebuilt from its metadata
    assert again["unmendable"] == [] and again["set_aside_earlier"] == 1 and again["reindexed"] == 0, again
    checked = cli("verify")
    assert checked.code == 0 and "orphan" not in checked.out, checked.out  # the renamed conversion is no orphan


def _seeds_copy(template: tuple[Cli, Result], into: Path) -> tuple[Cli, Path, dict[str, dict[str, object]]]:
    """Return a CLI on a copy of the session's replay of seeds/, its one WARC file, and its captures as exported."""
    cli = copy_archive(template[0], into)
    [warc] = warc_files(cli.data)
    return cli, warc, _export(cli)


def _member_length(data: bytes) -> int:
    inflater = zlib.decompressobj(31)
    inflater.decompress(data)
    return len(data) - len(inflater.unused_data)


def _plain_seeds_copy(template: tuple[Cli, Result], into: Path) -> tuple[Archive, bytes]:
    """Return an uncompressed copy of the session's replay of seeds/ (tests/bitrot.py's plain_copy), and its bytes."""
    cli = copy_archive(template[0], into / "gz")
    [warc] = warc_files(cli.data)
    plain = plain_copy(describe(cli.data, Path(cli.db.removeprefix("sqlite:///")), warc), into)
    return plain, plain.warc.read_bytes()


def test_records_cut_out_whole_are_reported_once_and_leave_no_orphan(
    project_seeds_archive: tuple[Cli, Result], tmp_path: Path
) -> None:
    cli, warc, before = _seeds_copy(project_seeds_archive, tmp_path)
    # Bytes cut out on member boundaries: one capture's raw record gone, no damaged stretch left.
    victim = sorted(before)[1]
    raw = before[victim]["provenance"]["warc_raw"]  # type: ignore[index]
    start, end = raw["offset"], raw["offset"] + raw["length"]  # type: ignore[index]
    data = warc.read_bytes()
    warc.write_bytes(data[:start] + data[end:])

    done = cli("repair", "--format", "json")
    report = json.loads(done.out)
    assert report["forgotten"] == [victim] and report["quarantined"] == [], done.out
    assert set(_export(cli)) == set(before) - {victim}  # the captures after the cut are re-pointed, as they were
    [entry] = [json.loads(x) for x in (cli.data / "quarantine" / "report.jsonl").read_text().splitlines()]
    assert (entry["file"], entry["offset"], entry["length"], entry["kind"]) == (warc.name, start, 0, "gone")
    assert [c["id"] for c in entry["captures"]] == [victim] and raw["record_id"] in entry["captures"][0]["record_ids"]  # type: ignore[index]
    assert not list((cli.data / "quarantine").glob("*.bin"))  # nothing to copy
    # What is left of it (its conversion and metadata records) is known as its: no capture to
    # rebuild, no orphan, nothing new for a second repair.
    again = _repair(cli)
    assert again["unmendable"] == [] and again["forgotten"] == [] and again["reindexed"] == 0, again
    checked = cli("verify")
    assert checked.code == 0 and "orphan" not in checked.out, checked.out
    assert "records left of captures lost to that damage: 1 conversion record(s)" in checked.out, checked.out


@pytest.mark.parametrize(
    "inserted",
    [b"\r\nWARC/1.1\r\n\xc4#z\xc8:/9+i\xb3A", b"\r\nWARC/1.1\r\nV\x1a\x86\xc1 no colon \xe7\x89a\xe5"],
    ids=["a-line-with-a-colon", "a-line-without"],
)
def test_bad_bytes_before_a_record_are_not_read_as_its_header(
    project_seeds_archive: tuple[Cli, Result], tmp_path: Path, inserted: bytes
) -> None:
    # A plain .warc: bytes inserted into the blank lines closing one record, shaped as a record's
    # first line and a line of bad bytes. warcio takes a line holding a colon for a header field
    # and drops one without (and the record's own first line after it), so the next record
    # seemed to start at the inserted version line.
    plain, data = _plain_seeds_copy(project_seeds_archive, tmp_path)
    before, after = plain.records[5], plain.records[6]
    plain.warc.write_bytes(data[: after.offset - 1] + inserted + data[after.offset - 1 :])

    scan = scan_file(plain.warc)
    moved = after.offset + len(inserted)
    [region] = scan.regions  # the record whose closing blank lines took the bytes
    assert (region.offset, region.end) == (before.offset, moved), region
    found = {r.record_id: r for r in scan.records}
    assert (found[after.record_id].offset, found[after.record_id].end) == (moved, after.end + len(inserted))


def test_bytes_cut_out_of_a_record_do_not_make_it_swallow_the_next(
    project_seeds_archive: tuple[Cli, Result], tmp_path: Path
) -> None:
    # A plain .warc: bytes cut out of a record's block, as many as the next record is long. The
    # record's Content-Length then ends exactly where the next record does, its digest fails,
    # and read so it would swallow that intact record.
    plain, data = _plain_seeds_copy(project_seeds_archive, tmp_path)
    pairs = zip(plain.records, plain.records[1:], strict=False)
    bad, after = next((a, b) for a, b in pairs if a.end - a.offset > 2 * (b.end - b.offset) + 600)
    cut = after.end - after.offset
    at = bad.end - cut - 300  # inside its block, well after its header
    plain.warc.write_bytes(data[:at] + data[at + cut :])

    scan = scan_file(plain.warc)
    [region] = scan.regions
    assert (region.offset, region.end) == (bad.offset, after.offset - cut), region
    assert "a whole record starts inside it" in region.reason
    found = {r.record_id: r for r in scan.records}
    assert (found[after.record_id].offset, found[after.record_id].end) == (after.offset - cut, after.end - cut)


def test_a_record_id_that_is_no_uri_makes_the_record_damaged(
    project_seeds_archive: tuple[Cli, Result], tmp_path: Path
) -> None:
    # Bytes inserted before a plain record (its place no longer where the catalog says) and
    # control bytes inside its id: the record reads whole under an id no URI looks like.
    plain, data = _plain_seeds_copy(project_seeds_archive, tmp_path)
    victim = plain.records[7]
    at = data.index(b"WARC-Record-ID: <urn:uuid:", victim.offset) + len("WARC-Record-ID: <urn:uuid:") + 4
    plain.warc.write_bytes(data[:at] + b"\x0b\x1f\x95" + data[at:])

    scan = scan_file(plain.warc)
    [region] = scan.regions
    assert (region.offset, region.end) == (victim.offset, victim.end + 3), region
    assert "WARC-Record-ID is no <URI>" in region.reason
    assert victim.record_id not in {r.record_id for r in scan.records}
    assert len(scan.records) == len(plain.records) - 1  # every other record reads whole


@pytest.mark.slow  # two repairs and a replay: 4 s
def test_repair_names_the_revisits_no_row_names_so_a_replay_writes_them_no_more(
    project_seeds_archive: tuple[Cli, Result], tmp_path: Path
) -> None:
    """A run killed before its commit, or an archive older than the revisits table, left revisit records unnamed."""
    cli = copy_archive(project_seeds_archive[0], tmp_path)
    _execute(cli, "DELETE FROM revisits")  # seeds/warc's one revisit, as an older archive holds it: no row
    dry = cli("repair", "--dry-run", check=True).out
    assert "0 capture(s) would be re-indexed from the WARC files, 1 revisit(s) would be named" in dry, dry
    assert "1 revisit(s) named" in cli("repair", check=True).out
    assert "0 revisit(s) named" in cli("repair", check=True).out  # named once
    library = "https://eastside-dispatch.example/community/library-hours"
    [version] = json.loads(cli("history", library, "--format", "json", check=True).out)
    assert version["revisits"] == [{"captured_at": "2025-05-28T10:16:00Z", "profile": "identical-payload-digest"}]
    files = warc_files(cli.data)
    again = cli("replay", str(PROJECT_SEEDS), check=True).out
    assert "1 revisit already in this archive" in again and warc_files(cli.data) == files, again
