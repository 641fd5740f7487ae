"""The `scraper` command: one module per command family; here the parser is built and errors become exit statuses.

Each family registers its sub-commands (`add_commands`) with light imports only, and imports
what a command needs when it runs: `scraper --version` and `--help` load neither Scrapy,
SQLAlchemy nor trafilatura.
"""

from __future__ import annotations

import argparse
import errno
import os
import sys
from collections.abc import Sequence
from typing import NoReturn

from archive._malloc import release_large_blocks
from archive.cli import crawl, export, frontier, integrity, quality, query, replay, serve, stories
from archive.cli._common import shown
from archive.errors import ArchiveError, UsageError
from scraper._version import __version__

__all__ = ["build_parser", "main"]

FAMILIES = (replay, crawl, frontier, query, stories, export, integrity, quality, serve)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status (0 done, 1 something failed or was not found, 2 usage)."""
    release_large_blocks()  # a huge capture's copies leave no high-water mark behind them
    args, unknown = build_parser().parse_known_args(argv)
    if unknown:  # a mistyped option: the command's own usage, not the top level's
        args.command_parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    try:
        _check_log_level()
        status = int(args.func(args))
        sys.stdout.flush()  # a full disk shows here, as an error, not at exit as a traceback
        return status
    except BrokenPipeError:  # `scraper export | head` is fine
        _drop_stdout()
        return 0
    except ArchiveError as exc:
        print(f"error: {shown(exc)}", file=sys.stderr)  # one line, whatever input the message names
        return exc.exit_status
    except OSError as exc:
        if exc.errno not in _NO_ROOM:
            raise
        _drop_stdout()
        where = f"cannot write {shown(exc.filename)}" if exc.filename else "cannot write the output"
        print(f"error: {where}: {exc.strerror}", file=sys.stderr)
        return 1


# Writes that fail for want of room: the disk or the quota is full, the file too large.
_NO_ROOM = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})
_LOG_LEVELS = ("CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG")


def _check_log_level() -> None:
    """Take $SCRAPER_LOG_LEVEL in any case; UsageError names it when it is no level."""
    given = os.environ.get("SCRAPER_LOG_LEVEL")
    if given is None:
        return
    if given.strip().upper() not in _LOG_LEVELS:
        raise UsageError(f"SCRAPER_LOG_LEVEL={shown(given)}: not a log level ({', '.join(_LOG_LEVELS)})")
    os.environ["SCRAPER_LOG_LEVEL"] = given.strip().upper()


def _drop_stdout() -> None:
    """Send what standard output still holds nowhere: its flush at exit would fail again, with a traceback."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


class _OneLineParser(argparse.ArgumentParser):
    """A parser whose mistakes are one line, as every other error is, pointing at the command's --help.

    argparse prints the whole usage first: 18 lines for `crawl` before the line that says what was wrong.
    """

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"error: {self.prog}: {shown(message)} (see `{self.prog} --help`)\n")


def build_parser() -> argparse.ArgumentParser:
    """Return the `scraper` parser with every command family's sub-commands (which share its class)."""
    parser = _OneLineParser(prog="scraper", description="Archive web captures with provenance.")
    parser.add_argument("--version", action="version", version=f"scraper-archive {__version__}")
    sub = parser.add_subparsers(required=True, metavar="COMMAND")
    for family in FAMILIES:
        family.add_commands(sub)
    for command in sub.choices.values():  # main() shows a mistyped option with its command's usage
        command.set_defaults(command_parser=command)
    return parser
