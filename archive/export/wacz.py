"""WACZ 1.1.1 packages of one run: its WARC files, a compressed CDXJ index, a page list, a signed-off manifest.

Layout (https://specs.webrecorder.net/wacz/1.1.1/), as py-wacz writes it and ReplayWeb.page and
`wb-manager add --unpack-wacz` read it:

    archive/*.warc.gz          the run's WARC files, and those holding what it refers to
    indexes/index.cdx.gz       the CDXJ index (archive.export.cdxj), sorted, gzipped in blocks of
                               1024 lines, one gzip member each
    indexes/index.idx          one line per block: its first key, offset, length and sha256
    pages/pages.jsonl          a header line, then one page per line: id, url, ts, title, text
    datapackage.json           every file with its sha256 and size
    datapackage-digest.json    the manifest's own sha256

Members are stored uncompressed, so replay tools read a WARC record or an index block at its
offset without inflating the whole file.

A run's WARC files are the ones whose warcinfo record says `isPartOf: <run id>`. Whole files
go in, byte for byte as the archive holds them: a revisit points at an earlier capture, and a
re-extraction's records (its new text and record JSON) at the raw records they were extracted
from, so the files holding those go in too and the package replays on its own.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import zipfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cdxj_indexer.main import CompressedWriter
from warcio.archiveiterator import ArchiveIterator

from archive.catalog.facade import Catalog
from archive.errors import NotFound
from archive.export._pages import Revisit, RunRecords, extraction_row, instant, read_run, revisit_row
from archive.export.cdxj import build_cdxj
from archive.layout import DataLayout
from scraper import Record, __version__

if TYPE_CHECKING:
    from archive.catalog.runs import CrawlRun

__all__ = ["WACZ_VERSION", "WaczError", "WaczSummary", "write_wacz"]

WACZ_VERSION = "1.1.1"
_PAGES_HEADER = {"format": "json-pages-1.0", "id": "pages", "title": "All Pages"}
_INDEX_BLOCK_LINES = 1024  # py-wacz's (and ArchiveWeb.page's) block size


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
    contents = _contents(catalog, layout, found.id)
    with tempfile.TemporaryDirectory(prefix="wacz-") as scratch:
        members = [(f"archive/{p.name}", p) for p in contents.files]
        index = build_cdxj(layout.warc, Path(scratch) / "index.cdxj", contents.files)
        members += _compressed_index(Path(scratch) / "index.cdxj", Path(scratch))
        pages = _pages(contents.run, contents.originals, layout.warc)
        if not pages:  # a package a replay tool opens on nothing is no archive of the run
            raise WaczError(
                f"run {found.id} archived no pages (only exchanges such as robots.txt, errors or redirects): "
                "nothing to package"
            )
        members.append(("pages/pages.jsonl", _write_pages(pages, Path(scratch) / "pages.jsonl")))
        manifest = _datapackage(members, title or f"scraper run {found.id}", found)
        _write_zip(out, members, manifest)
    return WaczSummary(out, found.id, tuple(p.name for p in contents.files), len(pages), index.lines)


@dataclass(frozen=True, slots=True)
class _Contents:
    """What a run's package holds: its WARC files and those it refers to, its records, its revisits' originals."""

    files: list[Path]
    run: RunRecords
    originals: dict[str, Record | None]  # revisit record id -> the catalog's capture it repeats


def _contents(catalog: Catalog, layout: DataLayout, crawl_id: str) -> _Contents:
    """Return the run's own WARC files (warcinfo isPartOf), read, with the files holding what they refer to."""
    warc_dir = layout.warc
    own = [path for path in layout.warc_files() if _part_of(path) == crawl_id]
    if not own:
        raise WaczError(f"run {crawl_id} has no WARC files in {warc_dir}")
    run = read_run(own)
    originals = {r.record_id: _original(catalog, r) for r in run.revisits}
    referred = run.raw_files() | {o.provenance.warc_raw.file for o in originals.values() if o and o.provenance.warc_raw}
    files = sorted(set(own) | {warc_dir / name for name in referred if (warc_dir / name).is_file()})
    return _Contents(files, run, originals)


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


def _original(catalog: Catalog, revisit: Revisit) -> Record | None:
    """Return the catalog's capture a revisit repeats: by URI and date as written, else the same instant."""
    found = catalog.capture_of(revisit.refers_to_uri, revisit.refers_to_date)
    if found is not None:
        return found
    when = instant(revisit.refers_to_date)
    if when is None:
        return None
    for record, _replaced in catalog.history(revisit.refers_to_uri):
        if instant(record.provenance.captured_at) == when:
            return record
    return None


def _pages(run: RunRecords, originals: dict[str, Record | None], warc_dir: Path) -> list[dict[str, Any]]:
    """Return the run's pages: each capture it extracted, then each page it saw unchanged (a revisit)."""
    pages: list[dict[str, Any]] = []
    seen: set[str] = set()
    for extraction in run.extractions.values():
        row = extraction_row(extraction, warc_dir)
        if row is not None and row["url"] not in seen:
            seen.add(row["url"])
            pages.append(row)
    for revisit in run.revisits:  # an original that is no catalog capture (a sitemap, say) is no page
        original = originals.get(revisit.record_id)
        if original is not None and revisit.url not in seen:
            seen.add(revisit.url)
            pages.append(revisit_row(revisit, original))
    return pages


def _write_pages(pages: list[dict[str, Any]], path: Path) -> Path:
    header = {**_PAGES_HEADER, "hasText": True} if any(p["text"] for p in pages) else _PAGES_HEADER
    lines = [json.dumps(row, ensure_ascii=False) + "\n" for row in [header, *pages]]
    path.write_text("".join(lines), encoding="utf-8")
    return path


def _compressed_index(cdxj: Path, scratch: Path) -> list[tuple[str, Path]]:
    """Write the sorted CDXJ as py-wacz does: gzipped blocks (index.cdx.gz) and the block index (index.idx)."""
    blocks, idx = scratch / "index.cdx.gz", scratch / "index.idx"
    with open(cdxj, encoding="utf-8") as lines, open(blocks, "wb") as data, open(idx, "w", encoding="utf-8") as out:
        writer = CompressedWriter(
            out, data_out=data, num_lines=_INDEX_BLOCK_LINES, data_out_name=blocks.name, digest_records=True
        )
        wrote = False
        for line in lines:
            writer.write(line)
            wrote = True
        if writer.block:
            writer.flush()
        if not wrote:
            writer.write_header()
    return [("indexes/index.cdx.gz", blocks), ("indexes/index.idx", idx)]


def _datapackage(members: list[tuple[str, Path]], title: str, crawl: CrawlRun) -> dict[str, Any]:
    return {
        "profile": "data-package",
        "wacz_version": WACZ_VERSION,
        "title": title,
        "created": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "software": f"scraper-archive/{__version__}",
        "crawl": {"id": crawl.id, "kind": crawl.kind, "started_at": crawl.started_at},
        "resources": [
            {
                "name": Path(name).name.lower(),
                "path": name,
                "hash": f"sha256:{_sha256(path)}",
                "bytes": path.stat().st_size,
            }
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
