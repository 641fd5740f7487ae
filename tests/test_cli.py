"""The command line's own contract, in-process: what its parser offers and how it reports errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from archive.cli import build_parser, main
from archive.cli.quality import MODE_NAMES


def test_eval_lists_exactly_the_modes_the_harness_has() -> None:
    """--help names the modes without loading the extractors, so the two lists must not drift apart."""
    from scraper.evaluation import MODES

    assert tuple(MODES) == MODE_NAMES


def test_every_command_family_registers_its_commands() -> None:
    commands = set(build_parser()._subparsers._group_actions[0].choices)
    assert {"replay", "extract", "crawl", "enqueue", "schedule", "frontier", "reextract", "query", "show"} <= commands
    assert {"history", "crawls", "similar", "stories", "export", "index", "wacz", "verify", "repair"} <= commands
    assert {"eval", "train-stripper", "train-idf"} <= commands


def test_an_archive_error_is_one_line_and_its_exit_status(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["eval", "--modes", "html", "--set", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err == f"error: {tmp_path}: not an evaluation set (no evaldata.json there)\n"
