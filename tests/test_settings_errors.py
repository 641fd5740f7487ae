"""What a run is given (-s settings, crawl options, seeds, schedule jobs) is checked before it starts.

A mistake is one line naming the input and the reason, exit 2, and no run started. The CLI runs
in this process with the run itself replaced (archive.runner._run): what reaches it is the promise.
A few cases run the real command where the run, its catalog row or its log is the point.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from scrapy import Request
from twisted.python.failure import Failure

from tests.conftest import Cli, Result, crawl_rows
from tests.test_cli_errors import one_error

Started = dict[str, Any]  # what the run was started with: its settings, its spider's arguments


@pytest.fixture
def started(monkeypatch: pytest.MonkeyPatch) -> Started:
    """Replace the run by a record of what it was given; return that record (empty while none started)."""
    seen: Started = {}

    def run(settings: Any, spider: type, **kwargs: Any) -> dict[str, Any]:
        seen.update(settings=settings, spider=spider, **kwargs)
        return {}

    monkeypatch.setattr("archive.runner._run", run)
    return seen


def here(cli: Cli) -> Callable[..., Result]:
    """Return a function running the CLI in this process, as the `cli` fixture does for commands with no run."""
    return cli._in_process


# --- -s NAME=VALUE ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("setting", "read"),
    [
        ("ARCHIVE_JOBS=1", ("getint", 1)),
        ("ARCHIVE_SITE_EVIDENCE=off", ("get", "off")),
        ("REPLAY_MAX_CAPTURE_BYTES=4096", ("getint", 4096)),
        ("ARCHIVE_OPERATOR=Night Desk", ("get", "Night Desk")),
    ],
)
def test_a_setting_that_has_an_option_too_can_be_set(
    cli: Cli, tmp_path: Path, started: Started, setting: str, read: tuple[str, Any]
) -> None:
    (tmp_path / "page.txt").write_text("A page.\n", encoding="utf-8")
    done = here(cli)("replay", str(tmp_path / "page.txt"), "-s", setting)
    assert done.code == 0, done.err
    how, value = read
    assert getattr(started["settings"], how)(setting.partition("=")[0]) == value


def test_an_option_given_wins_over_its_setting_and_a_setting_over_the_default(
    cli: Cli, tmp_path: Path, started: Started
) -> None:
    (tmp_path / "page.txt").write_text("A page.\n", encoding="utf-8")
    done = here(cli)(
        "replay", str(tmp_path / "page.txt"), "--jobs", "2", "-s", "ARCHIVE_JOBS=1", "-s", "ARCHIVE_SITE_EVIDENCE=all"
    )
    assert done.code == 0, done.err
    assert started["settings"].getint("ARCHIVE_JOBS") == 2
    assert started["settings"].get("ARCHIVE_SITE_EVIDENCE") == "all"  # --site-evidence was not given


def test_a_switch_set_off_as_text_is_off(cli: Cli, tmp_path: Path, started: Started) -> None:
    (tmp_path / "page.txt").write_text("A page.\n", encoding="utf-8")
    done = here(cli)("replay", str(tmp_path / "page.txt"), "-s", "ARCHIVE_ABSOLUTE_PATHS=0")
    assert done.code == 0, done.err
    assert started["settings"].getdict("ARCHIVE_CRAWL_ARGS")["paths"] == ["page.txt"]  # no host path recorded


def test_a_crawl_takes_settings_as_a_replay_does(cli: Cli, started: Started) -> None:
    done = here(cli)(
        "crawl", "http://127.0.0.1:9/", "--concurrency", "3", "-s", "CONCURRENT_REQUESTS_PER_DOMAIN=5",
        "-s", "ARCHIVE_ALLOW_NETWORKS=127.0.0.1/32,::1", "-s", "USER_AGENT=desk-bot", "-s", "ARCHIVE_SITE_EVIDENCE=off", "-s", "ARCHIVE_PROGRESS=1",
    )  # fmt: skip
    assert done.code == 0, done.err
    settings = started["settings"]
    assert settings.getint("CONCURRENT_REQUESTS_PER_DOMAIN") == 3  # the option given wins
    assert settings.getlist("ARCHIVE_ALLOW_NETWORKS") == ["127.0.0.1/32", "::1"]
    assert settings.getdict("ARCHIVE_CRAWL_ARGS")["allow_networks"] == ["127.0.0.1/32", "::1"]  # as --resume reads it
    assert (settings.get("USER_AGENT"), settings.get("ARCHIVE_SITE_EVIDENCE")) == ("desk-bot", "off")
    assert settings.getbool("ARCHIVE_PROGRESS")  # over the CLI's own (on only when stderr is a terminal)


BAD_SETTINGS = [
    ("ARCHIVE_COMMIT_EVERY=abc", "not a whole number"),
    ("ARCHIVE_PROGRESS=maybe", "not true or false"),
    ("ARCHIVE_WARCINFO=notjson", "not a JSON object"),
    ("ARCHIVE_WARC_PREFIX=a/b", "not a part of a file name"),
    ("RETRY_BACKOFF_MAX=soon", "not a number of seconds"),
    ("ARCHIVE_SITE_EVIDENCE=some", "not one of off, text, all"),
    ("ARCHIVE_ALLOW_NETWORKS=garbage", "'garbage' is not a network"),
    ("ARCHIVE_JOBS=100000", "out of range"),
]


@pytest.mark.parametrize(("setting", "says"), BAD_SETTINGS)
def test_a_setting_of_ours_that_cannot_work_is_one_line(
    cli: Cli, tmp_path: Path, started: Started, setting: str, says: str
) -> None:
    (tmp_path / "page.txt").write_text("A page.\n", encoding="utf-8")
    line = one_error(here(cli)("replay", str(tmp_path / "page.txt"), "-s", setting))
    assert line.startswith(f"error: -s {setting}: {says}"), line
    assert not started


@pytest.mark.parametrize(
    ("setting", "says"),
    [
        ("ARCHIVE_COMIT_EVERY=5", "-s ARCHIVE_COMIT_EVERY: no such setting (did you mean ARCHIVE_COMMIT_EVERY?)"),
        ("REPLAY_MAX_BYTES=5", "-s REPLAY_MAX_BYTES: no such setting (did you mean REPLAY_MAX_CAPTURE_BYTES?)"),
        ("ARCHIVE_DATA_DIR=elsewhere", "-s ARCHIVE_DATA_DIR: set it with --data"),
        ("ARCHIVE_RESUME_CRAWL=abc", "-s ARCHIVE_RESUME_CRAWL: set it with --resume"),
    ],
)
def test_a_setting_name_of_ours_that_is_not_one_is_refused(cli: Cli, started: Started, setting: str, says: str) -> None:
    line = one_error(here(cli)("crawl", "http://127.0.0.1:9/", "-s", setting))
    assert line == f"error: {says}"
    assert not started


def _as_text(value: Any) -> str:
    """Return a setting's value as a user writes it after -s NAME=."""
    return json.dumps(value) if isinstance(value, (dict, list, bool)) else str(value)


def _read_or_why(given: dict[str, str]) -> dict[str, Any] | str:
    """Return the settings read, or why they were refused."""
    from archive.crawl.overrides import read_settings
    from archive.errors import UsageError

    try:
        return read_settings(given)
    except UsageError as exc:
        return str(exc)


def test_every_setting_of_ours_reads_back_its_own_default_and_refuses_nonsense(monkeypatch: pytest.MonkeyPatch) -> None:
    from scrapy.settings import SETTINGS_PRIORITIES
    from scrapy.utils.project import get_project_settings

    from archive.crawl.overrides import read_settings
    from archive.errors import UsageError

    monkeypatch.setenv("SCRAPY_SETTINGS_MODULE", "settings")
    project = get_project_settings()
    ours = [k for k in project if k.startswith(("ARCHIVE_", "REPLAY_", "RETRY_")) and project[k] is not None]
    ours = [k for k in ours if project.getpriority(k) == SETTINGS_PRIORITIES["project"]]  # declared in settings.py
    assert {"ARCHIVE_COMMIT_EVERY", "ARCHIVE_WARCINFO", "RETRY_BACKOFF_BASE"} <= set(ours)
    for key in ours:
        default = project[key]
        read = _read_or_why({key: _as_text(default)})
        if isinstance(read, str):  # where the data, catalog and frontier are: the command line's own options
            assert read.startswith(f"-s {key}: set it with --"), read
            continue
        assert read == {key: default}, key
        if not isinstance(default, str) or key in ("ARCHIVE_WARC_PREFIX", "ARCHIVE_SITE_EVIDENCE"):
            with pytest.raises(UsageError, match=f"^-s {key}=/\\?: .*not "):
                read_settings({key: "/?"})
    assert read_settings({"DOWNLOAD_DELAY": "2", "SOME_EXTENSION_SETTING": "x"}) == {
        "DOWNLOAD_DELAY": "2",  # Scrapy's own, and others', pass as given: Scrapy reads them
        "SOME_EXTENSION_SETTING": "x",
    }


# --- crawl options and seeds ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("--allow", "["), "argument --allow: '[' is not a regular expression: unterminated character set"),
        (("--deny", "a(b"), "argument --deny: 'a(b' is not a regular expression: missing ), unterminated"),
        (("--allow-network", "garbage"), "argument --allow-network: 'garbage' is not a network: give a CIDR"),
    ],
)
def test_a_crawl_option_that_cannot_work_is_a_usage_error(
    cli: Cli, started: Started, args: tuple[str, ...], says: str
) -> None:
    line = one_error(here(cli)("crawl", "http://127.0.0.1:9/", *args))
    assert "scraper crawl" in line and says in line, line  # the command, the option and why
    assert not started


BAD_PORTS = ["http://127.0.0.1:99999/", "http://127.0.0.1:abc/", "https://news.example:-1/"]


@pytest.mark.parametrize("url", BAD_PORTS)
def test_a_seed_with_a_port_that_is_no_port_is_refused_before_the_run(cli: Cli, started: Started, url: str) -> None:
    line = one_error(here(cli)("crawl", "http://127.0.0.1:9/", url))
    assert line.startswith(f"error: command line: not a URL: '{url}' ("), line
    assert not started


def test_a_seed_file_line_with_a_bad_port_is_named_by_file_and_line(cli: Cli, tmp_path: Path, started: Started) -> None:
    seeds = tmp_path / "seeds.txt"
    seeds.write_text("http://127.0.0.1:9/\nhttp://127.0.0.1:abc/ depth=1\n", encoding="utf-8")
    line = one_error(here(cli)("crawl", "--seeds", str(seeds)))
    assert line.startswith(f"error: {seeds}:2: not a URL: 'http://127.0.0.1:abc/' ("), line
    assert not started


def test_a_seed_password_is_not_shown_when_the_seed_is_refused(cli: Cli, started: Started) -> None:
    done = here(cli)("crawl", "http://reader:s3cret@127.0.0.1:99999/")
    line = one_error(done)
    assert "reader:***@127.0.0.1:99999" in line, line
    assert "s3cret" not in done.out + done.err


def test_a_seed_file_that_starts_with_a_byte_order_mark_is_read(cli: Cli, tmp_path: Path, started: Started) -> None:
    seeds = tmp_path / "seeds.txt"
    seeds.write_bytes(b"\xef\xbb\xbfhttp://127.0.0.1:9/ page\n")  # as Windows editors save UTF-8
    done = here(cli)("crawl", "--seeds", str(seeds))
    assert done.code == 0, done.err
    assert [(s.url, s.kind) for s in started["seeds"]] == [("http://127.0.0.1:9/", "page")]


def test_a_failed_fetch_does_not_show_the_seed_password() -> None:
    from spiders.site import SiteSpider

    url = "http://reader:s3cret@127.0.0.1:9/"
    failure = Failure(ValueError("invalid hostname: reader:s3cret@127.0.0.1"))
    failure.request = Request(url, meta={"from_seed": True})  # type: ignore[attr-defined]  # as Scrapy sets it
    [failed] = SiteSpider(name="site").on_error(failure)
    assert (failed.source, failed.reason) == (
        "http://reader:***@127.0.0.1:9/",
        "invalid hostname: reader:***@127.0.0.1",
    )


@pytest.mark.slow  # a real crawl, in a process of its own: its log is the point
def test_a_refused_connection_is_one_failed_line_with_no_log_errors_and_no_password(cli: Cli) -> None:
    done = cli(
        "crawl", "http://127.0.0.1:9/", "--allow-network", "127.0.0.1/32",
        "--retries", "1", "--delay", "0", "--timeout", "3",
    )  # fmt: skip
    assert done.code == 1, done.err
    assert [line for line in done.err.splitlines() if " ERROR: " in line or " WARNING: " in line] == []
    failed = sorted(line for line in done.err.splitlines() if line.startswith("  failed: "))
    assert [line.split(": ")[1] for line in failed] == ["http://127.0.0.1:9/"]
    # A seed with a password is refused before the crawl (Scrapy would take it for the host), the password hidden.
    refused = cli("crawl", "http://reader:s3cret@127.0.0.1:9/other", "--allow-network", "127.0.0.1/32")
    assert one_error(refused).startswith("error: command line: 'http://reader:***@127.0.0.1:9/other': a user or")
    assert "s3cret" not in refused.out + refused.err and len(crawl_rows(cli.db)) == 1  # no run made for it


def test_a_crawl_refused_for_a_bad_seed_leaves_no_run_to_resume(cli: Cli) -> None:
    done = cli("crawl", "http://127.0.0.1:99999/", "--allow-network", "127.0.0.1/32")
    assert one_error(done).startswith("error: command line: not a URL: 'http://127.0.0.1:99999/'")
    assert crawl_rows(cli.db) == []


def test_a_crawl_recorded_with_a_bad_seed_before_seeds_were_checked_is_refused_on_resume(cli: Cli) -> None:
    """An older version stored such a seed and left the run interrupted: resuming it crashed in Scrapy."""
    from archive.catalog.facade import Catalog

    catalog = Catalog(cli.db)
    try:
        catalog.migrate()
        seed = {"url": "http://127.0.0.1:99999/", "kind": "auto", "depth": None, "max_pages": None}
        run = catalog.start_crawl("crawl", {"command": "crawl", "seeds": [seed]})
        catalog.finish_crawl(run, "interrupted", {})
    finally:
        catalog.close()
    done = cli("crawl", "--resume", run[:8], "--allow-network", "127.0.0.1/32")
    assert one_error(done) == (
        f"error: crawl {run[:8]}'s seed (it cannot be resumed): not a URL: 'http://127.0.0.1:99999/'"
        " (Port out of range 0-65535)"
    )


# --- schedule files ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("job", "says"),
    [
        ('seeds = "http://127.0.0.1:9/"', 'seeds must be a list of URLs, as seeds = ["https://news.example/"]'),
        ('seeds = ["http://127.0.0.1:9/"]\nargs = ["--bogus"]', "unrecognized arguments: --bogus"),
        ('seeds = ["http://127.0.0.1:9/"]\ndepth = -3', "argument --depth: -3 is out of range: 0 to 1,000"),
        ('seeds = ["http://127.0.0.1:9/"]\nargs = ["--allow", "["]', "argument --allow: '[' is not a regular"),
        ('seeds = ["http://127.0.0.1:9/"]\nargs = ["-s", "ARCHIVE_JOBS=x"]', "-s ARCHIVE_JOBS=x: not a whole number"),
    ],
)
def test_a_schedule_job_that_cannot_run_is_named_with_its_file(cli: Cli, tmp_path: Path, job: str, says: str) -> None:
    schedule = tmp_path / "schedule.toml"
    schedule.write_text(f'[jobs.ok]\nseeds = ["http://127.0.0.1:9/"]\nevery = "1h"\n[jobs.news]\n{job}\nevery = "1h"\n')
    line = one_error(here(cli)("schedule", str(schedule), "--once"))
    assert line.startswith(f"error: {schedule}: jobs.news: {says}"), line
    assert not cli.data.exists() or crawl_rows(cli.db) == []  # no job ran, not even the good one
