"""Seed files, schedule files, and `scraper schedule` running jobs under a lock."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from archive.crawl.seeds import Seed, SeedError, parse_seed_lines
from archive.schedule import ScheduleError, job_lock, load_schedule
from tests.conftest import Cli
from tests.newsite import ARTICLES, NewsSite


def test_seed_lines_with_comments_markers_and_options() -> None:
    seeds = parse_seed_lines(
        [
            "# the news desk's sources",
            "",
            "https://news.example/  depth=2   # the home page",
            "https://news.example/feed.xml feed",
            "https://news.example/map.xml kind=sitemap max-pages=50",
            "https://news.example/page#section",
        ]
    )
    assert seeds == [
        Seed("https://news.example/", "auto", 2, None),
        Seed("https://news.example/feed.xml", "feed", None, None),
        Seed("https://news.example/map.xml", "sitemap", None, 50),
        Seed("https://news.example/page#section", "auto", None, None),  # a fragment is not a comment
    ]


def test_a_seed_with_an_upper_case_scheme_or_host_is_the_same_page_in_lower_case() -> None:
    [seed] = parse_seed_lines(["HTTP://News.Example:8080/Politics/Page?Id=A  depth=1"])
    # Scheme and host are case-insensitive; path and query are not, and stay as given.
    assert seed == Seed("http://news.example:8080/Politics/Page?Id=A", "auto", 1, None)


def test_a_seed_with_a_user_or_password_is_refused_and_its_password_not_shown() -> None:
    """Scrapy would take `Reader:Secret@WWW.News.Example` for the host name; the crawl's record would keep the password."""
    for line in ("HTTPS://Reader:Secret@WWW.News.Example/A", "https://reader@news.example/"):
        with pytest.raises(SeedError, match="a user or password in a seed URL cannot be sent") as caught:
            parse_seed_lines([line], "seeds.txt")
        assert "Secret" not in str(caught.value) and str(caught.value).startswith("seeds.txt:1: 'https://")


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("ftp://news.example/", "not an http\\(s\\) URL"),
        ("news.example/page", "not an http\\(s\\) URL"),
        ("https://news.example/ depth=deep", "unknown option 'depth=deep'"),
        ("https://news.example/ podcast", "unknown option 'podcast'"),
        ("https://news.example/ max-pages=0", "unknown option 'max-pages=0' .*max-pages=N from 1"),
        ("https://news.example:99999/", "not a URL: 'https://news.example:99999/' \\(Port out of range"),
        ("https://reader:s3cret@news.example:abc/", "not a URL: 'https://reader:\\*\\*\\*@news.example:abc/'"),
        ("https://" + "x" * 9000, "longer than"),
    ],
)
def test_a_bad_seed_line_is_named_with_its_line_number(line: str, reason: str) -> None:
    with pytest.raises(SeedError, match=reason) as caught:
        parse_seed_lines(["# fine", line], "seeds.txt")
    assert str(caught.value).startswith("seeds.txt:2:")


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "schedule.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_schedule_file_jobs_and_their_crawl_arguments(tmp_path: Path) -> None:
    (tmp_path / "maps.txt").write_text("https://news.example/sitemap.xml sitemap\n", encoding="utf-8")
    jobs = load_schedule(
        _write(
            tmp_path,
            '[defaults]\ncontact = "https://archive.example/contact"\n'
            '[jobs.feeds]\nseeds = ["https://news.example/feed.xml"]\nevery = "15m"\nargs = ["--depth", "0"]\n'
            '[jobs.maps]\nseeds_file = "maps.txt"\ncron = "0 3 * * *"\ncomments = true\n',
        )
    )
    feeds, maps = jobs
    assert feeds.every == 900 and feeds.cron is None
    assert feeds.crawl_args == [
        "https://news.example/feed.xml",
        "--contact",
        "https://archive.example/contact",
        "--depth",
        "0",
        "--job",
        "feeds",
    ]
    assert maps.crawl_args[:2] == ["--seeds", str((tmp_path / "maps.txt").resolve())]
    assert "--comments" in maps.crawl_args and "--comments" not in feeds.crawl_args
    from datetime import UTC, datetime

    maps.schedule_after(datetime(2026, 5, 6, 12, 0, tzinfo=UTC))
    assert maps.next_run == datetime(2026, 5, 7, 3, 0, tzinfo=UTC)
    feeds.schedule_after(datetime(2026, 5, 6, 12, 0, tzinfo=UTC))
    assert feeds.next_run == datetime(2026, 5, 6, 12, 15, tzinfo=UTC)


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ('[jobs.a]\nseeds = ["https://x.example/"]\nevery = "soon"\n', "not an interval"),
        ('[jobs.a]\nseeds = ["https://x.example/"]\nevery = "1h"\ncron = "* * * * *"\n', "exactly one of"),
        ('[jobs.a]\nseeds = ["https://x.example/"]\ncron = "every day"\n', "not a five-field cron"),
        ('[jobs.a]\nevery = "1h"\n', "give seeds"),
        ('[jobs."a b"]\nseeds = ["https://x.example/"]\nevery = "1h"\n', "job name"),
        ("[jobs\n", "schedule.toml"),
        ('title = "nothing to do"\n', "no \\[jobs.NAME\\] tables"),
        (
            '[jobs.a]\nseeds = ["https://x.example/"]\nevery = "1h"\nmaxpages = 50\n',
            "unknown key 'maxpages' \\(did you mean 'max_pages'\\?\\)",
        ),
        (
            '[jobs.a]\nseeds = ["https://x.example/"]\nevery = "1h"\nfrobnicate = 1\n',
            "unknown key 'frobnicate' \\(known keys: args, comments, contact,",
        ),
    ],
)
def test_a_bad_schedule_file_is_named_with_the_reason(tmp_path: Path, body: str, reason: str) -> None:
    with pytest.raises(ScheduleError, match=reason):
        load_schedule(_write(tmp_path, body))


FAST = '["--delay", "0", "--timeout", "3", "--allow-network", "127.0.0.1/32"]'  # the site is on loopback


@pytest.mark.slow  # three crawls
def test_schedule_runs_each_job_and_records_the_runs(cli: Cli, tmp_path: Path) -> None:
    with NewsSite() as site:
        schedule = _write(
            tmp_path,
            f'[jobs.maps]\nseeds = ["{site.base}/sitemap.xml"]\nevery = "1d"\nargs = {FAST}\n'
            f'[jobs.feeds]\nseeds = ["{site.base}/feeds/rss.xml"]\nevery = "1s"\nargs = {FAST}\n',
        )
        done = cli("schedule", str(schedule), "--max-runs", "3", check=True)
    assert "maps: crawl started" in done.out and done.out.count("feeds: crawl started") == 2
    runs = json.loads(cli("crawls", "--format", "json", check=True).out)
    assert sorted(r["args"]["job"] for r in runs) == ["feeds", "feeds", "maps"]
    assert all(r["status"] == "finished" for r in runs)
    records = [json.loads(line) for line in cli("export", check=True).out.splitlines()]
    assert len(records) == len(ARTICLES)  # the second feeds run archived nothing new


@pytest.mark.slow  # two crawls
def test_schedule_once_exits_1_naming_the_jobs_whose_crawl_failed(cli: Cli, tmp_path: Path) -> None:
    with NewsSite() as site:
        schedule = _write(
            tmp_path,
            f'[jobs.good]\nseeds = ["{site.base}/harbour/fish-market"]\nevery = "1h"\ndepth = 0\nargs = {FAST}\n'
            # Nothing listens on the discard port: the crawl's one page fails, and so does the job.
            '[jobs.down]\nseeds = ["http://127.0.0.1:9/"]\nevery = "1h"\nargs = ["--retries", "0", '
            '"--timeout", "3", "--allow-network", "127.0.0.1/32"]\n',
        )
        done = cli("schedule", str(schedule), "--once")
    assert done.code == 1, done.out + done.err
    assert "schedule: 1 run(s) failed: down (status 1)" in done.out
    assert "good: crawl ended with status 0" in done.out


def test_a_job_another_scheduler_holds_is_skipped(cli: Cli, tmp_path: Path) -> None:
    schedule = _write(tmp_path, '[jobs.maps]\nseeds = ["http://127.0.0.1:9/sitemap.xml"]\nevery = "1h"\n')
    with job_lock(cli.data, "maps", cli.db) as held:
        assert held
        done = cli("schedule", str(schedule), "--once", check=True)
    assert "maps: skipped, another scheduler is running it" in done.out
    assert json.loads(cli("crawls", "--format", "json", check=True).out) == []


def test_schedulers_on_other_machines_share_the_lock_through_postgresql(tmp_path: Path, postgres_url: str) -> None:
    """Two data directories (two machines), one PostgreSQL catalog: the advisory lock decides."""
    schedule = _write(tmp_path, '[jobs.maps]\nseeds = ["http://127.0.0.1:9/sitemap.xml"]\nevery = "1h"\n')
    other = Cli(cwd=tmp_path, data=tmp_path / "machine-b", db=postgres_url)
    with job_lock(tmp_path / "machine-a", "maps", postgres_url) as held:
        assert held
        done = other("schedule", str(schedule), "--once", check=True)
    assert "maps: skipped, another scheduler is running it" in done.out
