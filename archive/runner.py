"""Start runs: a spider in this process (replay, crawl, re-extract), or a run queued in a shared frontier."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scrapy.crawler import CrawlerProcess
from scrapy.utils.project import get_project_settings

from archive.crawl.overrides import read_settings
from archive.crawl.runs import finish_if_empty
from archive.crawl.scope import CrawlScope, ScopeOptions, SharedLedger
from archive.crawl.workers import available_cores
from archive.errors import ArchiveError
from archive.frontier.store import FrontierError, RequestCodec
from archive.layout import DataLayout
from archive.warc.sources import escaped_name
from scraper import __version__
from spiders.reextract import ReextractSpider
from spiders.replay import ReplaySpider
from spiders.site import SiteSpider

if TYPE_CHECKING:
    from twisted.python.failure import Failure

    from archive.catalog.facade import Catalog
    from archive.crawl.seeds import Seed
    from archive.frontier.store import Frontier

__all__ = [
    "Enqueued",
    "RunFailed",
    "enqueue_files",
    "enqueue_seeds",
    "frontier_settings",
    "recorded_paths",
    "run_crawl",
    "run_reextract",
    "run_replay",
]


def project_settings(data_dir: Path, db_url: str, overrides: Mapping[str, Any] | None = None, **options: Any) -> Any:
    """Return the project's Scrapy settings pointed at one data directory and catalog.

    `overrides` (the CLI's --set) apply over the project's, read as read_settings() reads them;
    `options` (the CLI's own options; None: not given) apply over those.
    """
    os.environ.setdefault("SCRAPY_SETTINGS_MODULE", "settings")
    settings = get_project_settings()
    given = read_settings(overrides or {}, settings)  # against settings.py's own, before any is set here
    settings.set("ARCHIVE_DATA_DIR", str(data_dir), priority="cmdline")
    settings.set("ARCHIVE_DB_URL", db_url, priority="cmdline")
    settings.set("ARCHIVE_PROGRESS", sys.stderr.isatty(), priority="cmdline")
    settings.set("LOG_LEVEL", os.environ.get("SCRAPER_LOG_LEVEL", "ERROR"), priority="cmdline")
    for key, value in {**given, **{k: v for k, v in options.items() if v is not None}}.items():
        settings.set(key, value, priority="cmdline")
    # Who is crawling, with the version: a USER_AGENT given (the CLI's --contact builds one) wins over this.
    contact = settings.get("ARCHIVE_CONTACT_URL") or os.environ.get("ARCHIVE_CONTACT_URL")
    contact = contact or "https://example.invalid/contact; set ARCHIVE_CONTACT_URL"
    settings.set("USER_AGENT", f"scraper-archive/{__version__} (+{contact})", priority="project")
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

    `overrides` are further settings (the CLI's --set); an option given here wins over them.
    """

    given = read_settings(overrides or {})
    settings = project_settings(
        data_dir,
        db_url,
        given,
        ARCHIVE_OPERATOR=operator,
        ARCHIVE_CRAWL_ARGS={"command": "replay", "paths": recorded_paths(paths, given)},
        REPLAY_MAX_CAPTURE_BYTES=max_capture_bytes,
        ARCHIVE_SITE_EVIDENCE=site_evidence,
        ARCHIVE_JOBS=jobs,
    )
    return _run(_busy(settings), ReplaySpider, paths=paths)


def recorded_paths(paths: Sequence[str], overrides: Mapping[str, Any]) -> list[str]:
    """Return the paths a run records in the catalog: as given, but an absolute one by its last part only.

    The archive keeps no host path unless asked (ARCHIVE_ABSOLUTE_PATHS, replay --absolute-paths).
    A name with bytes UTF-8 does not decode is kept percent-encoded, as provenance keeps it.
    """
    if read_settings(overrides).get("ARCHIVE_ABSOLUTE_PATHS"):  # "-s ARCHIVE_ABSOLUTE_PATHS=0" is off
        return [escaped_name(p) for p in paths]
    return [escaped_name(Path(p).name if Path(p).is_absolute() else p) for p in paths]


def _busy(settings: Any) -> Any:
    """Return replay settings with enough captures loaded and waiting that every extraction worker stays busy."""

    workers = settings.getint("ARCHIVE_JOBS") or available_cores()
    settings.set("CONCURRENT_REQUESTS", max(8, 4 * workers), priority="cmdline")
    return settings


def run_crawl(
    seeds: list[Any],
    *,
    data_dir: Path,
    db_url: str,
    spider_args: dict[str, Any],
    settings_overrides: dict[str, Any],
    crawl_args: dict[str, Any],
    frontier: dict[str, Any] | None = None,
    resume: str | None = None,
) -> dict[str, Any]:
    """Crawl from `seeds` into the archive (continuing crawl `resume`); return the crawl's stats.

    `settings_overrides` are further settings (the CLI's options and --set, read as read_settings() reads them).
    With `frontier` (frontier_settings()) this process is a worker of a shared frontier: it
    crawls whatever runs the frontier holds (seeds reach it through `scraper enqueue`).
    """

    settings = project_settings(
        data_dir,
        db_url,
        settings_overrides,
        ARCHIVE_CRAWL_KIND="crawl",
        ARCHIVE_CRAWL_ARGS=crawl_args,
        ARCHIVE_RESUME_CRAWL=resume,
        **(frontier or {}),
    )
    if frontier:
        settings.set("SCHEDULER", "archive.crawl.scheduler.FrontierScheduler", priority="cmdline")
        # The per-host delay holds across workers (archive.crawl.politeness), not per download slot:
        # this worker's --delay is a floor, a crawl's own --delay applies above it, else the default.
        floor = settings.getfloat("DOWNLOAD_DELAY") if "DOWNLOAD_DELAY" in settings_overrides else None
        settings.set("ARCHIVE_FRONTIER_DELAY", floor, priority="cmdline")
        settings.set("ARCHIVE_FRONTIER_DEFAULT_DELAY", settings.getfloat("DOWNLOAD_DELAY"), priority="cmdline")
        settings.set("DOWNLOAD_DELAY", 0, priority="cmdline")
        settings.set("AUTOTHROTTLE_ENABLED", False, priority="cmdline")  # it tunes one process's slots only
        return _run(settings, SiteSpider)
    return _run(settings, SiteSpider, seeds=seeds, **spider_args)


def frontier_settings(
    url: str, name: str | None = None, *, worker_id: str | None = None, until_idle: bool = False
) -> dict[str, Any]:
    """Return the settings that make a run one worker of the frontier at `url` (those not asked for are left out)."""
    found: dict[str, Any] = {"ARCHIVE_FRONTIER_URL": url}
    if until_idle:  # else -s ARCHIVE_FRONTIER_UNTIL_IDLE, or settings.py, decides
        found["ARCHIVE_FRONTIER_UNTIL_IDLE"] = True
    if name:
        found["ARCHIVE_FRONTIER_NAME"] = name
    if worker_id:
        found["ARCHIVE_WORKER_ID"] = worker_id
    return found


def run_reextract(
    paths: list[str],
    *,
    data_dir: Path,
    db_url: str,
    jobs: int | None = None,
    crawl_args: dict[str, Any] | None = None,
    frontier: dict[str, Any] | None = None,
    overrides: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Re-extract the captures the catalog holds in WARC files `paths` (or in files leased from `frontier`).

    `overrides` are further settings (the CLI's --set); `jobs` and `frontier`, given, win over them.
    """

    settings = project_settings(
        data_dir,
        db_url,
        overrides,
        ARCHIVE_CRAWL_KIND="reextract",
        ARCHIVE_CRAWL_ARGS=crawl_args or {"command": "reextract", "paths": recorded_paths(paths, overrides or {})},
        ARCHIVE_JOBS=jobs,
        **(frontier or {}),
    )
    return _run(_busy(settings), ReextractSpider, paths=paths)


class RunFailed(ArchiveError):
    """The run could not start or stopped on an error of its own (not a capture's)."""

    exit_status = 1

    def __str__(self) -> str:
        return f"the run stopped: {super().__str__()}"


def _run(settings: Any, spider: type, **kwargs: Any) -> dict[str, Any]:
    try:  # before Scrapy starts: a pipeline failing to open makes Scrapy's own stats trip over it
        DataLayout.from_settings(settings).check_writable()
    except PermissionError as exc:
        raise RunFailed(str(exc)) from exc
    process = CrawlerProcess(settings)
    try:
        crawler = process.create_crawler(spider)
    except FrontierError as exc:  # the frontier is reached while the crawler is made
        raise RunFailed(str(exc)) from exc
    failures: list[Failure] = []
    process.crawl(crawler, **kwargs).addErrback(failures.append)
    process.start()
    if failures:  # Scrapy logs these and carries on to exit; the caller must hear of them
        error = failures[0].value
        raise RunFailed(f"{type(error).__name__}: {error}".splitlines()[0])
    stats = dict(crawler.stats.get_stats()) if crawler.stats else {}
    if stats.get("archive/stopped"):  # the archive could not be written to (archive.crawl.pipeline)
        raise RunFailed(f"{stats['archive/stopped']}; what was archived before it is kept")
    return stats


@dataclass(frozen=True, slots=True)
class Enqueued:
    """What an enqueue did: the run, whether it was started now, items queued and items left out."""

    run: str
    new: bool
    queued: int
    skipped: int


def enqueue_seeds(
    frontier: Frontier,
    catalog: Catalog,
    seeds: Sequence[Seed],
    *,
    options: Mapping[str, Any],
    crawl_args: Mapping[str, Any],
    job: str | None = None,
    run: str | None = None,
) -> Enqueued:
    """Queue seeds in crawl `run`, or in a new crawl (a catalog row, then a frontier run) with `options`.

    A seed the crawl has taken already, or one out of its scope or over its caps, is skipped:
    the same rules as every link a worker finds (archive.crawl.scope).
    """

    new = run is None
    if run is None:
        run = catalog.start_crawl("crawl", dict(crawl_args), owned=False)  # the frontier's workers run it
        frontier.open_run(run, "crawl", options=options, job=job)
    elif frontier.state(run).get("status") != "running":
        raise FrontierError(f"crawl {run} is not running in the frontier: start a new one")
    first = frontier.add_seeds(run, [asdict(seed) for seed in seeds])
    scope = CrawlScope(ScopeOptions.from_dict(frontier.options(run)), SharedLedger(frontier, run), run)
    spider = SiteSpider(scope=scope)
    queued = 0
    for request in spider.seed_requests(scope, range(first, first + len(seeds))):
        claim = request.meta.pop("claim", None)
        data = RequestCodec.dumps(request.to_dict(spider=spider))
        queued += frontier.push(run, data, request.priority, claim=claim) == 1
    if new and not queued:
        finish_if_empty(frontier, catalog, run)
    return Enqueued(run, new, queued, len(seeds) - queued)


def enqueue_files(frontier: Frontier, catalog: Catalog, files: Iterable[str], *, args: Mapping[str, Any]) -> Enqueued:
    """Start a re-extraction run whose items are WARC file names (relative to each worker's DATA/warc)."""

    names = sorted(set(files))
    run = catalog.start_crawl("reextract", dict(args), owned=False)
    frontier.open_run(run, "reextract", options={})
    queued = sum(frontier.push(run, RequestCodec.dumps({"file": name})) == 1 for name in names)
    if not queued:
        finish_if_empty(frontier, catalog, run)
    return Enqueued(run, True, queued, len(names) - queued)
