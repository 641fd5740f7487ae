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

A damaged file goes in whole too (its offsets must not move), but its damaged stretches get no
index line and give no pages (archive.export.cdxj); a file that cannot be read, or whose first
record is too damaged to say which run it is part of, stays out. Each is named in the summary.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
import zipfile
from collections.abc import Collection
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from cdxj_indexer.main import CompressedWriter

from archive.catalog.facade import Catalog
from archive.errors import NotFound
from archive.export import output_file
from archive.export._pages import Revisit, RunRecords, extraction_row, instant, read_run, revisit_row
from archive.export.cdxj import FileDamage, build_cdxj
from archive.layout import DataLayout
from archive.warc.reader import DamagedRegion, scan_resync
from scraper import Record, __version__

if TYPE_CHECKING:
    from archive.catalog.runs import CrawlRun

__all__ = ["WACZ_VERSION", "WaczError", "WaczSummary", "write_wacz"]

WACZ_VERSION = "1.1.1"
_PAGES_HEADER = {"format": "json-pages-1.0", "id": "pages", "title": "All Pages"}
_INDEX_BLOCK_LINES = 1024  # py-wacz's (and ArchiveWeb.page's) block size
_NAMED = 3  # files named in the error when none of a run's files can be read
_WRITES = ("records_written", "revisits", "reextracted", "http_errors", "no_text")  # counts of what a run wrote


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
    damaged: tuple[FileDamage, ...] = ()  # files packaged with damaged stretches unindexed, or left out


def write_wacz(
    catalog: Catalog, layout: DataLayout, crawl: str, out: Path | None = None, title: str | None = None
) -> WaczSummary:
    """Package run `crawl` (id, prefix or "latest") as a WACZ file at `out`; return what it holds.

    By default the file is DATA/wacz/RUN-ID.wacz, its folder made if need be; a folder given
    with `out` must exist. The file is put in place only when complete (output_file).
    """
    found = catalog.find_crawl(crawl)
    if found is None:  # "latest" finds none only in a catalog with no run at all
        raise WaczError(
            "the catalog holds no run: nothing to package"
            if crawl == "latest"
            else f"no run with id {crawl!r} (see `scraper crawls`)"
        )
    target = out or layout.wacz_file(found.id)
    with (
        output_file(target, make_parent=out is None) as package,
        tempfile.TemporaryDirectory(prefix="wacz-") as scratch,
    ):
        contents = _contents(catalog, layout, found)
        index = build_cdxj(layout.warc, Path(scratch) / "index.cdxj", contents.files)
        unread = {damage.file for damage in index.damaged if damage.unread}
        files = [path for path in contents.files if path not in unread]
        members = [(f"archive/{p.name}", p) for p in files]
        members += _compressed_index(Path(scratch) / "index.cdxj", Path(scratch))
        pages = _pages(contents.run, contents.originals, layout.warc, {path.name for path in unread})
        if not pages:  # a package a replay tool opens on nothing is no archive of the run
            raise WaczError(
                f"run {found.id} archived no pages (only exchanges such as robots.txt, errors or redirects): "
                "nothing to package"
            )
        members.append(("pages/pages.jsonl", _write_pages(pages, Path(scratch) / "pages.jsonl")))
        manifest = _datapackage(members, title or f"scraper run {found.id}", found)
        _write_zip(package, members, manifest)
    damaged = contents.unsure + index.damaged
    return WaczSummary(target, found.id, tuple(p.name for p in files), len(pages), index.lines, damaged)


@dataclass(frozen=True, slots=True)
class _Contents:
    """What a run's package holds: its WARC files and those it refers to, its records, its revisits' originals."""

    files: list[Path]
    run: RunRecords
    originals: dict[str, Record | None]  # revisit record id -> the catalog's capture it repeats
    unsure: tuple[FileDamage, ...]  # files left out: whether they are the run's cannot be read


def _contents(catalog: Catalog, layout: DataLayout, found: CrawlRun) -> _Contents:
    """Return the run's own WARC files (warcinfo isPartOf), read, with the files holding what they refer to."""
    warc_dir, crawl_id = layout.warc, found.id
    own: list[Path] = []
    unsure: list[FileDamage] = []
    for path in layout.warc_files():
        run_id = _part_of(path)
        if isinstance(run_id, FileDamage):
            unsure.append(run_id)
        elif run_id == crawl_id:
            own.append(path)
    if not own and not unsure and not any(found.counts.get(key) for key in _WRITES):
        unchanged = found.counts.get("unchanged", 0)
        raise WaczError(
            f"run {crawl_id} archived nothing new ({unchanged} unchanged): it wrote no WARC file to package;"
            " give --crawl RUN of a run that did (see `scraper crawls`)"
        )
    if not own:
        named = "; ".join(damage.line() for damage in unsure[:_NAMED])
        more = f"; and {len(unsure) - _NAMED} more" if len(unsure) > _NAMED else ""
        raise WaczError(
            f"run {crawl_id} has no WARC files in {warc_dir}" + (f" that can be read: {named}{more}" if unsure else "")
        )
    run = read_run(own)
    originals = {r.record_id: _original(catalog, r) for r in run.revisits}
    referred = run.raw_files() | {o.provenance.warc_raw.file for o in originals.values() if o and o.provenance.warc_raw}
    files = sorted(set(own) | {warc_dir / name for name in referred if (warc_dir / name).is_file()})
    unsure = [
        replace(d, unread=f"{d.unread}: it may be part of the run; not packaged") for d in unsure if d.file not in files
    ]
    return _Contents(files, run, originals, tuple(unsure))


def _part_of(path: Path) -> str | FileDamage | None:
    """Return the run id the file's warcinfo record names, if its first record is one; FileDamage when unknown."""
    try:
        with open(path, "rb") as handle:
            first = next(scan_resync(handle, check_digests=True, strict=True, keep=("warcinfo",)), None)
    except OSError as exc:
        return FileDamage(path, unread=f"cannot be read: {exc.strerror or exc}")
    if isinstance(first, DamagedRegion) or (first is not None and first[2].digest_checker.passed is False):
        why = first.reason if isinstance(first, DamagedRegion) else "its digests fail"
        return FileDamage(path, unread=f"its first record is damaged ({why})")
    if first is None or first[2].rec_type != "warcinfo":
        return None
    for line in first[2].block.decode("utf-8", "replace").splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "isPartOf":
            return str(value).strip()
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


def _pages(
    run: RunRecords, originals: dict[str, Record | None], warc_dir: Path, left_out: Collection[str] = ()
) -> list[dict[str, Any]]:
    """Return the run's pages: each capture it extracted, then each page it saw unchanged (a revisit).

    A page whose raw record is in a file `left_out` of the package (by name: it could not be
    read) is no page of it: a replay tool would find nothing there.
    """
    pages: list[dict[str, Any]] = []
    seen: set[str] = set()
    for extraction in run.extractions.values():
        if str((extraction.raw_location() or {}).get("file", "")) in left_out:
            continue
        row = extraction_row(extraction, warc_dir)
        if row is not None and row["url"] not in seen:
            seen.add(row["url"])
            pages.append(row)
    for revisit in run.revisits:  # an original that is no catalog capture (a sitemap, say) is no page
        original = originals.get(revisit.record_id)
        raw = original.provenance.warc_raw if original is not None else None
        if raw is not None and raw.file in left_out:
            continue
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


def _write_zip(out: IO[bytes], members: list[tuple[str, Path]], manifest: dict[str, Any]) -> None:
    """Write the package to `out` (output_file puts it in place once complete)."""
    manifest_bytes = json.dumps(manifest, indent=2).encode("utf-8")
    digest = {"path": "datapackage.json", "hash": f"sha256:{hashlib.sha256(manifest_bytes).hexdigest()}"}
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as package:
        for name, path in members:
            package.write(path, name)
        package.writestr("datapackage.json", manifest_bytes)
        package.writestr("datapackage-digest.json", json.dumps(digest, indent=2))


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
