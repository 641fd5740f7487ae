"""Exit statuses that mean something (docs/cli.md#exit-status), and what a run met, listed by `crawls RUN`.

0: the run did its job; 1: inputs failed (named; all of them kept for `crawls RUN`); 2: usage,
with the mistyped command's own usage; 130: interrupted, with how to go on. The crawl's side
(a site's 404s counted, not failed; Ctrl-C exits 130 with the resume command) is run for real in
test_crawl.py and test_crawl_clock.py.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
from pathlib import Path

import pytest

from archive.catalog.facade import Catalog
from archive.cli._common import EXIT_INTERRUPTED, FAILURES_SHOWN, print_summary
from tests.conftest import Cli

SEEDS = Path(__file__).resolve().parent.parent / "seeds"
EMPTY = 60  # more than a summary prints


def test_a_replay_names_its_failures_and_crawls_lists_every_one(cli_any_db: Cli, tmp_path: Path) -> None:
    inputs = tmp_path / "inputs"
    shutil.copytree(SEEDS / "html", inputs)
    good = len(list(inputs.iterdir()))
    for number in range(EMPTY):
        (inputs / f"empty-{number:02}.html").write_bytes(b"")
    done = cli_any_db("replay", str(inputs))
    assert done.code == 1, done.out + done.err  # inputs the user gave failed: theirs to look at
    assert f"{good} records written" in done.out and f"{EMPTY} failed" in done.out  # the rest went on
    printed = [line for line in done.err.splitlines() if line.startswith("  failed: ")]
    assert len(printed) == FAILURES_SHOWN and all("empty-" in line for line in printed), done.err
    run = json.loads(cli_any_db("crawls", "--format", "json", check=True).out)[0]
    assert f"  ... and {EMPTY - FAILURES_SHOWN} more failed: scraper crawls {run['id'][:8]} lists them all" in done.err

    listed = cli_any_db("crawls", run["id"][:8], check=True).out
    assert f"{EMPTY} failed, 0 HTTP error(s)" in listed
    named = re.findall(r"^  failed: .*(empty-\d\d\.html): (.+)$", listed, flags=re.MULTILINE)
    assert sorted(name for name, _ in named) == [f"empty-{n:02}.html" for n in range(EMPTY)]
    assert all(reason.strip() for _, reason in named)
    problems = json.loads(cli_any_db("crawls", "latest", "--format", "json", check=True).out)["problems"]
    assert {(p["kind"], p["status"]) for p in problems} == {("failed", None)} and len(problems) == EMPTY


def test_a_run_that_met_nothing_lists_nothing_and_an_unknown_run_is_not_found(cli: Cli) -> None:
    cli("replay", str(SEEDS / "text"), check=True)
    run = json.loads(cli("crawls", "--format", "json", check=True).out)[0]
    assert run["counts"]["failed"] == 0
    assert "0 failed, 0 HTTP error(s)" in cli("crawls", run["id"], check=True).out
    missing = cli("crawls", "abcdef12")
    assert missing.code == 1 and "error: no run abcdef12" in missing.err


@pytest.mark.parametrize(
    ("argv", "command", "says"),
    [
        (["crawl", "--maxpages", "3", "http://example.org/"], "crawl", "unrecognized arguments: --maxpages"),
        (["query", "--limt", "3", "ferry"], "query", "unrecognized arguments: --limt"),
        (["extract", "--formt", "json", "x.html"], "extract", "unrecognized arguments: --formt"),
        (["replay", "--jobs", "0", "x.html"], "replay", "argument --jobs: 0 is out of range: 1 to 1,024"),
        (["replay", "--max-capture-bytes", "-5", "x.html"], "replay", "argument --max-capture-bytes: -5 is out"),
    ],
)
def test_a_mistyped_option_is_one_line_naming_its_command(cli: Cli, argv: list[str], command: str, says: str) -> None:
    done = cli(*argv)
    assert done.code == 2 and "Traceback" not in done.err, done.err
    [line] = done.err.splitlines()  # not the command's whole usage first (18 lines for crawl)
    assert line.startswith(f"error: scraper {command}: {says}"), line
    assert line.endswith(f"(see `scraper {command} --help`)"), line
    assert not (cli.data).exists()  # refused before anything was made


def _summary(tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str, **stats: object) -> tuple[int, str]:
    args = argparse.Namespace(data=tmp_path / "data", db=f"sqlite:///{tmp_path / 'catalog.sqlite'}")
    catalog = Catalog(args.db)  # the summary ends with the catalog's counts: a run made it
    catalog.migrate()
    catalog.close()
    status = print_summary({"archive/crawl_id": "1f2e3d4c-0000-4000-8000-000000000000", **stats}, args, command)
    return status, capsys.readouterr().err


def test_an_interrupted_run_exits_130_and_says_how_to_go_on(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, err = _summary(tmp_path, capsys, "crawl", finish_reason="shutdown")
    assert status == EXIT_INTERRUPTED == 130
    data = tmp_path / "data"
    assert f"interrupted: resume with: scraper crawl --resume 1f2e3d4c --data {data} --db sqlite:///" in err
    status, err = _summary(tmp_path, capsys, "replay", finish_reason="shutdown", **{"archive/failed": 3})
    assert status == 130 and "interrupted: run the same replay again to finish it" in err
    status, err = _summary(tmp_path, capsys, "crawl", finish_reason="shutdown", **{"frontier/worker": "w1"})
    assert status == 130 and "interrupted: the frontier keeps its crawls: start a worker again" in err
    # A run that ended on its own: 1 when inputs failed, else 0, and no word of interruption.
    assert _summary(tmp_path, capsys, "crawl", finish_reason="finished", **{"archive/failed": 2})[0] == 1
    status, err = _summary(tmp_path, capsys, "crawl", finish_reason="finished", **{"archive/http_errors": 4})
    assert status == 0 and "interrupted" not in err
