"""Shared fixtures: catalogs on real SQLite files and a real PostgreSQL server, the CLI as a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import pytest

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

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


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """Return a URL to a fresh schema of the test database, dropped afterwards."""
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


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Return a catalog URL: a real SQLite file, or a fresh schema on the PostgreSQL server."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'catalog.sqlite'}"
    return str(request.getfixturevalue("postgres_url"))


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


@dataclass
class Cli:
    """Runs `scraper` in a subprocess (a Twisted reactor cannot restart in one process)."""

    cwd: Path
    data: Path
    db: str

    def __call__(self, *args: str, check: bool = False) -> Result:
        env = {**os.environ, "SCRAPER_DB": self.db, "SCRAPER_DATA": str(self.data), "PYTHONWARNINGS": "error"}
        proc = subprocess.run(
            [sys.executable, "-m", "archive.cli", *args],
            cwd=self.cwd,
            env=env,
            capture_output=True,
            timeout=600,
            check=False,
        )
        result = Result(proc.returncode, proc.stdout.decode("utf-8", "replace"), proc.stderr.decode(), proc.stdout)
        if check and proc.returncode != 0:
            raise AssertionError(f"scraper {' '.join(args)} exited {proc.returncode}:\n{result.out}\n{result.err}")
        return result


@pytest.fixture
def cli(tmp_path: Path, db_url: str) -> Cli:
    return Cli(cwd=tmp_path, data=tmp_path / "data", db=db_url)


def warc_files(data: Path) -> list[Path]:
    return sorted((data / "warc").glob("*.warc.gz"))


def warcio_check(paths: list[Path]) -> subprocess.CompletedProcess[str]:
    """Run `warcio check` (the real command) over WARC files."""
    warcio = Path(sys.executable).with_name("warcio")
    return subprocess.run(
        [str(warcio), "check", "-v", *map(str, paths)], capture_output=True, text=True, check=False, timeout=300
    )


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
