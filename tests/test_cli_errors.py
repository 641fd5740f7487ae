"""Every mistake is one line and exit 2; names from inputs reach the terminal with their control characters escaped.

Each case runs the CLI in-process (the `cli` fixture) and reads what a user would see:
the exit status, exactly one `error:` line on stderr, and no traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from archive.catalog.facade import Catalog
from archive.catalog.schema import SCHEMA_REVISION
from archive.cli._common import bounded, shown, shown_text
from scraper.urls import redacted
from tests.conftest import PG_URL, Cli, Result, _postgres_reachable, copy_archive, need

PG = PG_URL.replace("+psycopg", "")
SCRAPER = [sys.executable, "-m", "archive.cli"]  # postgresql://postgres@127.0.0.1:5432/test


def one_error(result: Result) -> str:
    """Return the one `error:` line of a result that exited 2, having checked there is no other and no traceback."""
    assert result.code == 2, (result.code, result.err)
    assert "Traceback" not in result.err, result.err
    errors = [line for line in result.err.splitlines() if "error:" in line]
    assert len(errors) == 1, result.err
    return errors[0]


# --- catalog URLs -------------------------------------------------------------------------------

URL_MISTAKES = [
    ("notaurl", "catalog URL: notaurl: not a database URL"),
    ("mysql://me@127.0.0.1/archive", "catalog URL: mysql://me@127.0.0.1/archive: its database driver is not installed"),
    ("oracle+nothing://me@127.0.0.1/archive", "unsupported database 'oracle+nothing' (use sqlite:///FILE or"),
    (
        "postgresql://postgres@127.0.0.1:abc/test",
        "catalog URL: postgresql://postgres@127.0.0.1:abc/test: the port is not",
    ),
    ("postgresql://postgres:s3cret@127.0.0.1:1/test", "port 1 failed: Connection refused"),
    ("postgresql://postgres:s3cret@[::1/test", "postgresql://***@[::1/test: its host's '[' is not closed"),
    ("sqlite://", "catalog URL: sqlite://: a catalog in memory keeps nothing: use sqlite:///FILE"),
    ("sqlite:///", "catalog URL: sqlite:///: a catalog in memory keeps nothing"),
    ("sqlite:///:memory:", "catalog URL: sqlite:///:memory:: a catalog in memory keeps nothing"),
]
SERVER_MISTAKES = [
    (PG.replace("postgres@", "nobody_here@"), 'FATAL: role "nobody_here" does not exist'),
    (PG.replace("/test", "/no_such_database"), 'FATAL: database "no_such_database" does not exist'),
]


@pytest.mark.parametrize("command", ["crawls", "replay"])
def test_a_password_with_an_unencoded_at_sign_is_refused_and_not_shown(tmp_path: Path, command: str) -> None:
    # SQLAlchemy would end the password at the first '@' and send the rest to the server as its host name,
    # which the server's error message then repeats ("failed to resolve host 'tail9@127.0.0.1'").
    url = "postgresql://postgres:s3cret@tail9@127.0.0.1:1/test"
    done = Cli(cwd=tmp_path, data=tmp_path / "data", db=url)(command, *(["x.html"] if command == "replay" else []))
    assert "s3cret" not in done.out + done.err and "tail9" not in done.out + done.err, done.err
    assert "its user or password holds an unencoded '@': write it as %40" in done.err, done.err
    assert done.code == (2 if command == "crawls" else 1)  # a run that cannot start stops as a run does


@pytest.mark.parametrize(("url", "says"), URL_MISTAKES)
def test_a_catalog_url_that_cannot_work_is_one_line(tmp_path: Path, url: str, says: str) -> None:
    line = one_error(Cli(cwd=tmp_path, data=tmp_path / "data", db=url)("crawls"))
    assert line.startswith("error: catalog URL: "), line
    assert says in line, line
    assert "s3cret" not in line
    assert "Background on this error" not in line


@pytest.mark.parametrize(("url", "says"), [URL_MISTAKES[0], URL_MISTAKES[4], URL_MISTAKES[6]])
def test_serve_names_a_catalog_it_cannot_reach_before_it_starts(tmp_path: Path, url: str, says: str) -> None:
    """serve opens the catalog read-only, without migrating: a bad URL or a server down is still the one line."""
    line = one_error(Cli(cwd=tmp_path, data=tmp_path / "data", db=url)("serve", "--port", "1"))
    assert line.startswith("error: catalog URL: ") and says in line and "s3cret" not in line, line


def test_a_password_in_a_catalog_url_is_hidden(tmp_path: Path) -> None:
    line = one_error(Cli(tmp_path, tmp_path / "data", "postgresql://postgres:s3cret@127.0.0.1:1/test")("query"))
    assert line.startswith("error: catalog URL: postgresql://postgres:***@127.0.0.1:1/test: "), line


@pytest.mark.postgres
@pytest.mark.parametrize(("url", "says"), SERVER_MISTAKES)
def test_a_catalog_the_server_refuses_is_one_line(tmp_path: Path, url: str, says: str) -> None:
    problem = _postgres_reachable()
    need(problem is None, f"PostgreSQL not reachable at {PG_URL}: {problem}")
    line = one_error(Cli(cwd=tmp_path, data=tmp_path / "data", db=url)("crawls"))
    assert line.startswith(f"error: catalog URL: {url}: connection to server at "), line
    assert line.endswith(says), line


@pytest.mark.postgres
def test_postgres_scheme_works_as_postgresql(tmp_path: Path, postgres_url: str) -> None:
    url = postgres_url.replace("postgresql+psycopg://", "postgres://")
    result = Cli(cwd=tmp_path, data=tmp_path / "data", db=url)("crawls", "--format", "json")
    assert (result.code, result.err, json.loads(result.out)) == (0, "", [])


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("notaurl", "not a database URL"),
        ("postgresql://postgres:s3cret@127.0.0.1:1/test", "port 1 failed: Connection refused"),
    ],
)
def test_a_run_whose_catalog_cannot_open_stops_before_it_starts(cli: Cli, tmp_path: Path, url: str, says: str) -> None:
    result = cli("replay", "--db", url, str(tmp_path))
    assert result.code == 1
    assert "Traceback" not in result.err
    errors = [line for line in result.err.splitlines() if "error:" in line]
    assert len(errors) == 1 and errors[0].startswith(f"error: the run stopped: catalog URL: {redacted(url)}: ")
    assert says in result.err and "s3cret" not in result.err
    assert not cli.data.exists()


def _read_only(folder: Path) -> Iterator[str]:
    """Yield the URL of the SQLite catalog in `folder`, made immutable (chattr +i: read-only even to root)."""
    chattr = shutil.which("chattr")
    made = chattr and subprocess.run([chattr, "+i", str(folder)], capture_output=True, check=False).returncode == 0
    need(bool(made), "chattr +i (to make a folder read-only even to root) is not available here")
    try:
        yield f"sqlite:///{folder / 'catalog.sqlite'}"
    finally:
        subprocess.run([str(chattr), "-i", str(folder)], check=True)


@pytest.fixture
def read_only_catalog(tmp_path: Path) -> Iterator[str]:
    """Return the URL of a migrated SQLite catalog on read-only media."""
    folder = tmp_path / "catalog-media"
    folder.mkdir()
    catalog = Catalog(f"sqlite:///{folder / 'catalog.sqlite'}")
    catalog.migrate()
    catalog.close()
    yield from _read_only(folder)


def test_a_read_only_catalog_of_an_older_version_says_it_cannot_be_brought_up_to_date(cli: Cli, tmp_path: Path) -> None:
    """Read-only media cannot take the new schema: one line saying so (it named a lock file it could not find)."""
    from importlib import resources

    from alembic import command
    from alembic.config import Config

    folder = tmp_path / "old-media"
    folder.mkdir()
    catalog = Catalog(f"sqlite:///{folder / 'catalog.sqlite'}")
    catalog.migrate()
    config = Config()
    config.set_main_option("script_location", str(resources.files("archive.catalog") / "migrations"))
    with catalog.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0011")
    catalog.close()
    for url in _read_only(folder):
        line = one_error(cli("crawls", "--db", url))
        assert line == (
            f"error: catalog {folder / 'catalog.sqlite'} is at schema revision 0011, older than this version's"
            f" {SCHEMA_REVISION}, cannot be brought up to date here (its folder cannot be written: {folder}): run a"
            " catalog command once where its folder can be written, or work on a copy"
        ), line


def test_a_run_into_a_read_only_catalog_is_one_line(cli: Cli, read_only_catalog: str, tmp_path: Path) -> None:
    result = cli("replay", "--db", read_only_catalog, str(tmp_path))
    assert result.code == 1 and "Traceback" not in result.err
    where = read_only_catalog.removeprefix("sqlite:///")
    assert (
        result.err
        == f"error: the run stopped: catalog {where} is not writable (no write permission): a run writes to it\n"
    )


def test_a_read_only_catalog_can_still_be_read(cli: Cli, read_only_catalog: str) -> None:
    result = cli("crawls", "--db", read_only_catalog, "--format", "json")
    assert (result.code, result.err, json.loads(result.out)) == (0, "", [])


# --- no archive where one is read ---------------------------------------------------------------

READING = [
    ("query", "lighthouse"),
    ("show", "abcdef12"),
    ("crawls",),
    ("history", "https://example.org/"),
    ("similar", "abcdef12"),
    ("stories",),
    ("export",),
    ("verify",),
    ("repair",),
    ("index",),
    ("wacz",),
]


@pytest.mark.parametrize("args", READING, ids=[a[0] for a in READING])
def test_reading_a_mistyped_data_folder_says_so_and_creates_nothing(tmp_path: Path, args: tuple[str, ...]) -> None:
    typo = tmp_path / "dtaa"
    cli = Cli(cwd=tmp_path, data=typo, db="")  # no $SCRAPER_DB: the catalog is the one in the data folder
    assert one_error(cli(*args)) == f"error: no archive at {typo}"
    assert os.listdir(tmp_path) == []


def test_an_empty_data_folder_name_is_refused_and_an_empty_variable_is_unset(tmp_path: Path) -> None:
    """`--data ''` would be the current folder (a catalog made there); `SCRAPER_DATA=` is as good as unset."""
    cli = Cli(cwd=tmp_path, data=tmp_path / "data", db="")
    assert one_error(cli("verify", "--data", "")).startswith(
        "error: scraper verify: argument --data: an empty path names"
    )
    unset = subprocess.run(
        [*SCRAPER, "query"],
        cwd=tmp_path,
        env={**os.environ, "SCRAPER_DATA": "", "SCRAPER_DB": ""},
        capture_output=True,
        text=True,
        check=False,
    )
    assert (unset.returncode, unset.stderr) == (2, "error: no archive at data\n")
    assert os.listdir(tmp_path) == []


def test_reextract_enqueue_without_a_frontier_is_refused(archived: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SCRAPER_FRONTIER", raising=False)
    line = one_error(archived("reextract", "--enqueue"))
    assert line == "error: --enqueue queues the files for a shared frontier's workers: give --frontier URL too"


def test_reextract_with_no_archive_creates_none(tmp_path: Path) -> None:
    done = Cli(cwd=tmp_path, data=tmp_path / "data", db="")("reextract")
    assert done.code == 1 and done.err.strip() == f"error: the run stopped: no archive at {tmp_path / 'data'}"
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize(("level", "code"), [("debug", 0), ("Warning", 0), ("loud", 2)])
def test_the_log_level_variable_is_taken_in_any_case_and_a_wrong_one_named(
    cli: Cli, tmp_path: Path, level: str, code: int
) -> None:
    (tmp_path / "page.txt").write_text("A short capture.\n\n" + "The harbour ferry runs again today. " * 12)
    done = subprocess.run(
        [*SCRAPER, "replay", "--jobs", "1", str(tmp_path / "page.txt")],
        cwd=tmp_path,
        env={**os.environ, **cli.env(), "SCRAPER_LOG_LEVEL": level},
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == code and "Traceback" not in done.stderr, done.stderr
    if code:
        assert (
            done.stderr.strip()
            == f"error: SCRAPER_LOG_LEVEL={level}: not a log level (CRITICAL, ERROR, WARNING, INFO, DEBUG)"
        )
    else:
        assert "1 records written" in done.stdout, done.stdout


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="no /dev/full on this system to fill a disk with")
@pytest.mark.parametrize("args", [("export",), ("query", "--format", "jsonl"), ("crawls", "--format", "json")])
def test_output_to_a_full_disk_is_one_line(project_seeds_archive: tuple[Cli, object], args: tuple[str, ...]) -> None:
    cli = project_seeds_archive[0]
    with open("/dev/full", "w") as full:  # every write fails with ENOSPC; the device itself is left as it is
        done = subprocess.run(
            [*SCRAPER, *args],
            cwd=cli.cwd,
            env={**os.environ, **cli.env()},
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
            check=False,
        )
    assert (done.returncode, done.stderr) == (1, "error: cannot write the output: No space left on device\n")


def test_reading_a_missing_sqlite_catalog_says_so_and_creates_nothing(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    missing = tmp_path / "catalgo.sqlite"
    cli = Cli(cwd=tmp_path, data=tmp_path / "data", db=f"sqlite:///{missing}")
    assert one_error(cli("crawls")) == f"error: no archive at {missing}: no such catalog"
    assert os.listdir(tmp_path) == ["data"]
    assert os.listdir(tmp_path / "data") == []


# --- dates and numbers --------------------------------------------------------------------------

DATE_MISTAKES = [
    ("query", "--since", "2025-13-01", "argument --since: '2025-13-01' is not a date: month must be in 1..12"),
    ("query", "--since", "05/01/2025", "argument --since: '05/01/2025' is not a date YYYY-MM-DD"),
    ("query", "--until", "2025-02-30", "argument --until: '2025-02-30' is not a date: day is out of range for month"),
    ("stories", "--captured-since", "20250101", "argument --captured-since: '20250101' is not a date YYYY-MM-DD"),
]


@pytest.mark.parametrize(("command", "option", "value", "says"), DATE_MISTAKES)
def test_a_date_that_is_not_yyyy_mm_dd_is_refused(cli: Cli, command: str, option: str, value: str, says: str) -> None:
    assert (
        one_error(cli(command, option, value)) == f"error: scraper {command}: {says} (see `scraper {command} --help`)"
    )


def test_a_real_date_is_taken_as_given(tmp_path: Path, project_seeds_archive: tuple[Cli, object]) -> None:
    cli = copy_archive(project_seeds_archive[0], tmp_path / "copy")
    result = cli("query", "--since", "2025-03-14", "--until", "2025-03-14", "--format", "jsonl")
    published = {json.loads(line)["published"] for line in result.out.splitlines()}
    assert (result.code, published) == (0, {"2025-03-14"})


@pytest.mark.parametrize(
    ("given", "says"),
    [
        ("99999999999999999999", "argument --limit: 99999999999999999999 is out of range: 1 to 1,000,000"),
        ("0", "argument --limit: 0 is out of range: 1 to 1,000,000"),
        ("ten", "argument --limit: 'ten' is not a whole number"),
    ],
)
def test_a_bounded_number_refuses_what_is_out_of_range(
    given: str, says: str, capsys: pytest.CaptureFixture[str]
) -> None:
    parser = argparse.ArgumentParser(prog="scraper query")
    parser.add_argument("--limit", type=bounded(1, 1_000_000))
    with pytest.raises(SystemExit) as stopped:
        parser.parse_args(["--limit", given])
    assert stopped.value.code == 2
    assert capsys.readouterr().err.splitlines()[-1] == f"scraper query: error: {says}"
    assert parser.parse_args(["--limit", "1000000"]).limit == 1_000_000


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (
            ("crawl", "--depth", "99999999999999999999", "https://example.org/"),
            "argument --depth: 99999999999999999999 is out of range: 0 to 1,000",
        ),
        (
            ("crawl", "--concurrency", "0", "https://example.org/"),
            "argument --concurrency: 0 is out of range: 1 to 1,000",
        ),
        (
            ("crawl", "--max-pages", "0", "https://example.org/"),  # would crawl nothing, and say it did well
            "argument --max-pages: 0 is out of range: 1 to 1,000,000,000",
        ),
        (
            ("crawl", "--max-per-site", "0", "https://example.org/"),
            "argument --max-per-site: 0 is out of range: 1 to 1,000,000,000",
        ),
        (("enqueue", "--allow-domain", "", "https://example.org/"), "argument --allow-domain: '' names no domain"),
        (("reextract", "--jobs", "many"), "argument --jobs: 'many' is not a whole number"),
        (
            ("crawl", "--delay", "-1", "https://example.org/"),
            "argument --delay: -1 is out of range: 0 to 86400 seconds",
        ),
        (
            ("crawl", "--timeout", "nan", "https://example.org/"),
            "argument --timeout: nan is out of range: 0.001 to 86400 seconds",
        ),
        (
            ("crawl", "--timeout", "soon", "https://example.org/"),
            "argument --timeout: 'soon' is not a number of seconds",
        ),
    ],
)
def test_a_run_refuses_a_number_out_of_range(cli: Cli, args: tuple[str, ...], says: str) -> None:
    assert one_error(cli(*args)) == f"error: scraper {args[0]}: {says} (see `scraper {args[0]} --help`)"


# --- output paths -------------------------------------------------------------------------------


@pytest.fixture
def archived(tmp_path: Path, project_seeds_archive: tuple[Cli, object]) -> Cli:
    return copy_archive(project_seeds_archive[0], tmp_path / "copy")


@pytest.mark.parametrize(("fmt", "first"), [("jsonl", "{"), ("csv", "id,")])
def test_export_to_dash_is_standard_output(archived: Cli, fmt: str, first: str) -> None:
    result = archived("export", "--format", fmt, "--out", "-")
    assert result.code == 0, result.err
    assert result.out.startswith(first)
    assert not Path("-").exists() and not (archived.cwd / "-").exists()


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("export", "--format", "parquet", "--out", "-"), "--format parquet cannot stream to standard output"),
        (("wacz", "--out", "-"), "a WACZ file cannot stream to standard output"),
    ],
)
def test_a_format_that_cannot_stream_to_dash_is_refused(archived: Cli, args: tuple[str, ...], says: str) -> None:
    assert one_error(archived(*args)).startswith(f"error: {says}")
    assert not Path("-").exists()


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "parquet"])
def test_export_into_a_missing_folder_is_one_line(archived: Cli, fmt: str) -> None:
    out = archived.cwd / "MISSINGDIR" / f"x.{fmt}"
    assert one_error(archived("export", "--format", fmt, "--out", str(out))) == (
        f"error: cannot write {out}: No such file or directory"
    )
    assert not out.parent.exists()


# --- what reaches the terminal ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("plain name.txt", "plain name.txt"),
        ("é ü 中 ☃", "é ü 中 ☃"),
        ("a\nfailed: b", "a\\nfailed: b"),
        ("cr\rtab\t", "cr\\rtab\\t"),
        ("\x1b]0;title\x07\x1b[2J", "\\x1b]0;title\\x07\\x1b[2J"),
        ("nul\x00del\x7f", "nul\\x00del\\x7f"),
        ("c1 csi\x9b2J", "c1 csi\\x9b2J"),
        ("line\u2028sep", "line\\u2028sep"),
        ("undecodable \udcff", "undecodable \\xff"),
    ],
)
def test_shown_escapes_control_characters_only(text: str, expected: str) -> None:
    assert shown(text) == expected


def test_shown_text_keeps_line_breaks_and_escapes_the_rest() -> None:
    assert shown_text("Title\n\x1b[2Jbody\r\nend") == "Title\n\\x1b[2Jbody\\r\nend"


def test_an_error_naming_an_input_stays_one_line(cli: Cli, tmp_path: Path) -> None:
    out = tmp_path / "no\nsuch\x1b[2J" / "x.jsonl"
    (tmp_path / "data").mkdir()
    catalog = Catalog(cli.db)  # the archive exists: the mistake is the output path
    catalog.migrate()
    catalog.close()
    line = one_error(cli("export", "--out", str(out)))
    assert line == f"error: cannot write {tmp_path}/no\\nsuch\\x1b[2J/x.jsonl: No such file or directory"


@pytest.mark.slow
def test_a_file_named_like_a_failure_line_prints_one_escaped_line(cli: Cli, tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    evil = "evil\nfailed: spoofed line\n\x1b]0;owned\x07\x1b[2J.txt"
    (inbox / evil).write_bytes(b"")  # empty: it fails, and its failure line names it
    (inbox / "plain.txt").write_bytes(b"")
    result = cli("replay", str(inbox))
    assert result.code == 1
    assert "\x1b" not in result.err and "\x07" not in result.err and "\x1b" not in result.out
    failed = [line.strip() for line in result.err.splitlines() if line.strip().startswith("failed:")]
    assert sorted(failed) == [
        f"failed: {inbox}/evil\\nfailed: spoofed line\\n\\x1b]0;owned\\x07\\x1b[2J.txt: empty capture (no bytes)",
        f"failed: {inbox}/plain.txt: empty capture (no bytes)",
    ]


@pytest.mark.parametrize(
    "args",
    [
        ["query", "--limit", "99999999999999999999"],
        ["query", "--page", "0"],
        ["crawls", "--limit", "-1"],
        ["stories", "--limit", "99999999999999999999"],
        ["stories", "--min-size", "0"],
    ],
)
def test_the_catalog_commands_bound_their_counts(archived: Cli, args: list[str]) -> None:
    result = archived(*args)
    assert result.code == 2, result.out + result.err
    [line] = [line for line in result.err.splitlines() if "error:" in line]
    assert "is out of range: 1 to 1,000,000" in line and "Traceback" not in result.err


def test_a_page_title_with_escapes_and_markup_is_shown_inert(cli: Cli, tmp_path: Path) -> None:
    page = tmp_path / "inbox" / "page.html"
    page.parent.mkdir()
    title = "[bold]Harbour[/] \x1b]0;pwned\x07news\x1b[2J"
    body = "<p>" + "The harbour ferry timetable changes next week while the landing stage is repaired. " * 6 + "</p>"
    page.write_text(f"<html><head><title>{title}</title></head><body><article>{body}</article></body></html>")
    assert cli("replay", str(page.parent), "--jobs", "1").code == 0
    [hit] = json.loads(cli("query", "--format", "json").out)
    for args in (["query", "harbour"], ["show", hit["id"]]):
        result = cli(*args)
        assert result.code == 0, result.err
        assert "\x1b" not in result.out and "\x07" not in result.out, args
        assert "[bold]Harbour[/]" in result.out, args  # rich markup printed as text, not applied
