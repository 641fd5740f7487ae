"""Run a spider in this process with the project's settings and return its stats."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from scrapy.crawler import CrawlerProcess
from scrapy.utils.project import get_project_settings

__all__ = ["RunFailed", "run_crawl", "run_replay"]


def project_settings(data_dir: Path, db_url: str, **overrides: Any) -> Any:
    """Return the project's Scrapy settings pointed at one data directory and catalog."""
    os.environ.setdefault("SCRAPY_SETTINGS_MODULE", "settings")
    settings = get_project_settings()
    settings.set("ARCHIVE_DATA_DIR", str(data_dir), priority="cmdline")
    settings.set("ARCHIVE_DB_URL", db_url, priority="cmdline")
    settings.set("ARCHIVE_PROGRESS", sys.stderr.isatty(), priority="cmdline")
    settings.set("LOG_LEVEL", os.environ.get("SCRAPER_LOG_LEVEL", "ERROR"), priority="cmdline")
    for key, value in overrides.items():
        if value is not None:
            settings.set(key, value, priority="cmdline")
    return settings


def run_replay(
    paths: list[str],
    *,
    data_dir: Path,
    db_url: str,
    operator: str | None = None,
    max_capture_bytes: int | None = None,
    site_evidence: str | None = None,
    jobs: int | None = None,
    overrides: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Replay `paths` into the archive with `jobs` extraction processes (None: ARCHIVE_JOBS); return the stats.

    `overrides` are further settings (the CLI's --set), applied last.
    """
    from archive.workers import available_cores
    from spiders.replay import ReplaySpider

    settings = project_settings(
        data_dir,
        db_url,
        ARCHIVE_OPERATOR=operator,
        ARCHIVE_CRAWL_ARGS={"command": "replay", "paths": paths},
        REPLAY_MAX_CAPTURE_BYTES=max_capture_bytes,
        ARCHIVE_SITE_EVIDENCE=site_evidence,
        ARCHIVE_JOBS=jobs,
        **(overrides or {}),
    )
    # Enough captures loaded and waiting that every worker stays busy.
    workers = settings.getint("ARCHIVE_JOBS") or available_cores()
    settings.set("CONCURRENT_REQUESTS", max(8, 4 * workers), priority="cmdline")
    return _run(settings, ReplaySpider, paths=paths)


def run_crawl(
    seeds: list[Any],
    *,
    data_dir: Path,
    db_url: str,
    spider_args: dict[str, Any],
    settings_overrides: dict[str, Any],
    crawl_args: dict[str, Any],
) -> dict[str, Any]:
    """Crawl from `seeds` into the archive; return the crawl's stats."""
    from spiders.site import SiteSpider

    settings = project_settings(
        data_dir, db_url, ARCHIVE_CRAWL_KIND="crawl", ARCHIVE_CRAWL_ARGS=crawl_args, **settings_overrides
    )
    return _run(settings, SiteSpider, seeds=seeds, **spider_args)


class RunFailed(Exception):
    """The run could not start or stopped on an error of its own (not a capture's)."""


def _run(settings: Any, spider: type, **kwargs: Any) -> dict[str, Any]:
    from archive.pipeline import check_writable, warc_directory

    try:  # before Scrapy starts: a pipeline failing to open makes Scrapy's own stats trip over it
        check_writable(warc_directory(Path(settings.get("ARCHIVE_DATA_DIR"))))
    except PermissionError as exc:
        raise RunFailed(str(exc)) from exc
    process = CrawlerProcess(settings)
    crawler = process.create_crawler(spider)
    failures: list[BaseException] = []
    process.crawl(crawler, **kwargs).addErrback(lambda failure: failures.append(failure.value))
    process.start()
    if failures:  # Scrapy logs these and carries on to exit; the caller must hear of them
        raise RunFailed(f"{type(failures[0]).__name__}: {failures[0]}".splitlines()[0])
    stats = dict(crawler.stats.get_stats()) if crawler.stats else {}
    if stats.get("archive/stopped"):  # the archive could not be written to (archive.pipeline)
        raise RunFailed(f"{stats['archive/stopped']}; what was archived before it is kept")
    return stats
