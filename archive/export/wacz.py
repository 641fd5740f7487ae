"""WACZ 1.1.1 packages of one run: its WARC files, a CDXJ index, a page list, a signed-off manifest.

Layout (https://specs.webrecorder.net/wacz/1.1.1/): archive/*.warc.gz, indexes/index.cdxj,
pages/pages.jsonl, datapackage.json (every file with its sha256 and size) and
datapackage-digest.json (the manifest's own sha256). Members are stored uncompressed, so
replay tools can read a WARC record at its CDXJ offset without inflating the whole file.

A run's WARC files are the ones whose warcinfo record says `isPartOf: <run id>`. A revisit
record only points at an earlier capture; the file that holds that capture goes in too, so
the package replays on its own.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from warcio.archiveiterator import ArchiveIterator

from archive.catalog.facade import Catalog
from archive.errors import NotFound
from archive.export.cdxj import build_cdxj
from archive.layout import DataLayout
from scraper import __version__

if TYPE_CHECKING:
    from archive.catalog.runs import CrawlRun

__all__ = ["WACZ_VERSION", "WaczError", "WaczSummary", "write_wacz"]

WACZ_VERSION = "1.1.1"
_PAGES_HEADER = {"format": "json-pages-1.0", "id": "pages", "title": "All Pages"}


class WaczError(NotFound):
    """The run cannot be packaged (unknown, or none of its WARC files are here)."""


@dataclass(frozen=True, slots=True)
class WaczSummary:
    """What went into a package."""

    path: Path
    crawl_id: str
    warc_files: tuple[str, ...]
    pages: int
    index_lines: int


def write_wacz(catalog: Catalog, layout: DataLayout, crawl: str, out: Path, title: str | None = None) -> WaczSummary:
    """Package run `crawl` (id, prefix or "latest") as a WACZ file at `out`; return what it holds."""
    found = catalog.find_crawl(crawl)
    if found is None:
        raise WaczError(f"no run with id {crawl!r} (see `scraper crawls`)")
    crawl_id = found.id
    warc_dir = layout.warc
    own = [path for path in layout.warc_files() if _part_of(path) == crawl_id]
    if not own:
        raise WaczError(f"run {crawl_id} has no WARC files in {warc_dir}")
    revisits = list(_revisits(own))
    files = sorted(set(own) | _originals(catalog, warc_dir, revisits))
    with tempfile.TemporaryDirectory(prefix="wacz-") as scratch:
        index = Path(scratch) / "index.cdxj"
        lines = build_cdxj(warc_dir, index, files)
        pages = _pages(catalog, crawl_id, revisits)
        members = [(f"archive/{p.name}", p) for p in files]
        members.append(("indexes/index.cdxj", index))
        page_file = Path(scratch) / "pages.jsonl"
        page_file.write_text("".join(json.dumps(p, ensure_ascii=False) + "\n" for p in pages), encoding="utf-8")
        members.append(("pages/pages.jsonl", page_file))
        manifest = _datapackage(members, title or f"scraper run {crawl_id}", found)
        _write_zip(out, members, manifest)
    return WaczSummary(out, crawl_id, tuple(p.name for p in files), len(pages) - 1, lines)


def _part_of(path: Path) -> str | None:
    """Return the run id the file's warcinfo record names, if its first record is one."""
    try:
        with open(path, "rb") as handle:
            for record in ArchiveIterator(handle):
                if record.rec_type != "warcinfo":
                    return None
                fields: str = record.content_stream().read().decode("utf-8", "replace")
                for line in fields.splitlines():
                    key, _, value = line.partition(":")
                    if key.strip() == "isPartOf":
                        return value.strip()
                return None
    except (OSError, ValueError):
        return None
    return None


def _revisits(files: Iterable[Path]) -> Iterator[dict[str, str]]:
    for path in files:
        with open(path, "rb") as handle:
            for record in ArchiveIterator(handle):
                if record.rec_type == "revisit":
                    headers = record.rec_headers
                    yield {
                        "url": headers.get_header("WARC-Target-URI"),
                        "ts": headers.get_header("WARC-Date"),
                        "refers_to_uri": headers.get_header("WARC-Refers-To-Target-URI") or "",
                        "refers_to_date": headers.get_header("WARC-Refers-To-Date") or "",
                    }


def _originals(catalog: Catalog, warc_dir: Path, revisits: list[dict[str, str]]) -> set[Path]:
    found: set[Path] = set()
    for revisit in revisits:
        original = catalog.capture_of(revisit["refers_to_uri"], revisit["refers_to_date"])
        location = original.provenance.warc_raw if original is not None else None
        if location is not None and (warc_dir / location.file).is_file():
            found.add(warc_dir / location.file)
    return found


def _pages(catalog: Catalog, crawl_id: str, revisits: list[dict[str, str]]) -> list[dict[str, Any]]:
    pages: list[dict[str, Any]] = [_PAGES_HEADER]
    seen: set[str] = set()
    for record in catalog.crawl_records(crawl_id):
        seen.add(record.source_url)
        page = {"id": record.id, "url": record.source_url, "ts": record.provenance.captured_at}
        pages.append({**page, "title": record.title} if record.title else page)
    for revisit in revisits:  # pages the run saw unchanged: archived as revisits of earlier captures
        if revisit["url"] not in seen:
            seen.add(revisit["url"])
            pages.append({"url": revisit["url"], "ts": revisit["ts"]})
    return pages


def _datapackage(members: list[tuple[str, Path]], title: str, crawl: CrawlRun) -> dict[str, Any]:
    return {
        "profile": "data-package",
        "wacz_version": WACZ_VERSION,
        "title": title,
        "created": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "software": f"scraper-archive/{__version__}",
        "crawl": {"id": crawl.id, "kind": crawl.kind, "started_at": crawl.started_at},
        "resources": [
            {"name": Path(name).name, "path": name, "hash": f"sha256:{_sha256(path)}", "bytes": path.stat().st_size}
            for name, path in members
        ],
    }


def _write_zip(out: Path, members: list[tuple[str, Path]], manifest: dict[str, Any]) -> None:
    """Write the package to a temporary file beside `out`, then put it in place."""
    manifest_bytes = json.dumps(manifest, indent=2).encode("utf-8")
    digest = {"path": "datapackage.json", "hash": f"sha256:{hashlib.sha256(manifest_bytes).hexdigest()}"}
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.part")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as package:
        for name, path in members:
            package.write(path, name)
        package.writestr("datapackage.json", manifest_bytes)
        package.writestr("datapackage-digest.json", json.dumps(digest, indent=2))
    os.replace(tmp, out)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
