"""What the command families share: --data/--db, the record filters, opening the catalog, the run summary."""

from __future__ import annotations

import argparse
import functools
import re
import shlex
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

from archive.catalog.filters import SearchFilters
from archive.errors import ArchiveError, NotFound, UsageError
from archive.layout import DataLayout, data_root, unwritable
from scraper.urls import redacted

if TYPE_CHECKING:
    from archive.catalog.facade import Catalog

N = TypeVar("N", int, float)

__all__ = [
    "EXIT_INTERRUPTED",
    "MAX_LIMIT",
    "add_filters",
    "bounded",
    "command",
    "comments_option",
    "db_url",
    "evidence_option",
    "filters_of",
    "iso_date",
    "need_archive",
    "open_catalog",
    "print_summary",
    "reach_catalog",
    "seconds",
    "set_option",
    "settings_given",
    "shown",
    "shown_text",
]

# Commands that only read an archive: on a folder or catalog that does not exist they say so
# and create nothing (SQLite would create an empty catalog on connect, and report on nothing).
READS_CATALOG = frozenset({"query", "show", "crawls", "history", "similar", "stories", "export", "reextract"})
READS_FOLDER = frozenset({"verify", "repair", "index", "wacz"})  # also the WARC files of --data
# Commands that start a Scrapy run open the catalog first: a catalog that cannot open is one
# line then, not a run that stops with Scrapy's own traceback about a pipeline that never opened.
STARTS_RUN = frozenset({"replay", "crawl", "reextract"})
MAX_LIMIT = 1_000_000

# C0 controls, DEL, C1 controls (a terminal takes 0x9b as ESC [), the Unicode line and paragraph
# separators, and the lone surrogates os.fsdecode gives undecodable bytes of a file name.
_ESCAPES: dict[int, str] = {c: f"\\x{c:02x}" for c in (*range(0x20), 0x7F, *range(0x80, 0xA0))}
_ESCAPES.update({ord("\t"): "\\t", ord("\n"): "\\n", ord("\r"): "\\r", 0x2028: "\\u2028", 0x2029: "\\u2029"})
_ESCAPES.update({c: f"\\x{c - 0xDC00:02x}" for c in range(0xDC80, 0xDD00)})


def shown(text: object) -> str:
    """Return `text` safe to print to a terminal: control characters escaped (`\\n`, `\\x1b`), nothing else changed.

    A name or string from an input (a file name, a page's title) could otherwise print a line
    of its own (a fake `failed:` line) or send escape sequences (a window title, a cleared screen).
    """
    return str(text).translate(_ESCAPES)


def shown_text(text: str) -> str:
    """Return a body of text (a record's) safe to print: as shown() does, but its line breaks kept as lines."""
    return "\n".join(shown(line) for line in text.split("\n"))


def command(sub: Any, name: str, help_text: str, func: Any) -> argparse.ArgumentParser:
    cmd: argparse.ArgumentParser = sub.add_parser(name, help=help_text)
    cmd.add_argument(
        "--data", type=_folder, default=data_root(), help="data directory (default: $SCRAPER_DATA, else ./data)"
    )
    cmd.add_argument("--db", help="catalog SQLAlchemy URL (default: $SCRAPER_DB, else SQLite in --data)")
    cmd.set_defaults(
        func=_catalog_first(func) if name in STARTS_RUN else func,
        reads_catalog=name in READS_CATALOG,
        reads_folder=name in READS_FOLDER,
    )
    return cmd


def _folder(text: str) -> Path:
    """Return a folder named on the command line; an empty name is a mistake (it would be the current folder)."""
    if not text:
        raise argparse.ArgumentTypeError("an empty path names no folder")
    return Path(text)


def _catalog_first(func: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """Return `func` run once the command's catalog has opened (and been brought to the newest schema)."""

    @functools.wraps(func)
    def run(args: argparse.Namespace) -> int:
        try:
            DataLayout(args.data).check_writable()
            with open_catalog(args):
                pass
            _check_writable_catalog(db_url(args))
        except (UsageError, PermissionError) as exc:
            raise _NotStarted(f"the run stopped: {exc}") from None  # a run's contract: exit 1, as when it stops
        return func(args)

    return run


class _NotStarted(ArchiveError):
    """A run could not start: its catalog did not open."""

    exit_status = 1


def bounded(low: int, high: int) -> Callable[[str], int]:
    """Return an argparse type: a whole number from `low` to `high`, else a one-line usage error."""
    return _within(int, "a whole number", low, high, f"{low:,} to {high:,}")


def seconds(low: float, high: float) -> Callable[[str], float]:
    """Return an argparse type: a number of seconds from `low` to `high` (no nan, no inf), else a usage error."""
    return _within(float, "a number of seconds", low, high, f"{low:g} to {high:g} seconds")


def _within(convert: Callable[[str], N], kind: str, low: N, high: N, span: str) -> Callable[[str], N]:
    def value_of(text: str) -> N:
        try:
            value = convert(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not {kind}") from None
        if not low <= value <= high:  # nan compares false: refused too
            raise argparse.ArgumentTypeError(f"{text} is out of range: {span}")
        return value

    return value_of


def iso_date(text: str) -> str:
    """Return an ISO 8601 date `YYYY-MM-DD` as given (an argparse type); an impossible or other form is refused."""
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            return date.fromisoformat(text).isoformat()
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date: {exc}") from None
    raise argparse.ArgumentTypeError(f"{text!r} is not a date YYYY-MM-DD")


def add_filters(cmd: argparse.ArgumentParser) -> None:
    """Add the record filters `query` and `stories` share (dest names as SearchFilters' fields)."""
    cmd.add_argument("--site", help="only this site (a host; its subdomains too) or a text capture's outlet")
    cmd.add_argument("--author", help="only records with an author whose name holds this (any case)")
    cmd.add_argument("--lang", dest="language", metavar="LANGUAGE", help="only this language (ISO 639-1: en, de...)")
    cmd.add_argument("--since", type=iso_date, help="YYYY-MM-DD, publication date (capture date when none)")
    cmd.add_argument("--until", type=iso_date, help="YYYY-MM-DD, inclusive")
    cmd.add_argument("--captured-since", type=iso_date, help="YYYY-MM-DD, capture date")
    cmd.add_argument("--captured-until", type=iso_date, help="YYYY-MM-DD, capture date, inclusive")
    cmd.add_argument("--crawl", help="only captures of this run (id or prefix; see `scraper crawls`)")


def filters_of(args: argparse.Namespace, catalog: Catalog | None = None) -> SearchFilters:
    """Return the filters a command was given; with `catalog`, NotFound when --crawl names no run there.

    A search in a run that is not there finds nothing, and would not say why.
    """
    if catalog is not None and args.crawl and catalog.find_crawl(args.crawl) is None:
        raise NotFound(f"no run with id {args.crawl!r} (see `scraper crawls`)")
    return SearchFilters(**{name: getattr(args, name) for name in SearchFilters.__slots__})


@contextmanager
def open_catalog(args: argparse.Namespace) -> Iterator[Catalog]:
    """Yield the catalog the command names, brought to the newest schema; close it after.

    A command that only reads gets UsageError when there is no archive to read; a catalog that
    cannot be opened (a bad URL, a server down, a wrong user) is one UsageError naming why.
    """
    from archive.catalog.facade import Catalog

    url = db_url(args)
    _check_url(url)
    catalog = None
    try:
        need_archive(args)
        catalog = Catalog(url)
        catalog.migrate()
    except (ImportError, ValueError, OSError, _database_errors()) as exc:
        if catalog is not None:
            catalog.close()
        raise UsageError(f"catalog URL: {redacted(url)}: {_why_not(exc, url)}") from None
    try:
        yield catalog
    finally:
        catalog.close()


def _check_url(url: str) -> None:
    """Refuse a catalog URL that names no catalog to keep, or whose user or password holds an unencoded `@`.

    SQLAlchemy takes the first `@` for the end of the password and the rest for the host, so the
    password's tail would reach the server's error message ("failed to resolve host '...'").
    A SQLite URL with no file (`sqlite://`, `sqlite:///`, `:memory:`) is a catalog in memory:
    it would be created empty and lost when the command ends.
    """
    scheme, _, rest = url.partition("://")
    if scheme.partition("+")[0] == "sqlite" and rest.lstrip("/") in ("", ":memory:"):
        raise UsageError(f"catalog URL: {shown(url)}: a catalog in memory keeps nothing: use sqlite:///FILE")
    netloc = rest.split("/", 1)[0]
    if netloc.count("@") > 1:
        host = netloc.rpartition("@")[2]
        raise UsageError(
            f"catalog URL: {scheme}://***@{host}/...: its user or password holds an unencoded '@': write it as %40"
        )


def _check_writable_catalog(url: str) -> None:
    """Raise UsageError when a SQLite catalog's file or folder cannot be written (it opens read-only, for reading)."""
    where = _sqlite_file(url)
    why = where is not None and where.exists() and (unwritable(where) or unwritable(where.parent))
    if why:
        raise UsageError(f"catalog {where} is not writable ({why}): a run writes to it")


def need_archive(args: argparse.Namespace) -> None:
    """Raise UsageError when a reading command's archive is not there: its data folder, or its SQLite catalog's file.

    The commands that read WARC files need the folder only: a folder of WARC files whose
    catalog is gone is still an archive to verify (and repair).
    """
    if getattr(args, "reads_folder", False):
        if not Path(args.data).is_dir():
            raise UsageError(f"no archive at {args.data}")
        return
    if not getattr(args, "reads_catalog", False):
        return
    url = db_url(args)
    _check_url(url)
    try:
        where = _sqlite_file(url)
    except (ImportError, ValueError, _database_errors()) as exc:
        raise UsageError(f"catalog URL: {redacted(url)}: {_why_not(exc, url)}") from None
    if where is not None and not where.exists():
        default = where == DataLayout(args.data).catalog_file
        raise UsageError(f"no archive at {args.data}" if default else f"no archive at {where}: no such catalog")


def reach_catalog(args: argparse.Namespace) -> None:
    """Raise UsageError, as open_catalog would, when the command's catalog cannot be connected to; change nothing."""
    from archive.catalog.facade import Catalog

    need_archive(args)
    url = db_url(args)
    catalog = None
    try:
        catalog = Catalog(url)
        with catalog.engine.connect():
            pass
    except (ImportError, ValueError, OSError, _database_errors()) as exc:
        raise UsageError(f"catalog URL: {redacted(url)}: {_why_not(exc, url)}") from None
    finally:
        if catalog is not None:
            catalog.close()


def _sqlite_file(url: str) -> Path | None:
    """Return the file of a SQLite catalog URL; None for another database or one in memory."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database or "")


def _database_errors() -> type[Exception]:
    from sqlalchemy.exc import SQLAlchemyError

    return SQLAlchemyError


_WANTED = "(use sqlite:///FILE or postgresql://USER@HOST/DATABASE)"


def _why_not(exc: Exception, url: str) -> str:
    """Return why a catalog URL did not open, on one line, with no password in it."""
    from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError

    if isinstance(exc, NoSuchModuleError):
        reason = f"unsupported database {url.partition(':')[0]!r} {_WANTED}"
    elif isinstance(exc, ArgumentError):
        reason = f"not a database URL {_WANTED}"
    elif isinstance(exc, ImportError):
        reason = f"its database driver is not installed ({exc})"
    elif isinstance(exc, ValueError) and "[" in url.partition("://")[2].split("/")[0] and "]" not in url:
        reason = "its host's '[' is not closed (an IPv6 address is written [::1])"
    elif isinstance(exc, ValueError) and "int()" in str(exc):
        reason = "the port is not a number"
    elif isinstance(exc, OSError):
        reason = f"{exc.strerror}: {exc.filename}"
    elif isinstance(exc, DBAPIError):
        reason = str(exc.orig).strip().removeprefix("connection failed: ")
    else:
        reason = str(exc)
    reason = " ".join(reason.split("(Background on this error")[0].split())
    try:
        password = urlsplit(url).password
    except ValueError:  # no URL urllib can split ("postgresql://[::1"): redacted() hides its user part
        return reason
    return reason.replace(password, "***") if password else reason


def db_url(args: argparse.Namespace) -> str:
    return DataLayout(args.data).catalog_url(args.db)


def set_option(cmd: argparse.ArgumentParser) -> None:
    cmd.add_argument(
        "-s",
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="any Scrapy, ARCHIVE_, REPLAY_ or RETRY_ setting (an option given wins)",
    )


def settings_given(args: argparse.Namespace) -> dict[str, str]:
    """Return the --set NAME=VALUE pairs; UsageError names the first one that is not."""
    given = {}
    for item in args.set:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise UsageError(f"--set wants NAME=VALUE, not {item!r}")
        given[name] = value
    return given


def evidence_option(cmd: argparse.ArgumentParser) -> None:
    cmd.add_argument(
        "--site-evidence",
        choices=("off", "text", "all"),
        default="text",
        help="drop lines a site repeats on 2+ other pages: in text captures (default), also HTML (all), or never",
    )


def format_option(cmd: argparse.ArgumentParser, *choices: str) -> None:
    """Add --format: how the command prints its answer, the first of `choices` by default."""
    cmd.add_argument("--format", choices=choices, default=choices[0], help=f"output format (default: {choices[0]})")


def comments_option(cmd: argparse.ArgumentParser) -> None:
    cmd.add_argument(
        "--comments",
        action="store_true",
        default=None,  # not given: ARCHIVE_COMMENTS (off unless --set) decides
        help="keep reader comments after the article (default: drop them); recorded per record",
    )


_EXCHANGES = {
    "error": "4xx/5xx answers",
    "other": "non-HTML bodies",
    "redirect": "redirects",
    "requisite": "requisites",
    "robots": "robots.txt",
    "truncated": "truncated bodies",
}


EXIT_INTERRUPTED = 130  # as a shell reports a command Ctrl-C stopped (128 + SIGINT)
FAILURES_SHOWN = 50  # failure lines a summary prints; `scraper crawls RUN` lists them all


def print_summary(stats: dict[str, Any], args: argparse.Namespace, command: str = "replay") -> int:
    """Print what the run did and how it ended; return the exit status (docs/cli.md#exit-status).

    0: it did its job (pages a site answered with an HTTP error are counted, not failures);
    1: inputs failed; 130: interrupted (with how to continue).
    """
    get = stats.get
    print(
        f"{command}: {get('archive/captures_read', 0)} captures read, {get('archive/records_written', 0)} records "
        f"written, {get('archive/unchanged', 0)} unchanged, {get('archive/failed', 0)} failed"
        + (f" ({get('archive/no_text')} of them archived raw with no main text)" if get("archive/no_text") else "")
    )
    print(
        f"extraction: {get('extraction/jobs', 1)} process(es), {get('extraction/in_workers', 0)} captures "
        f"extracted in workers, {get('extraction/worker_restarts', 0)} worker restarts"
    )
    if command == "crawl":
        requisites = get("archive/exchanges/requisite", 0)
        kept = {k.removeprefix("archive/exchanges/"): v for k, v in stats.items() if k.startswith("archive/exchanges/")}
        print(
            f"fetched: {get('downloader/response_count', 0)} responses, {get('archive/revisits', 0)} revisits, "
            f"{sum(kept.values()) - requisites} other exchanges archived, {requisites} requisites, "
            f"{get('crawl/skipped_not_html', 0)} not HTML, {get('crawl/robots_forbidden', 0)} forbidden by robots.txt, "
            f"{get('archive/resumed_from_warc', 0)} resumed from the archive, "
            f"{get('crawl/refused_address', 0)} refused by the network guard"
            + (f", {get('crawl/links_capped')} links over the per-page cap" if get("crawl/links_capped") else "")
        )
        if kept:  # what was archived with no catalog page, by why
            print("exchanges: " + ", ".join(f"{n} {_EXCHANGES.get(why, why)}" for why, n in sorted(kept.items())))
        if any(k.startswith("crawl/requisites") for k in stats):
            print(
                f"requisites: {requisites} archived, {get('crawl/requisites_capped', 0)} over the per-page cap, "
                f"{get('crawl/requisites_too_large', 0)} too large, {get('crawl/requisites_failed', 0)} failed, "
                f"{get('crawl/requisites_out_of_scope', 0)} out of scope"
            )
    if command == "reextract":
        print(
            f"re-extracted: {get('archive/reextracted', 0)} captures given a new extraction, "
            f"{get('archive/not_in_catalog', 0)} raw records the catalog does not point at (left alone)"
        )
    if get("frontier/worker"):
        print(
            f"frontier: worker {get('frontier/worker')}, {get('frontier/acknowledged', 0)} item(s) done, "
            f"{get('frontier/items_put_back', 0)} put back, {get('frontier/workers_reaped', 0)} dead worker(s) "
            f"reaped, {get('frontier/runs_finished', 0)} run(s) finished here"
        )
    run = get("archive/crawl_id") or ""
    if get("archive/http_errors"):
        by_status = sorted(
            (int(k.rsplit("/", 1)[1]), v) for k, v in stats.items() if k.startswith("archive/http_status/")
        )
        print(
            f"http errors: {get('archive/http_errors')} page(s) the sites answered with an error, archived as "
            f"received ({', '.join(f'{n} x {status}' for status, n in by_status)})"
            + (f"; listed by: scraper crawls {run[:8]}" if run else "")
        )
    failures = get("archive/failures", [])
    for source, reason in failures[:FAILURES_SHOWN]:
        print(f"  failed: {shown(source)}: {shown(reason)}", file=sys.stderr)
    if len(failures) > FAILURES_SHOWN:
        more = len(failures) - FAILURES_SHOWN
        print(
            f"  ... and {more} more failed" + (f": scraper crawls {run[:8]} lists them all" if run else ""),
            file=sys.stderr,
        )
    for line in get("archive/dead_runs_closed", []):
        print(f"  interrupted: {shown(line)}", file=sys.stderr)
    skipped = {
        k.removeprefix("replay/warc_skipped/"): v for k, v in stats.items() if k.startswith("replay/warc_skipped/")
    }
    if skipped:
        print("skipped WARC records: " + ", ".join(f"{n} {kind}" for kind, n in sorted(skipped.items())))
    print(
        f"words: {get('archive/words_kept', 0):,} kept, "
        f"{get('archive/boilerplate_words_dropped', 0):,} boilerplate dropped"
    )
    files = get("archive/warc_files", [])
    warc = shown(DataLayout(args.data).warc)
    print(f"warc: {len(files)} file(s), {get('archive/warc_bytes', 0):,} bytes in {warc}")
    for name in files:
        print(f"  {warc}/{shown(name)}")
    from archive.catalog.facade import Catalog

    catalog = Catalog(db_url(args))
    counts = catalog.count()
    catalog.close()
    print(
        f"catalog: {shown(redacted(db_url(args)))} ({counts['documents']} documents, "
        f"{counts['captures']} captures, crawl {get('archive/crawl_id') or ', '.join(get('archive/runs', [])) or '-'})"
    )
    return _outcome(stats, args, command)


def _outcome(stats: dict[str, Any], args: argparse.Namespace, command: str) -> int:
    """Say how to go on after an interruption (Ctrl-C, SIGTERM); return the run's exit status."""
    if stats.get("finish_reason") != "shutdown":
        return 1 if stats.get("archive/failed", 0) else 0
    run = stats.get("archive/crawl_id")
    if stats.get("frontier/worker"):
        how = "the frontier keeps its crawls: start a worker again (scraper crawl --frontier URL) to go on"
    elif command == "crawl" and run:
        where = [f"--data {shlex.quote(str(args.data))}"] if Path(args.data) != Path("data") else []
        if getattr(args, "db", None):
            where.append(f"--db {shlex.quote(redacted(args.db))}")
        how = f"resume with: scraper crawl --resume {run[:8]}" + "".join(f" {w}" for w in where)
    else:  # a replay or re-extraction: what it archived counts as unchanged when run again
        how = f"run the same {command} again to finish it: what it archived already is kept, not written twice"
    print(f"interrupted: {how}", file=sys.stderr)
    return EXIT_INTERRUPTED
