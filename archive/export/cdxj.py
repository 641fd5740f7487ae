"""A CDXJ index of WARC files, for pywb and the WACZ tools."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

__all__ = ["build_cdxj"]


def build_cdxj(warc_dir: Path, out: Path, files: Iterable[Path]) -> int:
    """Index WARC `files` (under `warc_dir`) into a sorted CDXJ file at `out`; return its lines.

    cdxj-indexer (the Webrecorder indexer pywb and the WACZ tools use) writes it: one line per
    response, revisit, resource and (with post_append) request record, `filename` relative to
    `warc_dir`, `offset` and `length` of the gzip member. The file is replaced only when complete.
    """
    from cdxj_indexer import CDXJIndexer

    names = sorted(str(p) for p in files)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".part")
    with open(tmp, "w", encoding="utf-8") as handle:
        if names:
            CDXJIndexer(output=handle, inputs=names, sort=True, post_append=True, dir_root=str(warc_dir)).process_all()
    os.replace(tmp, out)
    with open(out, encoding="utf-8") as handle:
        return sum(1 for _ in handle)
