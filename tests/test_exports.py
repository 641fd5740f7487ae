"""The public API is narrow and deliberate: each package's __all__ is exactly what it offers."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

EXPECTED = {
    "scraper": {
        "Capture", "CaptureError", "LineCounts", "Provenance", "Record", "SiteEvidence", "StrippedText",
        "WarcLocation", "WireRequest", "__version__", "build_record", "evidence_scope", "iso_utc", "media_kind",
        "normalize_url", "record_id", "site_of", "strip_boilerplate",
    },
    "archive": {
        "AmbiguousId", "ArchiveError", "Catalog", "CaptureFailure", "DataLayout", "Frontier", "FrontierError", "NotFound",
        "SearchFilters", "SearchHit", "SkippedRecord", "SourceError", "SourceRef", "UsageError",
        "WarcFileWriter", "WarcReadError", "find_sources", "load_capture", "read_payload",
    },
    "spiders": {"ArchiveSpider", "ReextractSpider", "ReplaySpider", "SiteSpider"},
}  # fmt: skip


@pytest.mark.parametrize("package", sorted(EXPECTED))
def test_all_lists_exactly_the_public_names(package: str) -> None:
    module = importlib.import_module(package)
    assert set(module.__all__) == EXPECTED[package]
    for name in module.__all__:
        assert hasattr(module, name), name
    public = {n for n in vars(module) if not n.startswith("_") and not isinstance(getattr(module, n), type(sys))}
    assert public - {"annotations"} <= set(module.__all__) | {"annotations"}


@pytest.mark.parametrize("package", ["scraper", "archive"])
def test_library_layers_do_not_import_what_they_must_not(package: str) -> None:
    """scraper imports neither scrapy nor sqlalchemy; archive's top level does not import scrapy."""
    forbidden = {"scraper": ("scrapy", "sqlalchemy"), "archive": ("scrapy",)}[package]
    code = f"import sys, {package}; print(sorted(m for m in {forbidden!r} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_scrapy_components_named_in_settings_exist() -> None:
    import settings

    for path in [*settings.ITEM_PIPELINES, *(p for p, order in settings.EXTENSIONS.items() if order is not None)]:
        module, _, name = path.rpartition(".")
        assert hasattr(importlib.import_module(module), name), path
