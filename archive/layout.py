"""Where things live in a data folder: the one place that knows its WARC files, locks, indexes and catalog."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["DEFAULT_DATA", "DataLayout", "data_root", "settings_catalog_url", "unwritable"]

DEFAULT_DATA = "data"


def data_root(given: str | Path | None = None) -> Path:
    """Return the data folder: `given`, else $SCRAPER_DATA (unless empty), else ./data."""
    return Path(given if given is not None else os.environ.get("SCRAPER_DATA") or DEFAULT_DATA)


@dataclass(frozen=True, slots=True)
class DataLayout:
    """The places inside one data folder.

    data/
      warc/               WARC files (and `.NAME.open` markers while a writer holds one)
      catalog.sqlite      the embedded catalog (unless --db / $SCRAPER_DB names another)
      indexes/index.cdxj  `scraper index`
      wacz/RUN.wacz       `scraper wacz`
      locks/JOB.lock      `scraper schedule`: one scheduler per job
    """

    root: Path

    @classmethod
    def of(cls, given: str | Path | None = None) -> DataLayout:
        """Return the layout of `given`, else of $SCRAPER_DATA, else of ./data."""
        return cls(data_root(given))

    @classmethod
    def from_settings(cls, settings: Any) -> DataLayout:
        """Return the layout of a Scrapy run's ARCHIVE_DATA_DIR."""
        return cls.of(settings.get("ARCHIVE_DATA_DIR"))

    @property
    def warc(self) -> Path:
        """Return the folder of WARC files."""
        return self.root / "warc"

    def warc_files(self) -> list[Path]:
        """Return the WARC files of the WARC folder, by name."""
        return sorted(p for p in self.warc.glob("*.warc*") if p.name.endswith((".warc", ".warc.gz")))

    @property
    def catalog_file(self) -> Path:
        """Return the embedded SQLite catalog's file."""
        return self.root / "catalog.sqlite"

    def catalog_url(self, given: str | None = None) -> str:
        """Return the catalog's SQLAlchemy URL: `given`, else $SCRAPER_DB, else SQLite in this folder."""
        return _dialect_named(given or os.environ.get("SCRAPER_DB") or f"sqlite:///{self.catalog_file}")

    @property
    def index_file(self) -> Path:
        """Return where `scraper index` writes its CDXJ index by default."""
        return self.root / "indexes" / "index.cdxj"

    def wacz_file(self, run: str) -> Path:
        """Return where `scraper wacz` packages run `run` by default."""
        return self.root / "wacz" / f"{run}.wacz"

    def job_lock(self, job: str) -> Path:
        """Return the lock file a scheduler holds while job `job` runs."""
        return self.root / "locks" / f"{job}.lock"

    def check_writable(self) -> None:
        """Raise PermissionError naming the WARC folder (or its first existing parent) when nothing can be written."""
        place = self.warc
        while not place.exists() and place != place.parent:
            place = place.parent
        reason = unwritable(place)
        if reason:
            raise PermissionError(f"cannot archive into {self.warc}: {place} is not writable ({reason})")


def unwritable(place: Path) -> str | None:
    """Return why `place` (a file or folder that exists) cannot be written, or None when it can."""
    if os.access(place, os.W_OK):
        return None
    return "read-only file system" if os.statvfs(place).f_flag & os.ST_RDONLY else "no write permission"


def settings_catalog_url(settings: Any) -> str:
    """Return a Scrapy run's catalog URL: ARCHIVE_DB_URL, else SQLite in ARCHIVE_DATA_DIR.

    Settings alone decide (the CLI sets ARCHIVE_DB_URL from --db and $SCRAPER_DB): a run
    started with Scrapy's own tools keeps its catalog beside its WARC files.
    """
    return _dialect_named(
        str(settings.get("ARCHIVE_DB_URL") or f"sqlite:///{DataLayout.from_settings(settings).catalog_file}")
    )


def _dialect_named(url: str) -> str:
    """Return a catalog URL with `postgres://` (libpq's spelling) written `postgresql://`, as SQLAlchemy wants."""
    return "postgresql://" + url.removeprefix("postgres://") if url.startswith("postgres://") else url
