"""mkdocs hook: put a repository file that lives outside docs/ into a page at build time.

A line `<!-- include: PATH -->` (PATH relative to the repository root) is replaced by that
file. The benchmark tables (benchmarks/results/*.md, written by the benchmarks themselves),
the README (the site's home page) and the CHANGELOG are shown this way: one copy, in the
file that owns it. Relative links in the included text are rewritten to point from the page, so
a README link to docs/cli.md works on the site too; a link that leaves docs/ stays broken
and `mkdocs build --strict` says so.
"""

from __future__ import annotations

import os
import re
from pathlib import Path, PurePosixPath

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.exceptions import PluginError
from mkdocs.structure.files import Files
from mkdocs.structure.pages import Page

INCLUDE = re.compile(r"^<!-- include: (?P<path>\S+) -->$", re.MULTILINE)
LINK = re.compile(r"(?P<head>\]\()(?P<target>[^)\s#]+)(?P<tail>(?:#[^)\s]*)?\))")


def on_page_markdown(markdown: str, /, *, page: Page, config: MkDocsConfig, files: Files) -> str:
    """Return the page with every include line replaced by what it names."""
    root = Path(config.config_file_path).parent.resolve()
    page_dir = (Path(config.docs_dir) / page.file.src_path).parent.resolve()

    def included(match: re.Match[str]) -> str:
        source = (root / match["path"]).resolve()
        if not source.is_relative_to(root) or not source.is_file():
            raise PluginError(f"include: {page.file.src_path}: no file {match['path']} in the repository")
        return relinked(source.read_text(encoding="utf-8").strip("\n"), source.parent, page_dir)

    return INCLUDE.sub(included, markdown)


def relinked(text: str, source_dir: Path, page_dir: Path) -> str:
    """Return `text` with relative Markdown links pointing from `page_dir` to what they named from `source_dir`."""

    def moved(match: re.Match[str]) -> str:
        target = match["target"]
        if "://" in target or target.startswith(("/", "mailto:")):
            return match[0]
        new = PurePosixPath(os.path.relpath(source_dir / target, page_dir)).as_posix()
        return f"{match['head']}{new}{match['tail']}"

    return LINK.sub(moved, text)
