"""Imports run one way: cli -> runner -> spiders -> crawl -> integrity/export -> warc/catalog/frontier -> scraper.

Every import counts, at module level, inside functions and under TYPE_CHECKING alike: an
import that only dodges a cycle at run time is still a cycle in the design.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("scraper", "archive", "spiders", "benchmarks")

# Lowest first. Modules of one layer may import each other only within their own group
# (archive.catalog.* among themselves, say): peers such as warc and catalog stay apart.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("scraper",),
    ("archive.errors", "archive.layout", "archive._malloc"),
    ("archive.warc", "archive.catalog", "archive.frontier"),
    ("archive.integrity", "archive.export"),
    ("archive.crawl",),
    ("spiders",),
    ("archive.runner", "archive.schedule"),
    ("archive.serve",),  # the web app reads the catalog and WARC files; only `scraper serve` starts it
    ("archive.cli",),
    ("archive",),  # the package's own __init__: its lazy exports name every layer
    ("benchmarks",),
)


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            found[_module_name(path)] = path
    return found


MODULES = _modules()


def _group(module: str) -> tuple[int, str]:
    """Return (layer number, group) of a project module: its longest matching group prefix."""
    best: tuple[int, str] | None = None
    for number, groups in enumerate(LAYERS):
        for group in groups:
            if (module == group or module.startswith(group + ".")) and (best is None or len(group) > len(best[1])):
                best = (number, group)
    assert best is not None, f"{module} is in no layer: add it to LAYERS"
    return best


def _imports(path: Path) -> Iterator[tuple[int, str]]:
    """Yield (line, project module) for every import in a file, at any depth."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            # `from a.b import c` imports module a.b.c when there is one, else a name of a.b.
            names = [
                f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in MODULES else node.module for a in node.names
            ]
        else:
            continue
        for name in names:
            if name.split(".")[0] in PACKAGES:
                yield node.lineno, name


def _edges() -> dict[str, set[str]]:
    return {module: {name for _, name in _imports(path) if name != module} for module, path in MODULES.items()}


def test_every_module_is_in_a_layer() -> None:
    for module in MODULES:
        _group(module)


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_go_down_or_stay_in_their_group(module: str) -> None:
    layer, group = _group(module)
    wrong = []
    for line, name in _imports(MODULES[module]):
        their_layer, their_group = _group(name)
        if their_layer > layer or (their_layer == layer and their_group != group):
            wrong.append(f"{MODULES[module].relative_to(ROOT)}:{line} imports {name} ({their_group})")
    assert not wrong, f"{group} may import only lower layers:\n" + "\n".join(wrong)


def test_no_import_cycles() -> None:
    edges = _edges()
    state: dict[str, int] = {}  # 1: on the path, 2: done
    path: list[str] = []

    def visit(module: str) -> list[str] | None:
        state[module] = 1
        path.append(module)
        for name in sorted(edges.get(module, ())):
            target = name if name in MODULES else name.rpartition(".")[0]
            if state.get(target) == 1:
                return [*path[path.index(target) :], target]
            if target in MODULES and target not in state and (cycle := visit(target)):
                return cycle
        path.pop()
        state[module] = 2
        return None

    for module in sorted(MODULES):
        if module not in state and (cycle := visit(module)):
            pytest.fail("import cycle: " + " -> ".join(cycle))


def test_archive_keeps_at_most_ten_top_level_modules() -> None:
    top = sorted(p.name for p in (ROOT / "archive").glob("*.py"))
    assert len(top) <= 10, top


def test_the_library_imports_neither_scrapy_nor_sqlalchemy() -> None:
    """scraper/ is plain functions over bytes and text (its own imports, checked statically)."""
    for module, path in MODULES.items():
        if module.split(".")[0] != "scraper":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            assert not any(n.split(".")[0] in ("scrapy", "sqlalchemy") for n in names), f"{module}:{node.lineno}"
