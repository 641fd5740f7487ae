"""Bit rot in closed WARC files costs no intact record (a few dozen seeded faults; tests/bitrot.py has more)."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from tests.bitrot import Archive, Harness, build_archive, describe, plain_copy
from tests.conftest import EVAL_SET, SHARED_SEEDS, Cli, Result, need, warc_files
from tests.newsite import NewsSite
from tests.test_crawl import FAST


@pytest.fixture
def seeds_archives(project_seeds_archive: tuple[Cli, Result], tmp_path: Path) -> list[Archive]:
    """The session's replay of seeds/ (read, never changed: trials damage copies), as .warc.gz and as plain .warc."""
    cli = project_seeds_archive[0]
    [warc] = warc_files(cli.data)
    packed = describe(cli.data, Path(cli.db.removeprefix("sqlite:///")), warc)
    return [packed, plain_copy(packed, tmp_path / "plain")]


@pytest.fixture(scope="module")
def crawl_archives(tmp_path_factory: pytest.TempPathFactory) -> list[Archive]:
    """A crawl of the test news site on loopback, as .warc.gz and as plain .warc, then a recrawl.

    The first file holds what a live crawl writes and a replay does not: requests, robots.txt,
    redirects, a 404, responses next to their conversion and metadata records. The recrawl's
    file (revisits of those responses, and a new capture of the one article that changed)
    stays undamaged beside it, and so must its capture's catalog rows.
    """
    work = tmp_path_factory.mktemp("crawl-bitrot")
    cli = Cli(work, work / "data", f"sqlite:///{work / 'catalog.sqlite'}")
    with NewsSite() as site:
        cli("crawl", f"{site.base}/", "--depth", "2", *FAST, check=True)
        site.state.edition = 2  # one article gains a paragraph
        cli("crawl", f"{site.base}/sitemap.xml", *FAST, check=True)
    first, recrawl = warc_files(cli.data)
    assert b"WARC-Type: revisit" in gzip.decompress(recrawl.read_bytes())
    packed = describe(cli.data, work / "catalog.sqlite", first)
    assert len(packed.elsewhere) == 1 and len(packed.rows) > 5
    return [packed, plain_copy(packed, work / "plain")]


def _check(report_faults: int, harness: Harness) -> None:
    report = harness.run(report_faults)
    assert report.failures == [], report.summary()
    assert report.faults >= report_faults and report.lost == 0
    assert report.intact_after == report.intact_before > 0
    assert set(report.by_kind) == {"flip", "cut", "garbage", "fake-warc", "fake-gzip"}, report.by_kind
    assert report.captures_kept > 0 and report.captures_damaged > 0  # both outcomes were exercised
    assert report.quarantined_bytes > 0


def test_flips_cut_outs_and_garbage_cost_no_intact_record(seeds_archives: list[Archive], tmp_path: Path) -> None:
    _check(30, Harness(tmp_path / "trials", seeds_archives, seed=5))


@pytest.mark.slow  # its crawl archives take 10 s to make
def test_bit_rot_in_a_crawls_file_costs_no_intact_record(crawl_archives: list[Archive], tmp_path: Path) -> None:
    types = {b"request", b"response", b"metadata", b"conversion"}
    assert all(b"WARC-Type: " + t in gzip.decompress(crawl_archives[0].warc.read_bytes()) for t in types)
    _check(30, Harness(tmp_path / "trials", crawl_archives, seed=8))


@pytest.mark.slow
def test_on_postgresql_too(seeds_archives: list[Archive], tmp_path: Path, postgres_url: str) -> None:
    _check(24, Harness(tmp_path / "trials", seeds_archives, seed=6, db_url=postgres_url.split("?")[0]))


@pytest.mark.slow
def test_five_hundred_faults_cost_no_intact_record(tmp_path: Path) -> None:
    need((EVAL_SET / "html").is_dir() and SHARED_SEEDS.is_dir(), f"the evaluation set and seeds beside {EVAL_SET}")
    packed = build_archive(tmp_path, 6)
    harness = Harness(tmp_path / "trials", [packed, plain_copy(packed, tmp_path)], seed=11)
    report = harness.run(500)
    assert report.failures == [], report.summary()
    assert report.faults >= 500 and report.lost == 0 and report.intact_after == report.intact_before > 1000
