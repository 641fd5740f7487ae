"""mkdocs hook: the command reference, generated from the `scraper` argparse parser at build time.

A page holding the line `<!-- cli-reference -->` gets, in its place, one section per
sub-command the parser holds, in the parser's order: its help line, its usage, and every
argument and option with its help text and default. Nothing here names a command, so
commands added, renamed or reordered in archive/cli/ show up on the next build.

The parser is built as on a fresh machine: the builder's SCRAPER_* variables are hidden
and a default taken from os.cpu_count() is shown as "one per core", so the page reads
the same wherever it is built and never prints a local value (a data folder, or a Redis
URL with its password from $SCRAPER_FRONTIER).
"""

from __future__ import annotations

import argparse
import html
import importlib
import os
import re
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from unittest import mock

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.exceptions import PluginError
from mkdocs.structure.files import Files
from mkdocs.structure.pages import Page

MARKER = re.compile(r"^<!-- cli-reference -->$", re.MULTILINE)
PARSER_MODULE, PARSER_FUNCTION = "archive.cli", "build_parser"
USAGE_WIDTH = 88
MARKDOWN_SPECIALS = re.compile(r"([\\`*_\[\]])")


Subcommand = tuple[str, list[str], str | None, argparse.ArgumentParser]  # name, aliases, help line, parser


class PerCore(int):
    """What os.cpu_count() answers while the parser is built: a default shown as "one per core"."""


def on_page_markdown(markdown: str, /, *, page: Page, config: MkDocsConfig, files: Files) -> str:
    """Return the page with the command reference in place of its marker (pages without one unchanged)."""
    if not MARKER.search(markdown):
        return markdown
    root = Path(config.config_file_path).parent
    reference = command_reference(load_parser(root), root)
    return MARKER.sub(lambda _: reference, markdown)


def load_parser(root: Path) -> argparse.ArgumentParser:
    """Return the parser archive.cli.build_parser() gives, imported afresh from the tree at `root`."""
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    # `mkdocs serve` rebuilds in one process: drop the CLI modules so an edit to them shows.
    for name in [n for n in sys.modules if n == PARSER_MODULE or n.startswith(f"{PARSER_MODULE}.")]:
        del sys.modules[name]
    try:
        with as_on_a_fresh_machine():
            module = importlib.import_module(PARSER_MODULE)
            build: Callable[[], object] = getattr(module, PARSER_FUNCTION)
            parser = build()
    except Exception as exc:  # the build must stop and say why, whatever the CLI raised
        raise PluginError(f"cli_reference: cannot build {PARSER_MODULE}.{PARSER_FUNCTION}(): {exc!r}") from exc
    if not isinstance(parser, argparse.ArgumentParser):
        raise PluginError(f"cli_reference: {PARSER_FUNCTION}() gave {type(parser).__name__}, not an ArgumentParser")
    return parser


@contextmanager
def as_on_a_fresh_machine() -> Iterator[None]:
    """Hide SCRAPER_* variables and the core count while the parser is imported and built."""
    environment = {name: value for name, value in os.environ.items() if not name.startswith("SCRAPER_")}
    per_core = PerCore(os.cpu_count() or 1)
    with (
        mock.patch.dict(os.environ, environment, clear=True),
        mock.patch.object(os, "cpu_count", return_value=per_core),
    ):
        yield


def command_reference(parser: argparse.ArgumentParser, root: Path) -> str:
    """Return Markdown for the top-level command and each sub-command, nested ones included."""
    return "\n".join([section(parser, parser.description, level=2, root=root), *sub_sections(parser, 2, root)])


def sub_sections(parser: argparse.ArgumentParser, level: int, root: Path) -> Iterator[str]:
    """Yield the Markdown of every sub-command of `parser`, then of theirs, in the parser's order."""
    for _name, aliases, help_line, sub in subcommands(parser):
        if help_line is argparse.SUPPRESS:
            continue  # hidden from --help, hidden here
        yield section(sub, help_line, level=level, root=root, aliases=aliases)
        yield from sub_sections(sub, level + 1, root)


def subcommands(parser: argparse.ArgumentParser) -> Iterator[Subcommand]:
    """Yield (name, aliases, help line, parser) for each sub-command `parser` holds."""
    for action in parser._actions:
        if not isinstance(action, argparse._SubParsersAction):
            continue
        help_of = {choice.dest: choice.help for choice in action._choices_actions}
        names: dict[int, list[str]] = {}
        parsers: dict[int, argparse.ArgumentParser] = {}
        for name, sub in action.choices.items():
            names.setdefault(id(sub), []).append(name)
            parsers[id(sub)] = sub
        for key, (name, *aliases) in names.items():
            yield name, aliases, help_of.get(name), parsers[key]


def section(
    parser: argparse.ArgumentParser, help_line: str | None, *, level: int, root: Path, aliases: Sequence[str] = ()
) -> str:
    """Return one command's Markdown: heading, help line, aliases, usage, arguments and options."""
    lines = [f"{'#' * level} {parser.prog}", ""]
    if help_line:
        lines += [escaped(help_line), ""]
    if aliases:
        lines += [f"Also spelled {', '.join(f'`{alias}`' for alias in aliases)}.", ""]
    if parser.description and parser.description != help_line:
        lines += [escaped(parser.description), ""]
    lines += ["```text", usage(parser), "```", ""]
    shown = [a for a in parser._actions if shown_action(a)]
    for title, actions in (
        ("Arguments", [a for a in shown if not a.option_strings]),
        ("Options", [a for a in shown if a.option_strings]),
    ):
        if actions:
            lines += [f"{title}:", ""] + [item(action, root) for action in actions] + [""]
    return "\n".join(lines)


def shown_action(action: argparse.Action) -> bool:
    """Return whether the reference lists `action` (not -h, sub-command choices or suppressed ones)."""
    hidden = (argparse._HelpAction, argparse._SubParsersAction)
    return not isinstance(action, hidden) and action.help is not argparse.SUPPRESS


def usage(parser: argparse.ArgumentParser) -> str:
    """Return the usage argparse prints, wrapped at a fixed width whatever the terminal."""
    formatter = argparse.HelpFormatter(prog=parser.prog, width=USAGE_WIDTH)
    formatter.add_usage(parser.usage, parser._actions, parser._mutually_exclusive_groups)
    return formatter.format_help().strip()


def item(action: argparse.Action, root: Path) -> str:
    """Return one Markdown list item: how the option is written, its help text, its default."""
    formatter = argparse.HelpFormatter(prog="scraper")
    if action.option_strings:
        written = ", ".join(action.option_strings)
        if action.nargs != 0:
            written += " " + formatter._format_args(action, action.dest.upper())
    else:
        written = formatter._format_args(action, action.dest)
    notes = [escaped(formatter._expand_help(action))] if action.help else []
    if action.required and action.option_strings:
        notes.append("required")
    default = shown_default(action, root)
    if default is not None:
        notes.append(f"default: {default}")
    return f"- `{written}`" + (f" — {'; '.join(notes)}" if notes else "")


def shown_default(action: argparse.Action, root: Path) -> str | None:
    """Return the default as Markdown, or None when there is nothing to show."""
    default = action.default
    if action.nargs == 0 or default is None or default is argparse.SUPPRESS:
        return None  # a flag's default is its absence; None means "not given"
    if isinstance(default, PerCore):
        return "one per core"
    if isinstance(default, Path):
        default = shown_path(default, root)
    elif isinstance(default, list | tuple):
        default = " ".join(str(value) for value in default)
    return f"`{default}`" if str(default) else None


def shown_path(path: Path, root: Path) -> str:
    """Return `path` relative to the repository, so no builder's home directory is printed."""
    if not path.is_absolute():
        return str(path)
    return Path(os.path.relpath(path, root)).as_posix()


def escaped(text: str) -> str:
    """Return help text safe in Markdown: HTML and Markdown's own characters taken literally."""
    return MARKDOWN_SPECIALS.sub(r"\\\1", html.escape(text, quote=False))
