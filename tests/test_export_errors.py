"""`export`, `index` and `wacz` on outputs that are no plain new file, on damaged WARC files, on full disks.

Each test changes a copy of the session's replay of seeds/ (SQLite). What a user sees is
checked: the exit status, one line on stderr naming the input and the reason, no traceback,
and what is left on disk: the file written whole or not at all, no temporary file beside it.
"""

from __future__ import annotations

import io
import json
import os
import resource
import select
import signal
import stat
import subprocess
import sys
import threading
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
from warcio.archiveiterator import ArchiveIterator

from archive.catalog.facade import Catalog
from tests.conftest import PROJECT_SEEDS, Cli, Result, copy_archive, warc_files

SCRAPER = [sys.executable, "-m", "archive.cli"]
# The commands that write an --out file, each with what it needs to write one of the kind at hand.
WRITERS = {
    "index": ("index",),
    "wacz": ("wacz",),
    "parquet": ("export", "--format", "parquet"),
    "jsonl": ("export", "--format", "jsonl"),
}


@pytest.fixture
def cli(project_seeds_archive: tuple[Cli, Result], tmp_path: Path) -> Cli:
    """A copy of the session's replay of seeds/, this test's to change."""
    return copy_archive(project_seeds_archive[0], tmp_path / "copy")


def _one_line(result: Result, code: int) -> str:
    """Return the one line on stderr of a result that exited `code`, having checked there is no other."""
    assert result.code == code, (result.code, result.out, result.err)
    assert "Traceback" not in result.err, result.err
    lines = result.err.splitlines()
    assert len(lines) == 1, result.err
    return lines[0]


def _indexed(cli: Cli, index: Path) -> list[dict[str, str]]:
    """Return the index's entries, each checked to point at a WARC record that warcio reads there whole."""
    entries = []
    for line in index.read_text(encoding="utf-8").splitlines():
        entry = json.loads(line.split(" ", 2)[2])
        with (cli.data / "warc" / entry["filename"]).open("rb") as fh:
            fh.seek(int(entry["offset"]))
            record = next(iter(ArchiveIterator(fh)))
            assert record.rec_headers.get_header("WARC-Target-URI") == entry["url"], entry
            record.content_stream().read()  # the whole record, to its end
        entries.append(entry)
    return entries


# --- an --out that is no regular file: a link, a FIFO, a directory -----------------------------


@pytest.mark.parametrize("writer", ["index", "wacz", "parquet"])
def test_an_out_through_a_symlink_replaces_the_file_it_points_at_and_keeps_the_link(
    cli: Cli, tmp_path: Path, writer: str
) -> None:
    (tmp_path / "kept").mkdir()
    target, link = tmp_path / "kept" / "real", tmp_path / "link"
    target.write_bytes(b"the file before\n")
    link.symlink_to(target)
    done = cli(*WRITERS[writer], "--out", str(link))
    assert done.code == 0, done.err
    assert link.is_symlink() and os.readlink(link) == str(target)  # the link is still a link, to the same file
    assert target.stat().st_size > 100 and not target.read_bytes().startswith(b"the file before")
    assert os.listdir(tmp_path / "kept") == ["real"]  # no temporary file beside it


def _drained(fifo: Path, run: Callable[[], Result]) -> tuple[Result, bytes]:
    """Run `run` while a thread reads `fifo`; return its result and the bytes that came through the FIFO."""
    fd = os.open(fifo, os.O_RDWR | os.O_NONBLOCK)  # a reader from the start: the writer's open does not wait
    chunks: list[bytes] = []
    finished = threading.Event()

    def drain() -> None:
        while True:
            ready, _, _ = select.select([fd], [], [], 0.05)
            if ready:
                chunks.append(os.read(fd, 1 << 16))
            elif finished.is_set():
                return

    reader = threading.Thread(target=drain)
    reader.start()
    try:
        result = run()
    finally:
        finished.set()
        reader.join(timeout=30)
        os.close(fd)
    return result, b"".join(chunks)


@pytest.mark.parametrize("redirect", ["ab", "wb"])
def test_an_out_of_dev_stdout_writes_into_what_standard_output_was_redirected_to(
    cli: Cli, tmp_path: Path, redirect: str
) -> None:
    """`--out /dev/stdout >> log` appends; `> log` holds the index, then the summary after it (one file offset)."""
    log = tmp_path / "log.txt"
    log.write_bytes(b"PREV\n")
    with log.open(redirect) as stdout:
        done = subprocess.run(
            [sys.executable, "-m", "archive.cli", "index", "--out", "/dev/stdout"],
            cwd=cli.cwd, env={**os.environ, **cli.env()}, stdout=stdout, stderr=subprocess.PIPE, check=False,
        )  # fmt: skip
    assert done.returncode == 0, done.stderr
    lines = log.read_text().splitlines()
    kept = ["PREV"] if redirect == "ab" else []
    assert (
        lines[: len(kept)] == kept
        and lines[-1] == f"indexed {len(lines) - len(kept) - 1} WARC record(s) into /dev/stdout"
    )
    assert len(lines) > 10 and all(
        line.count(" ") >= 2 and line.split(" ")[2].startswith("{") for line in lines[len(kept) : -1]
    )


@pytest.mark.parametrize("writer", ["index", "wacz"])
def test_an_out_that_is_a_fifo_is_written_into_not_replaced(cli: Cli, tmp_path: Path, writer: str) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    done, came = _drained(fifo, lambda: cli(writer, "--out", str(fifo)))
    assert done.code == 0, done.err
    assert stat.S_ISFIFO(fifo.stat().st_mode)  # still the FIFO, not a file renamed over it
    assert sorted(os.listdir(tmp_path)) == ["copy", "pipe"]
    if writer == "index":
        assert done.out.startswith(f"indexed {len(came.splitlines())} WARC record(s)") and came.count(b"\n") > 10
    else:
        with zipfile.ZipFile(io.BytesIO(came)) as package:  # a ZIP written without seeking
            assert package.testzip() is None and "datapackage.json" in package.namelist()


@pytest.mark.parametrize("writer", ["index", "wacz", "parquet"])
def test_an_out_that_is_a_directory_is_one_line_and_leaves_nothing(cli: Cli, tmp_path: Path, writer: str) -> None:
    folder = tmp_path / "adir"
    folder.mkdir()
    line = _one_line(cli(*WRITERS[writer], "--out", str(folder)), 2)
    assert line == f"error: cannot write {folder}: Is a directory"
    assert sorted(os.listdir(tmp_path)) == ["adir", "copy"] and os.listdir(folder) == []


@pytest.mark.parametrize("writer", ["index", "wacz"])
def test_a_read_only_data_folder_is_one_line_and_leaves_nothing(cli: Cli, writer: str) -> None:
    before = sorted(os.listdir(cli.data))
    cli.data.chmod(0o555)
    try:
        done = cli.as_owner(writer)
    finally:
        cli.data.chmod(0o755)
    [run] = json.loads(cli("crawls", "--format", "json", check=True).out)
    where = cli.data / "indexes" / "index.cdxj" if writer == "index" else cli.data / "wacz" / f"{run['id']}.wacz"
    assert _one_line(done, 2) == f"error: cannot write {where}: Permission denied"
    assert sorted(os.listdir(cli.data)) == before


# --- a folder that is not there ------------------------------------------------------------------


@pytest.mark.parametrize("writer", ["index", "wacz"])
def test_an_out_in_a_missing_folder_is_refused_as_export_refuses_it(cli: Cli, tmp_path: Path, writer: str) -> None:
    out = tmp_path / "no" / "such" / "out.file"
    line = _one_line(cli(writer, "--out", str(out)), 2)
    assert line == f"error: cannot write {out}: No such file or directory"
    assert not (tmp_path / "no").exists()


# --- damaged WARC files --------------------------------------------------------------------------


def _damage(cli: Cli, kind: str) -> tuple[Path, str]:
    """Damage the archive one way; return the damaged file and the line that must name it."""
    warc = cli.data / "warc"
    if kind == "stray":  # random bytes named like a WARC file
        stray = warc / "stray.warc.gz"
        stray.write_bytes(bytes(range(256)) * 20)
        return stray, f"left out: {stray}: offset 0, 5120 bytes: damaged (bad bytes): no gzip member starts here"
    [real] = warc_files(cli.data)
    real.write_bytes(real.read_bytes()[:30000])  # `head -c 30000`: cut inside a record's gzip member
    return real, f"left out: {real}: offset "


@pytest.mark.parametrize("kind", ["stray", "cut"])
def test_index_names_a_damaged_warc_file_and_indexes_what_reads_whole(cli: Cli, kind: str) -> None:
    sound = cli("index", check=True)
    whole = len(_indexed(cli, cli.data / "indexes" / "index.cdxj"))
    _, says = _damage(cli, kind)
    done = cli("index")
    line = _one_line(done, 1)
    assert line.startswith(says), line
    entries = _indexed(cli, cli.data / "indexes" / "index.cdxj")  # each line at a record that reads whole
    assert done.out == f"indexed {len(entries)} WARC record(s) into {cli.data / 'indexes' / 'index.cdxj'}\n"
    if kind == "stray":
        assert done.out == sound.out and len(entries) == whole  # the sound file indexed as before
    else:
        assert line.endswith("bytes: cut short: the file ends inside a gzip member"), line
        assert 0 < len(entries) < whole  # what comes before the cut, not a line more
    assert os.listdir(cli.data / "indexes") == ["index.cdxj"]


@pytest.mark.parametrize("kind", ["stray", "cut"])
def test_wacz_names_a_damaged_warc_file_and_packages_what_reads_whole(cli: Cli, tmp_path: Path, kind: str) -> None:
    damaged, says = _damage(cli, kind)
    out = tmp_path / "run.wacz"
    done = cli("wacz", "--out", str(out))
    line = _one_line(done, 1)
    [real] = [p for p in warc_files(cli.data) if p.name != "stray.warc.gz"]
    with zipfile.ZipFile(out) as package:
        members = package.namelist()
        lines = package.read("pages/pages.jsonl").splitlines()
    assert f"archive/{real.name}" in members and "archive/stray.warc.gz" not in members
    if kind == "stray":
        assert line == (
            f"left out: {damaged}: its first record is damaged (no gzip member starts here): "
            "it may be part of the run; not packaged"
        )
        assert "12 page(s), 37 index line(s)" in done.out, done.out
    else:
        assert line.startswith(says) and line.endswith("cut short: the file ends inside a gzip member"), line
        assert 1 < len(lines) < 13, lines  # the pages whose records come before the cut


def test_an_unreadable_warc_file_is_named_by_index_and_wacz(cli: Cli) -> None:
    [warc] = warc_files(cli.data)
    warc.chmod(0)
    try:
        indexed, packaged = cli.as_owner("index"), cli.as_owner("wacz")
    finally:
        warc.chmod(0o644)
    assert _one_line(indexed, 1) == f"left out: {warc}: cannot be read: Permission denied"
    assert indexed.out.startswith("indexed 0 WARC record(s)"), indexed.out
    [run] = json.loads(cli("crawls", "--format", "json", check=True).out)
    assert _one_line(packaged, 1) == (
        f"error: run {run['id']} has no WARC files in {cli.data / 'warc'} that can be read: "
        f"{warc}: cannot be read: Permission denied"
    )


def test_damage_that_repair_set_aside_is_left_out_and_no_longer_an_error(cli: Cli) -> None:
    """As for `verify`: once `scraper repair` set a damaged stretch aside, it is known, not a problem."""
    _damage(cli, "cut")
    assert cli("repair").code == 1  # the stretch is set aside; the captures it held cannot be mended
    done = cli("index")
    assert (done.code, done.err) == (0, ""), done.err
    assert "left out: 1 damaged stretch(es) `scraper repair` set aside" in done.out, done.out


# --- a full disk ---------------------------------------------------------------------------------


def _file_size_limit(limit: int) -> Callable[[], None]:
    def limited() -> None:  # in the child: writes past `limit` bytes fail with EFBIG, as on a full disk
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return limited


# Below each output's size; above the 32 KiB a SQLite catalog's WAL index needs (index opens no catalog).
ROOM = [("jsonl", 33_000), ("index", 8_192), ("wacz", 33_000)]


@pytest.mark.parametrize(("writer", "room"), ROOM)
def test_an_out_that_finds_no_room_is_one_line_and_the_file_before_is_kept(
    cli: Cli, tmp_path: Path, writer: str, room: int
) -> None:
    out = tmp_path / "out.file"
    out.write_bytes(b"the file before\n")
    done = subprocess.run(
        [*SCRAPER, *WRITERS[writer], "--out", str(out)],
        cwd=cli.cwd,
        env={**os.environ, **cli.env()},
        capture_output=True,
        text=True,
        check=False,
        preexec_fn=_file_size_limit(room),
    )
    assert (done.returncode, done.stderr) == (1, f"error: cannot write {out}: File too large\n")
    assert out.read_bytes() == b"the file before\n"
    assert sorted(os.listdir(tmp_path)) == ["copy", "out.file"]  # no partial file beside it


# --- no run to package ---------------------------------------------------------------------------


def test_wacz_on_an_archive_with_no_run_says_so(tmp_path: Path, sqlite_url: str) -> None:
    cli = Cli(cwd=tmp_path, data=tmp_path / "data", db=sqlite_url)
    (tmp_path / "data").mkdir()
    catalog = Catalog(cli.db)
    catalog.migrate()
    catalog.close()
    assert _one_line(cli("wacz"), 1) == "error: the catalog holds no run: nothing to package"
    assert os.listdir(tmp_path / "data") == []


def test_a_page_whose_raw_record_is_in_a_file_left_out_is_no_page_of_the_package(tmp_path: Path) -> None:
    """A re-extraction's pages point into an earlier file: if that one cannot be read, they would replay nothing."""
    from archive.export._pages import Extraction, RunRecords
    from archive.export.wacz import _pages

    run = RunRecords()
    for name in ("kept.warc.gz", "gone.warc.gz"):
        record = {"id": name[:4], "title": name, "provenance": {"warc_raw": {"file": name, "offset": 0}}}
        run.extractions[name] = Extraction(record, "text", f"https://news.example/{name}", "2026-01-02T03:04:05Z")
    assert [p["title"] for p in _pages(run, {}, tmp_path)] == ["kept.warc.gz", "gone.warc.gz"]
    assert [p["title"] for p in _pages(run, {}, tmp_path, {"gone.warc.gz"})] == ["kept.warc.gz"]


@pytest.mark.slow  # a second replay of seeds/: 4 s
def test_wacz_of_a_run_that_archived_nothing_new_says_so_and_names_the_way(cli: Cli) -> None:
    """The newest run replayed what the archive held already: it wrote no file, which is not a missing file."""
    cli("replay", str(PROJECT_SEEDS), check=True)  # 12 unchanged, the revisit already here: no WARC file
    [latest, first] = json.loads(cli("crawls", "--format", "json", check=True).out)
    assert _one_line(cli("wacz"), 1) == (
        f"error: run {latest['id']} archived nothing new (12 unchanged): it wrote no WARC file to package;"
        " give --crawl RUN of a run that did (see `scraper crawls`)"
    )
    assert cli("wacz", "--crawl", first["id"][:8]).code == 0
