"""Hostile replay inputs: every one named once with its reason, the rest archived, memory bounded.

One batch holds a capture of each hostile kind beside good ones and is replayed once per
database; each test reads that run for its kind. The batch runs without the power to read
what its owner may not (as root: CAP_DAC_OVERRIDE dropped with setpriv), so an unreadable
folder is unreadable. Peak memory is the replay process's own, measured by a parent that
waits for it (RUSAGE_CHILDREN).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote_to_bytes

import pytest
from warcio.archiveiterator import ArchiveIterator

from tests.conftest import (
    BOTH_DATABASES,
    NO_DAC,
    PROJECT_SEEDS,
    Cli,
    Result,
    need,
    postgres_schema,
    warc_files,
    warcio_check,
)
from tests.hostile import gzip_bomb, warc_bomb

GOOD_TEXT = PROJECT_SEEDS / "text" / "ferry-strike.txt"
GOOD_HTML = PROJECT_SEEDS / "html" / "harbor-lighthouse.html"
BAD_NAME = os.fsdecode(b"badname\xff\xfe.txt")
LIMIT = 1_000_000
MIB = 1 << 20
RSS_LIMIT_MIB = 600
# Runs its command as a child and writes the child's peak resident set (KiB on Linux) to argv[1].
_MEASURE = (
    "import resource, subprocess, sys\n"
    "code = subprocess.call(sys.argv[2:])\n"
    "with open(sys.argv[1], 'w') as out:\n"
    "    out.write(str(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss))\n"
    "sys.exit(code)\n"
)


@dataclass
class Measured:
    result: Result
    peak_mib: float


def _replay(cli: Cli, *args: str, as_owner: bool = False) -> Measured:
    """Run `scraper replay ARGS --jobs 1` in a process of its own; return its result and peak RSS.

    `as_owner`: without the root's power to read what mode bits forbid (setpriv), when root.
    """
    command = [sys.executable, "-m", "archive.cli", "replay", *args, "--jobs", "1"]
    if as_owner and os.geteuid() == 0:
        setpriv = shutil.which("setpriv")
        need(setpriv is not None, "setpriv (util-linux) is needed to drop root's read override")
        command = [str(setpriv), *NO_DAC, *command]
    peak = cli.cwd / f"peak-{os.getpid()}.txt"
    proc = subprocess.run(
        [sys.executable, "-c", _MEASURE, str(peak), *command],
        cwd=cli.cwd,
        env={**os.environ, **cli.env(), "PYTHONWARNINGS": "error"},
        capture_output=True,
        check=False,
    )
    result = Result(proc.returncode, proc.stdout.decode("utf-8", "replace"), proc.stderr.decode(), proc.stdout)
    return Measured(result, int(peak.read_text()) / 1024)


def _failure_lines(err: str) -> list[str]:
    return [line.strip() for line in err.splitlines() if line.strip().startswith("failed:")]


def _export(cli: Cli) -> list[dict[str, Any]]:
    return [json.loads(line) for line in cli("export", "--format", "jsonl", check=True).out.splitlines()]


@dataclass
class Batch:
    cli: Cli
    run: Measured
    records: list[dict[str, Any]]
    check: subprocess.CompletedProcess[str]

    def line(self, source: str) -> str:
        """Return the one failure line naming `source` (fails if none or several)."""
        matching = [line for line in _failure_lines(self.run.result.err) if line.startswith(f"failed: {source}: ")]
        assert len(matching) == 1, (source, self.run.result.err)
        return matching[0]


# What the batch archives despite the hostile inputs beside them, by source location.
ARCHIVED = {
    "inbox/good.txt",
    "inbox/good.html",
    "inbox/badname%FF%FE.txt",
    "stadtrat.txt",  # a glob names files from below its fixed part (loops/)
    "inbox/bomb.warc.gz#",  # the record after the bomb (its offset follows)
}
# Every failure line the batch gives, worked out from the inputs made below.
FAILED = {
    "inbox/locked": "unreadable directory: permission denied",
    "inbox/pipe.txt": "not a regular file (FIFO)",
    "inbox/zero.html": "not a regular file (character device)",
    "inbox/zero.warc": "not a regular file (character device)",
    "inbox/sub/up": "symlink loop: links to a folder it is in, not followed",
    "direct.txt": "not a regular file (FIFO)",
    "loops/here": "symlink loop: links to a folder it is in, not followed",
    "loops/again": "symlink loop: links to a folder it is in, not followed",
    "inbox/bomb.warc.gz#0": f"too large: WARC record payload over the {LIMIT}-byte limit",
    "inbox/bomb.html.gz": f"too large: decompresses to over the {LIMIT}-byte limit",
}


def _make_batch(root: Path, bomb_bytes: int) -> None:
    inbox = root / "inbox"
    (inbox / "sub").mkdir(parents=True)
    shutil.copy(GOOD_TEXT, inbox / "good.txt")
    shutil.copy(GOOD_HTML, inbox / "good.html")
    shutil.copy(PROJECT_SEEDS / "text" / "wire-drought.txt", inbox / BAD_NAME)
    (inbox / "locked").mkdir()
    shutil.copy(PROJECT_SEEDS / "text" / "tafel-stadtrat.txt", inbox / "locked" / "stadtrat.txt")
    (inbox / "locked").chmod(0)
    os.mkfifo(inbox / "pipe.txt")
    (inbox / "zero.html").symlink_to("/dev/zero")
    (inbox / "zero.warc").symlink_to("/dev/zero")
    (inbox / "sub" / "up").symlink_to("..")
    fine = (PROJECT_SEEDS / "html" / "orchard-longread.html").read_bytes()
    (inbox / "bomb.warc.gz").write_bytes(warc_bomb(bomb_bytes, fine))
    (inbox / "bomb.html.gz").write_bytes(gzip_bomb(b"<html><body><p>", bomb_bytes))
    os.mkfifo(root / "direct.txt")
    loops = root / "loops"
    loops.mkdir()
    shutil.copy(PROJECT_SEEDS / "text" / "tafel-stadtrat.txt", loops / "stadtrat.txt")
    (loops / "here").symlink_to(".")
    (loops / "again").symlink_to("../loops")


@pytest.fixture(scope="module", params=BOTH_DATABASES)
def batch(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Batch]:
    """Replay the hostile batch once per database (bombs of 64 MiB against a 1 MB limit)."""
    root = tmp_path_factory.mktemp("hostile")
    sqlite = contextlib.nullcontext(f"sqlite:///{root / 'catalog.sqlite'}")
    with postgres_schema() if request.param == "postgresql" else sqlite as db:
        cli = Cli(cwd=root, data=root / "data", db=db)
        _make_batch(root, 64 * MIB)
        try:
            run = _replay(
                cli, "inbox", "direct.txt", "loops/**/*.txt", "--max-capture-bytes", str(LIMIT), as_owner=True
            )
            yield Batch(cli, run, _export(cli), warcio_check(warc_files(cli.data)))
        finally:
            (root / "inbox" / "locked").chmod(0o755)  # so the temporary folder can be removed


def _assert_rest_archived(batch: Batch) -> None:
    """The batch went on: exit 1, exactly the failures above, the good captures archived, WARC files valid."""
    assert batch.run.result.code == 1, batch.run.result.err
    assert "Traceback" not in batch.run.result.err
    assert len(_failure_lines(batch.run.result.err)) == len(FAILED), batch.run.result.err
    locations = {r["provenance"]["source_location"] for r in batch.records}
    assert {loc.rsplit("#", 1)[0] + "#" if "#" in loc else loc for loc in locations} == ARCHIVED
    assert f"5 records written, 0 unchanged, {len(FAILED)} failed" in batch.run.result.out
    assert batch.check.returncode == 0, batch.check.stdout


@pytest.mark.parametrize(
    "source",
    [
        pytest.param("inbox/locked", id="unreadable-dir"),
        pytest.param("inbox/pipe.txt", id="fifo-in-walk"),
        pytest.param("direct.txt", id="fifo-given"),
        pytest.param("inbox/sub/up", id="symlink-loop-walk"),
        pytest.param("loops/here", id="symlink-loop-glob"),
        pytest.param("loops/again", id="symlink-loop-glob-2"),
        pytest.param("inbox/zero.html", id="dev-zero-html"),
        pytest.param("inbox/zero.warc", id="dev-zero-warc"),
        pytest.param("inbox/bomb.warc.gz#0", id="warc-gzip-bomb"),
        pytest.param("inbox/bomb.html.gz", id="html-gz-bomb"),
    ],
)
def test_hostile_input_is_named_with_its_reason_and_the_batch_goes_on(batch: Batch, source: str) -> None:
    assert batch.line(source) == f"failed: {source}: {FAILED[source]}"
    _assert_rest_archived(batch)


def test_undecodable_name_is_archived_under_its_percent_encoded_bytes(batch: Batch) -> None:
    _assert_rest_archived(batch)
    record = next(r for r in batch.records if r["provenance"]["source_location"] == "inbox/badname%FF%FE.txt")
    assert record["source_url"] == "urn:file:inbox/badname%FF%FE.txt"
    assert unquote_to_bytes(record["source_url"].removeprefix("urn:file:")) == b"inbox/badname\xff\xfe.txt"
    assert "barges on the upper river" in record["text"].lower()  # wire-drought.txt, the bytes under that name
    targets = set()
    for path in warc_files(batch.cli.data):
        with path.open("rb") as handle:
            targets |= {r.rec_headers.get_header("WARC-Target-URI") for r in ArchiveIterator(handle)}
    assert "urn:file:inbox/badname%FF%FE.txt" in targets
    assert "urn:text:urn:file:inbox/badname%FF%FE.txt" in targets


def test_an_undecodable_name_given_directly_is_archived_and_recorded_escaped(cli: Cli) -> None:
    named = cli.cwd / BAD_NAME
    shutil.copy(PROJECT_SEEDS / "text" / "wire-drought.txt", named)
    done = cli("replay", str(named), "--jobs", "1")  # as an unquoted shell glob hands it over
    assert done.code == 0, done.out + done.err
    [record] = _export(cli)
    assert record["source_url"] == "urn:file:badname%FF%FE.txt"
    [run] = json.loads(cli("crawls", "--format", "json", check=True).out)
    assert run["args"]["paths"] == ["badname%FF%FE.txt"]  # the run's arguments, as provenance names it


def test_bounded_replay_of_the_batch_stays_small(batch: Batch) -> None:
    # 64 MiB bombs against a 1 MB limit: nothing near a bomb's size is ever held.
    assert batch.run.peak_mib < RSS_LIMIT_MIB, batch.run.peak_mib


@pytest.mark.slow
def test_a_gigabyte_bomb_under_the_default_limit_stays_under_600_mb(cli: Cli) -> None:
    _make_batch(cli.cwd, 1 << 30)
    (cli.cwd / "inbox" / "locked").chmod(0o755)  # readable here: this test is about the bombs
    run = _replay(cli, "inbox/bomb.warc.gz", "inbox/bomb.html.gz", "inbox/good.txt")
    assert run.result.code == 1
    assert sorted(_failure_lines(run.result.err)) == [
        "failed: inbox/bomb.html.gz: too large: decompresses to over the 67108864-byte limit",
        "failed: inbox/bomb.warc.gz#0: too large: WARC record payload over the 67108864-byte limit",
    ], run.result.err
    assert "2 records written" in run.result.out  # good.txt and the record after the bomb
    assert run.peak_mib < RSS_LIMIT_MIB, run.peak_mib
    assert warcio_check(warc_files(cli.data)).returncode == 0


@pytest.mark.slow
def test_a_30_mb_capture_of_10_million_lines_stays_under_600_mb(cli: Cli) -> None:
    (cli.cwd / "big").mkdir()
    (cli.cwd / "big" / "lines.txt").write_bytes(b"ab\n" * 10_000_000)  # 30,000,000 bytes
    shutil.copy(GOOD_TEXT, cli.cwd / "big" / "good.txt")
    run = _replay(cli, "big")
    assert run.result.code == 0, run.result.err
    assert run.peak_mib < RSS_LIMIT_MIB, run.peak_mib
    records = {r["provenance"]["source_location"]: r for r in _export(cli)}
    assert set(records) == {"big/lines.txt", "big/good.txt"}
    # Past the stripping limit a text is kept whole: 10,000,000 one-word paragraphs.
    assert records["big/lines.txt"]["word_count"] == 10_000_000
    assert records["big/lines.txt"]["text"] == "\n\n".join(["ab"] * 10_000_000)
    assert warcio_check(warc_files(cli.data)).returncode == 0


@pytest.mark.slow
def test_half_a_million_lines_just_under_the_strip_limit_stay_under_600_mb(cli: Cli) -> None:
    # 999,998 characters: stripped line by line (1,000,000 is the limit), every line weighed by the model.
    (cli.cwd / "big").mkdir()
    (cli.cwd / "big" / "lines.txt").write_bytes(b"a\n" * 499_999)
    shutil.copy(GOOD_TEXT, cli.cwd / "big" / "good.txt")
    run = _replay(cli, "big")
    assert run.peak_mib < RSS_LIMIT_MIB, run.peak_mib
    assert run.result.code == 0, run.result.err
    records = {r["provenance"]["source_location"]: r for r in _export(cli)}
    assert set(records) == {"big/lines.txt", "big/good.txt"}
    assert records["big/lines.txt"]["provenance"]["input_word_count"] == 499_999  # every line weighed: one word each
