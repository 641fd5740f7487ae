"""`scraper crawl`, `enqueue`, `schedule`: live crawls in one process, or as workers of a shared frontier."""

from __future__ import annotations

import argparse
import os
import re
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from archive.cli._common import (
    EXIT_INTERRUPTED,
    bounded,
    command,
    comments_option,
    db_url,
    evidence_option,
    open_catalog,
    print_summary,
    seconds,
    set_option,
    settings_given,
)
from archive.crawl.seeds import KINDS, Seed
from archive.errors import UsageError

if TYPE_CHECKING:
    from collections.abc import Callable

    from archive.catalog.runs import CrawlRun

__all__ = ["add_commands", "frontier_options", "frontier_run", "frontier_url"]

# Options of the crawl itself (in a frontier, stored with the crawl for every worker) and of one
# process's politeness and limits (in a frontier, each worker's own).
SCOPE_FLAGS = {
    "depth": "--depth",
    "any_site": "--any-site",
    "allow_domains": "--allow-domain",
    "deny_domains": "--deny-domain",
    "allow": "--allow",
    "deny": "--deny",
    "max_pages": "--max-pages",
    "max_per_site": "--max-per-site",
    "archive_other": "--archive-other",
    "discover_feeds": "--feeds",
    "requisites": "--requisites",
    "requisites_per_page": "--requisites-per-page",
    "requisite_max_bytes": "--requisite-max-bytes",
    "requisites_any_site": "--requisites-any-site",
}
REQUISITE_KEYS = ("requisites_per_page", "requisite_max_bytes", "requisites_any_site")  # only with --requisites
SCOPE_KEYS = tuple(SCOPE_FLAGS)
WORKER_OPTIONS = (
    "contact",
    "concurrency",
    "timeout",
    "max_body_bytes",
    "retries",
    "allow_network",
    "operator",
    "jobs",
    "comments",
)


def add_commands(sub: Any) -> None:
    """Register `crawl`, `enqueue` and `schedule` on the CLI's subcommand parser."""
    crawl = command(sub, "crawl", "crawl the web from seed URLs, sitemaps and feeds into the archive", _crawl)
    _scope_options(crawl)
    _worker_options(crawl)
    crawl.set_defaults(site_evidence=None)  # not given: -s ARCHIVE_SITE_EVIDENCE, else settings.py's (text)
    crawl.add_argument("--resume", nargs="?", const="latest", metavar="CRAWL_ID", help="continue an interrupted crawl")
    frontier_options(crawl, worker=True)

    enqueue = command(sub, "enqueue", "queue seeds, sitemaps or feeds as a crawl in a shared frontier", _enqueue)
    _scope_options(enqueue)
    _worker_options(enqueue)  # accepted so a job's options serve both; only --delay is the crawl's own
    enqueue.set_defaults(site_evidence=None)
    enqueue.add_argument("--crawl", metavar="CRAWL_ID", help="add the seeds to this running crawl (default: a new one)")
    frontier_options(enqueue, worker=False)

    schedule = command(sub, "schedule", "run recurring crawl jobs from a schedule file (TOML)", _schedule)
    schedule.add_argument("file", type=Path, help="the schedule (TOML; see docs/crawling.md)")
    schedule.add_argument("--once", action="store_true", help="run every job once now, then exit")
    schedule.add_argument("--max-runs", type=bounded(1, 10**9), help="exit after this many runs")
    frontier_options(schedule, worker=False, help_text="enqueue each run in this frontier for its workers")


def frontier_options(cmd: argparse.ArgumentParser, *, worker: bool, help_text: str | None = None) -> None:
    """Add --frontier and --frontier-name (and, for a worker, --worker-id and --until-idle)."""
    cmd.add_argument(
        "--frontier",
        metavar="URL",
        default=os.environ.get("SCRAPER_FRONTIER"),
        help=help_text or "Redis URL of a shared frontier, redis://HOST:PORT/DB (default $SCRAPER_FRONTIER)",
    )
    cmd.add_argument(
        "--frontier-name",
        default=os.environ.get("SCRAPER_FRONTIER_NAME"),
        help="prefix of the frontier's keys (default scraper)",
    )
    if worker:
        cmd.add_argument("--worker-id", help="this worker's id, beside the host in WARC file names (default: the pid)")
        cmd.add_argument(
            "--until-idle", action="store_true", help="stop once the frontier has nothing queued or in flight"
        )


def frontier_url(args: argparse.Namespace) -> str | None:
    return getattr(args, "frontier", None) or None


def _scope_options(cmd: argparse.ArgumentParser) -> None:
    cmd.add_argument("urls", nargs="*", metavar="URL", help="seed URLs (kind decided by the response)")
    cmd.add_argument(
        "--seeds",
        type=Path,
        action="append",
        default=[],
        help="seed file: one URL per line, with options (docs/crawling.md)",
    )
    cmd.add_argument("--kind", choices=KINDS, default="auto", help="what the URL seeds are (default: sniff)")
    cmd.add_argument("--depth", type=bounded(0, 1000), help="link hops from page seeds (default 1)")
    cmd.add_argument("--any-site", action="store_true", help="follow links to other sites too")
    cmd.add_argument(
        "--allow-domain", action="append", default=[], type=_domain, help="only these domains (and subdomains)"
    )
    cmd.add_argument("--deny-domain", action="append", default=[], type=_domain, help="never these domains")
    cmd.add_argument("--allow", action="append", default=[], type=_pattern, metavar="REGEX", help="only URLs matching")
    cmd.add_argument("--deny", action="append", default=[], type=_pattern, metavar="REGEX", help="never URLs matching")
    cmd.add_argument("--max-pages", type=bounded(1, 10**9), help="pages per crawl (default: no limit)")
    cmd.add_argument("--max-per-site", type=bounded(1, 10**9), help="pages per site (default: no limit)")
    cmd.add_argument("--feeds", action="store_true", help="also crawl the RSS/Atom feeds seed pages advertise")
    cmd.add_argument("--archive-other", action="store_true", help="archive non-HTML responses raw (no record)")
    cmd.add_argument(
        "--requisites",
        action="store_true",
        help="also fetch each page's stylesheets, scripts, images, media and fonts (archived raw, no record)",
    )
    cmd.add_argument(
        "--requisites-per-page",
        type=_at_least_one,
        metavar="N",
        help="requisites per page, with those its stylesheets load (default 100)",
    )
    cmd.add_argument(
        "--requisite-max-bytes",
        type=_at_least_one,
        metavar="N",
        help="abandon (and count) a larger requisite (default 16 MiB)",
    )
    cmd.add_argument("--requisites-any-site", action="store_true", help="fetch requisites from other sites too (CDNs)")
    cmd.add_argument("--delay", type=seconds(0, 86400), help="seconds between requests to one domain (default 1)")
    cmd.add_argument("--job", help="the schedule job this run belongs to (recorded with the crawl)")


def _domain(text: str) -> str:
    """Return a domain as given (an argparse type); an empty one, which would name no site, is refused."""
    if not text.strip(".").strip():
        raise argparse.ArgumentTypeError(f"{text!r} names no domain")
    return text


def _pattern(text: str) -> str:
    """Return a regular expression as given (an argparse type); one Python's re cannot compile is refused."""
    try:
        re.compile(text)
    except re.error as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is not a regular expression: {exc}") from None
    return text


def _network(text: str) -> str:
    """Return a CIDR as given (an argparse type); one that names no network is refused."""
    from archive.crawl.netguard import allowed_network

    try:
        allowed_network(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def _at_least_one(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of at least 1")
    return value


def _worker_options(cmd: argparse.ArgumentParser) -> None:
    cmd.add_argument("--contact", help="contact URL for the User-Agent (default $ARCHIVE_CONTACT_URL)")
    cmd.add_argument("--concurrency", type=bounded(1, 1000), help="requests at once per domain (default 2)")
    cmd.add_argument("--timeout", type=seconds(0.001, 86400), help="seconds per request (default 30)")
    cmd.add_argument(
        "--max-body-bytes",
        type=bounded(1, 2**40),
        help="keep larger responses up to this size, archived with WARC-Truncated: length (default 64 MiB)",
    )
    cmd.add_argument(
        "--allow-network",
        action="append",
        default=[],
        type=_network,
        metavar="CIDR",
        help="may reach these private/loopback/link-local addresses (e.g. 10.0.0.0/8; default: public only)",
    )
    cmd.add_argument("--retries", type=bounded(0, 100), help="retries on 5xx, 429 and timeouts (default 3)")
    cmd.add_argument("--operator", help="who runs the archive, for the warcinfo record")
    cmd.add_argument(
        "--jobs",
        type=bounded(1, 1024),
        metavar="N",
        help="extraction processes (default: one per core; 1: in this process)",
    )
    set_option(cmd)
    evidence_option(cmd)
    comments_option(cmd)


@dataclass
class CrawlPlan:
    """What the command line asks of a crawl: seeds, scope (spider arguments), settings, and what to record."""

    seeds: list[Seed]
    spider_args: dict[str, Any]
    overrides: dict[str, Any]
    crawl_args: dict[str, Any]


def _plan(args: argparse.Namespace, previous: CrawlRun | None = None) -> CrawlPlan:
    """Return the crawl the arguments describe (SeedError or UsageError say what is wrong with them)."""
    from archive.crawl.overrides import read_settings
    from archive.crawl.seeds import read_seed_file, seed_from_url, stored_seed
    from scraper import __version__

    seeds = [seed_from_url(url, args.kind) for url in args.urls]
    for path in args.seeds:
        seeds.extend(read_seed_file(path))
    options = {  # None: not given, and -s NAME=VALUE (or settings.py) decides
        "USER_AGENT": f"scraper-archive/{__version__} (+{args.contact})" if args.contact else None,
        "CONCURRENT_REQUESTS_PER_DOMAIN": args.concurrency,
        "DOWNLOAD_DELAY": args.delay,
        "DOWNLOAD_TIMEOUT": args.timeout,
        "DOWNLOAD_MAXSIZE": args.max_body_bytes,
        "RETRY_TIMES": args.retries,
        "ARCHIVE_OPERATOR": args.operator,
        "ARCHIVE_SITE_EVIDENCE": args.site_evidence,
        "ARCHIVE_JOBS": args.jobs,
        "ARCHIVE_COMMENTS": args.comments,
        "ARCHIVE_ALLOW_NETWORKS": args.allow_network or None,
    }
    if args.delay is not None and args.delay == 0:
        options["AUTOTHROTTLE_ENABLED"] = False
    overrides = {**read_settings(settings_given(args)), **{k: v for k, v in options.items() if v is not None}}
    spider_args = {
        "depth": args.depth,
        "any_site": args.any_site,
        "allow_domains": args.allow_domain,
        "deny_domains": args.deny_domain,
        "allow": args.allow,
        "deny": args.deny,
        "max_pages": args.max_pages,
        "max_per_site": args.max_per_site,
        "archive_other": args.archive_other,
        "discover_feeds": args.feeds,
        "requisites": args.requisites,
        "requisites_per_page": args.requisites_per_page,
        "requisite_max_bytes": args.requisite_max_bytes,
        "requisites_any_site": args.requisites_any_site,
    }
    if previous is not None:  # options not given again come from the crawl being continued
        stored = previous.args
        for key, value in spider_args.items():
            if key in stored and value in (None, False, []):
                spider_args[key] = stored[key]
        if "ARCHIVE_ALLOW_NETWORKS" not in overrides and stored.get("allow_networks"):  # the same boundary as before
            overrides["ARCHIVE_ALLOW_NETWORKS"] = stored["allow_networks"]
        if not seeds:
            seeds = [stored_seed(s, previous.id) for s in stored.get("seeds", [])]
    if spider_args["depth"] is None:
        spider_args["depth"] = 1
    unused = [SCOPE_FLAGS[k] for k in REQUISITE_KEYS if spider_args[k] not in (None, False)]
    if unused and not spider_args["requisites"]:
        print(f"note: {', '.join(unused)} apply with --requisites", file=sys.stderr)
    crawl_args = {
        "command": "crawl",
        "job": args.job,
        "seeds": [asdict(s) for s in seeds],
        **{k: v for k, v in spider_args.items() if v not in (None, False, [])},
    }
    if overrides.get("ARCHIVE_ALLOW_NETWORKS"):
        crawl_args["allow_networks"] = overrides["ARCHIVE_ALLOW_NETWORKS"]
    return CrawlPlan(seeds, spider_args, overrides, crawl_args)


def _crawl(args: argparse.Namespace) -> int:
    from archive.runner import frontier_settings, run_crawl

    if frontier_url(args) and args.resume:
        raise UsageError("--resume is for a crawl in one process: a frontier keeps its crawls itself")
    previous: CrawlRun | None = None
    if args.resume:
        with open_catalog(args) as catalog:
            previous = catalog.resumable(args.resume)
        if previous is None:
            raise UsageError(f"no unfinished crawl to resume ({args.resume})")
    plan = _plan(args, previous)
    frontier: dict[str, Any] | None = None
    if frontier_url(args):
        if plan.seeds:
            _enqueue_plan(args, plan)
        given = {**plan.spider_args, "depth": args.depth}
        scoped = [flag for key, flag in SCOPE_FLAGS.items() if given[key] not in (None, False, [])]
        if scoped and not plan.seeds:
            print(f"note: {', '.join(scoped)} apply to a crawl you enqueue; each crawl keeps its own", file=sys.stderr)
        frontier = frontier_settings(
            args.frontier, args.frontier_name, worker_id=args.worker_id, until_idle=args.until_idle
        )
    elif not plan.seeds:
        raise UsageError("no seeds: give URLs or --seeds FILE")
    stats = run_crawl(
        plan.seeds,
        data_dir=args.data,
        db_url=db_url(args),
        spider_args=plan.spider_args,
        settings_overrides=plan.overrides,
        crawl_args=plan.crawl_args,
        frontier=frontier,
        resume=previous.id if previous is not None else None,
    )
    return print_summary(stats, args, "crawl")


def _enqueue(args: argparse.Namespace) -> int:
    if not frontier_url(args):
        raise UsageError("enqueue needs --frontier redis://HOST:PORT/DB (or $SCRAPER_FRONTIER)")
    plan = _plan(args)
    if not plan.seeds:
        raise UsageError("no seeds: give URLs or --seeds FILE")
    ignored = [f"--{name.replace('_', '-')}" for name in WORKER_OPTIONS if getattr(args, name, None) not in (None, [])]
    if ignored:
        print(f"note: {', '.join(ignored)} apply per worker: give them to `scraper crawl --frontier`", file=sys.stderr)
    _enqueue_plan(args, plan, run=args.crawl)
    return 0


def _enqueue_plan(args: argparse.Namespace, plan: CrawlPlan, run: str | None = None) -> None:
    """Queue the plan's seeds in the frontier (a new crawl unless `run`); print what was queued."""
    from archive.frontier.store import Frontier, redacted
    from archive.runner import enqueue_seeds

    options = {key: plan.spider_args[key] for key in SCOPE_KEYS}
    if args.delay is not None:
        options["delay"] = args.delay  # a floor for every worker's per-host delay in this crawl
    frontier = Frontier.connect(args.frontier, args.frontier_name or "scraper")
    with open_catalog(args) as catalog:
        if run is not None:
            run = frontier_run(frontier, run)
        crawl_args = {**plan.crawl_args, "frontier": redacted(args.frontier), "frontier_name": frontier.name}
        done = enqueue_seeds(
            frontier, catalog, plan.seeds, options=options, crawl_args=crawl_args, job=args.job, run=run
        )
    what = "new crawl" if done.new else "crawl"
    print(
        f"{what} {done.run}: {done.queued} seed(s) queued, {done.skipped} skipped (already in this crawl, "
        f"out of scope or over its caps), frontier {redacted(args.frontier)} ({frontier.name})"
    )


def frontier_run(frontier: Any, given: str) -> str:
    """Return the frontier run whose id is `given` or starts with it; FrontierError when none or several."""
    from archive.frontier.store import FrontierError

    matches = [r["id"] for r in frontier.runs() if r["id"].startswith(given)]
    if len(matches) != 1:
        found = "no run" if not matches else f"{len(matches)} runs"
        raise FrontierError(f"{found} in frontier {frontier.name} match {given!r}")
    return str(matches[0])


def _schedule(args: argparse.Namespace) -> int:
    from archive.schedule import Scheduler, load_schedule

    jobs = load_schedule(args.file, _job_check("enqueue" if frontier_url(args) else "crawl"))
    with open_catalog(args):  # create or upgrade it once, before any job runs
        pass
    frontier = (args.frontier, args.frontier_name or "scraper") if frontier_url(args) else None
    scheduler = Scheduler(
        jobs, data_dir=args.data, db_url=db_url(args), say=lambda m: print(m, flush=True), frontier=frontier
    )
    try:
        scheduler.run(max_runs=args.max_runs, once=args.once)
    except KeyboardInterrupt:  # the job running now was interrupted too: `crawl --resume` continues it
        print("schedule: stopped", flush=True)
        print("interrupted: start the schedule again; `scraper crawl --resume` continues a crawl it cut short")
        return EXIT_INTERRUPTED
    if scheduler.failed:  # --once or --max-runs: say which runs failed, and exit as a crawl that failed does
        print(f"schedule: {len(scheduler.failed)} run(s) failed: {', '.join(scheduler.failed)}")
        return 1
    return 0


class _Refusing(argparse.ArgumentParser):
    """A parser that raises what it refuses (ValueError) instead of printing its usage and exiting."""

    def error(self, message: str) -> NoReturn:
        raise ValueError(message)


def _job_check(name: str) -> Callable[[list[str]], None]:
    """Return a check of a schedule job's arguments: ValueError says what `scraper NAME ARGS` would refuse."""
    from archive.crawl.overrides import read_settings

    sub = _Refusing(prog="scraper").add_subparsers()
    add_commands(sub)
    parser = sub.choices[name]

    def check(job_args: list[str]) -> None:
        try:
            read_settings(settings_given(parser.parse_args(job_args)))
        except UsageError as exc:
            raise ValueError(str(exc)) from None

    return check
