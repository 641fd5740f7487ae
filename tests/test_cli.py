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


def test_every_option_and_argument_says_what_it_is_for() -> None:
    """`scraper COMMAND --help` is the first place a user looks: nothing in it is left bare."""
    import argparse

    commands = build_parser()._subparsers._group_actions[0].choices
    bare = [
        f"{name} {(action.option_strings or [action.dest])[0]}"
        for name, parser in commands.items()
        for action in parser._actions
        if not action.help and not isinstance(action, argparse._HelpAction)
    ]
    assert bare == []
    query = commands["query"].format_help()
    assert "output format (default: table)" in query and "ISO 639-1" in query


def test_an_archive_error_is_one_line_and_its_exit_status(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["eval", "--modes", "html", "--set", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err == f"error: {tmp_path}: not an evaluation set (no evaldata.json there)\n"
