"""Shared fixtures: catalogs on real SQLite files and a real PostgreSQL server, the CLI in-process or as a subprocess.

Tiers: `pytest -m "not slow"` (make test-fast) runs everything but the tests marked slow;
`pytest` (make test) runs all of them.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import subprocess
import sys
import traceback
import uuid
import warnings
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import pytest

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

    from archive.catalog.facade import Catalog
    from archive.frontier.store import Frontier

T = TypeVar("T")

ROOT = Path(__file__).resolve().parent.parent
PROJECT_SEEDS = ROOT / "seeds"
SHARED_SEEDS = ROOT.parent / "shared" / "seeds"
EVAL_SET = ROOT.parent / "shared" / "eval" / "trafilatura-eval"
DATA = Path(__file__).resolve().parent / "data"
IN_CI = os.environ.get("CI", "").lower() == "true"
PG_URL = os.environ.get("SCRAPER_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("SCRAPER_TEST_REDIS", "redis://127.0.0.1:6379/0")


# setpriv's options that take root's power to pass mode bits away (an unreadable file stays unreadable).
NO_DAC = ("--inh-caps=-dac_override,-dac_read_search", "--bounding-set=-dac_override,-dac_read_search")


def need(condition: bool, reason: str) -> None:
    """Skip with `reason` when `condition` fails; in CI (CI=true) fail instead."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"required in CI: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def shared_seeds() -> Path:
    need(SHARED_SEEDS.is_dir(), f"the shared seed captures are not at {SHARED_SEEDS}")
    return SHARED_SEEDS


def _unreachable(connect: Callable[[], object], errors: type[Exception]) -> str | None:
    """Return why a server cannot be reached (the first line of the error `connect` raised), or None."""
    try:
        connect()
    except errors as exc:
        return str(exc).strip().splitlines()[0]
    return None


def _postgres_reachable() -> str | None:
    import psycopg

    return _unreachable(
        lambda: psycopg.connect(PG_URL.replace("+psycopg", ""), connect_timeout=3).close(), psycopg.Error
    )


@contextlib.contextmanager
def postgres_schema() -> Iterator[str]:
    """Yield a URL to a fresh schema of the test database, dropped afterwards (any fixture scope may use it)."""
    import psycopg

    problem = _postgres_reachable()
    need(problem is None, f"PostgreSQL not reachable at {PG_URL}: {problem}")
    schema = f"t_{uuid.uuid4().hex[:16]}"
    plain = PG_URL.replace("+psycopg", "")
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    try:
        yield f"{PG_URL}?options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(plain, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """Return a URL to a fresh schema of the test database, dropped afterwards."""
    with postgres_schema() as url:
        yield url


# Where behaviour differs by database (search and ranking, migrations, locking, JSON and LIKE
# filters, advisory locks), and for one end-to-end run per command family, a test asks for
# `db_url` (or `cli_any_db`) and runs on both; everything else asks for `cli` and runs on SQLite.
BOTH_DATABASES = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


@pytest.fixture(params=BOTH_DATABASES)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Return a catalog URL: a real SQLite file, or a fresh schema on the PostgreSQL server."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'catalog.sqlite'}"
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def catalog(db_url: str) -> Iterator[Catalog]:
    """A migrated catalog on each database in turn."""
    from archive.catalog.facade import Catalog

    opened = Catalog(db_url)
    opened.migrate()
    yield opened
    opened.close()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """Return the URL of a catalog in a real SQLite file of this test's own."""
    return f"sqlite:///{tmp_path / 'catalog.sqlite'}"


def _redis_reachable() -> str | None:
    import redis

    return _unreachable(lambda: redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3).ping(), redis.RedisError)


@pytest.fixture
def frontier() -> Iterator[Frontier]:
    """Return a frontier of its own (a fresh key prefix) on the Redis server; its keys are deleted afterwards."""
    from archive.frontier.store import Frontier

    problem = _redis_reachable()
    need(problem is None, f"Redis not reachable at {REDIS_URL}: {problem}")
    found = Frontier(REDIS_URL, f"test-{uuid.uuid4().hex[:12]}")
    try:
        yield found
    finally:
        found.purge()
        found.close()


@dataclass
class Result:
    code: int
    out: str
    err: str
    stdout_bytes: bytes


# Commands that start no Scrapy crawl run in this process (`archive.cli.main`); the others start
# a Twisted reactor, which cannot restart in one process, so they run as `python -m archive.cli`.
IN_PROCESS = frozenset(
    {"query", "show", "history", "crawls", "export", "index", "wacz", "verify", "repair", "similar", "stories"}
    | {"extract", "eval", "frontier", "enqueue"}
)


@dataclass
class Cli:
    """Runs `scraper` on one data directory and catalog: in this process where it can, else in a subprocess.

    `spawn` always starts a process: for tests where the process boundary is the point.
    """

    cwd: Path
    data: Path
    db: str

    def env(self) -> dict[str, str]:
        return {"SCRAPER_DB": self.db, "SCRAPER_DATA": str(self.data)}

    def __call__(self, *args: str, check: bool = False) -> Result:
        run = self._in_process if args and args[0] in IN_PROCESS else self.spawn
        result = run(*args)
        if check and result.code != 0:
            raise AssertionError(f"scraper {' '.join(args)} exited {result.code}:\n{result.out}\n{result.err}")
        return result

    def spawn(self, *args: str) -> Result:
        """Run `python -m archive.cli ARGS` (the console script's module) in a process of its own."""
        env = {**os.environ, **self.env(), "PYTHONWARNINGS": "error"}
        proc = subprocess.run(
            [sys.executable, "-m", "archive.cli", *args],
            cwd=self.cwd,
            env=env,
            capture_output=True,
            timeout=600,
            check=False,
        )
        return Result(proc.returncode, proc.stdout.decode("utf-8", "replace"), proc.stderr.decode(), proc.stdout)

    def as_owner(self, *args: str) -> Result:
        """Run `scraper ARGS` in a process of its own without root's power to pass mode bits (setpriv), as an owner would."""
        command = [sys.executable, "-m", "archive.cli", *args]
        if os.geteuid() == 0:
            setpriv = shutil.which("setpriv")
            if setpriv is None:
                pytest.skip("setpriv (util-linux) is needed to drop root's power to pass mode bits")
            command = [setpriv, *NO_DAC, *command]
        done = subprocess.run(command, cwd=self.cwd, env={**os.environ, **self.env()}, capture_output=True, check=False)
        return Result(done.returncode, done.stdout.decode(), done.stderr.decode(), done.stdout)

    def _in_process(self, *args: str) -> Result:
        """Run `archive.cli.main(ARGS)` here, as the process would: its environment, its output, its exit status.

        The parser reads $SCRAPER_DATA and friends when it is built, so they are set first. An
        exception `main` lets out is what the process would die of: exit status 1 and its traceback.
        """
        from archive.cli import main

        out, err = io.BytesIO(), io.StringIO()
        stdout = io.TextIOWrapper(out, encoding="utf-8", newline="", write_through=True)
        with (
            _environment(self.env()),
            contextlib.redirect_stdout(stdout),
            contextlib.redirect_stderr(err),
            warnings.catch_warnings(),
        ):
            # cdxj-indexer (index, wacz) never closes the spool files it buffers records in; a process
            # only prints "Exception ignored" for them as they are collected, and so does this.
            warnings.filterwarnings("ignore", r"unclosed file <tempfile\.SpooledTemporaryFile", ResourceWarning)
            try:
                code = main(list(args))
            except SystemExit as exc:  # argparse's usage errors and --version
                code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
            except Exception:
                traceback.print_exc()
                code = 1
            stdout.flush()
        return Result(code, out.getvalue().decode("utf-8", "replace"), err.getvalue(), out.getvalue())


@contextlib.contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@pytest.fixture
def cli(tmp_path: Path, sqlite_url: str) -> Cli:
    """The CLI on a SQLite catalog of this test's own."""
    return Cli(cwd=tmp_path, data=tmp_path / "data", db=sqlite_url)


@pytest.fixture
def cli_any_db(tmp_path: Path, db_url: str) -> Cli:
    """The CLI on each database in turn: where behaviour differs by database, or a command family's one run on both."""
    return Cli(cwd=tmp_path, data=tmp_path / "data", db=db_url)


def copy_archive(template: Cli, into: Path) -> Cli:
    """Return a CLI on a copy of a (SQLite) archive another fixture made once: a test may change its copy."""
    assert template.db.startswith("sqlite:///"), "only a SQLite catalog is a file to copy"
    into.mkdir(parents=True, exist_ok=True)
    shutil.copytree(template.data, into / "data")
    catalog = into / "catalog.sqlite"
    shutil.copy(template.db.removeprefix("sqlite:///"), catalog)
    return Cli(cwd=into, data=into / "data", db=f"sqlite:///{catalog}")


@pytest.fixture(scope="session")
def project_seeds_archive(tmp_path_factory: pytest.TempPathFactory) -> tuple[Cli, Result]:
    """Replay seeds/ once into a SQLite archive (a template: tests read it, or change a copy_archive of it)."""
    work = tmp_path_factory.mktemp("project-seeds")
    template = Cli(cwd=work, data=work / "data", db=f"sqlite:///{work / 'catalog.sqlite'}")
    return template, template("replay", str(PROJECT_SEEDS), check=True)


# --- Scrapy components in this process --------------------------------------------------------


@pytest.fixture(scope="session")
def asyncio_reactor() -> Any:
    """Install the reactor the project runs on (asyncio), as Scrapy's own tests do; return its event loop.

    It never runs: components are called directly, and coroutines run to completion on its loop.
    """
    from scrapy.utils.reactor import install_reactor, is_asyncio_reactor_installed

    install_reactor("twisted.internet.asyncioreactor.AsyncioSelectorReactor")
    assert is_asyncio_reactor_installed(), "another reactor was installed in this process first"
    from twisted.internet import reactor

    return reactor._asyncioEventloop  # type: ignore[attr-defined]


@pytest.fixture
def run_async(asyncio_reactor: Any) -> Callable[[Coroutine[Any, Any, T]], T]:
    """Return a function that runs a coroutine (a component's async method) to its end on the reactor's loop."""
    return asyncio_reactor.run_until_complete  # type: ignore[no-any-return]


@pytest.fixture
def make_crawler(asyncio_reactor: Any) -> Callable[..., Crawler]:
    """Return a function making a Crawler with the given settings and an open spider, as Scrapy's tests make theirs.

    No engine runs; download handlers are off, so nothing can reach the network, and Scrapy's own
    extensions are off, so the component under test is the only one listening to the signals.
    """
    from scrapy import Spider
    from scrapy.utils.test import get_crawler

    def make(settings: dict[str, Any] | None = None, spider: type[Spider] = Spider) -> Crawler:
        quiet = {"DOWNLOAD_HANDLERS": {"http": None, "https": None, "ftp": None, "s3": None}, "EXTENSIONS_BASE": {}}
        crawler = get_crawler(spider, {**quiet, **(settings or {})})
        crawler.spider = spider.from_crawler(crawler, name="test")
        return crawler

    return make


def crawl_rows(db: str) -> list[dict[str, Any]]:
    """Return the catalog's runs, newest first, read with SQL (the crawls table, as the migrations make it)."""
    import json

    from sqlalchemy import create_engine, text

    engine = create_engine(db)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                text("SELECT id, kind, status, args, counts FROM crawls ORDER BY started_at DESC")
            )
            found = [dict(row._mapping) for row in rows]
    finally:
        engine.dispose()
    for row in found:  # JSON columns: text on SQLite, decoded already on PostgreSQL
        for key in ("args", "counts"):
            row[key] = json.loads(row[key]) if isinstance(row[key], str) else row[key]
    return found


def warc_files(data: Path) -> list[Path]:
    return sorted((data / "warc").glob("*.warc.gz"))


def warcio_check(paths: list[Path]) -> subprocess.CompletedProcess[str]:
    """Run `warcio check` (the real command) over WARC files."""
    warcio = Path(sys.executable).with_name("warcio")
    return subprocess.run(
        [str(warcio), "check", "-v", *map(str, paths)], capture_output=True, text=True, check=False, timeout=300
    )
