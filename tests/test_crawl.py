"""Live crawls against a real HTTP server on 127.0.0.1 (tests/newsite.py), through the real CLI.

Crawls run as subprocesses; export, history, index, wacz and crawls in this process. The recrawl
test is the crawl family's run on SQLite and PostgreSQL (conditional requests read validators,
revisits and versions the catalog's latest capture), the WACZ test the export/index/wacz
family's; the others run on SQLite.
"""

from __future__ import annotations

import gzip
import itertools
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from surt import surt as surt_of
from warcio.archiveiterator import ArchiveIterator

from scraper import __version__
from tests.conftest import BOTH_DATABASES, Cli, copy_archive, postgres_schema, warc_files, warcio_check
from tests.newsite import ARTICLES, NewsSite

# Fast but still polite: no fixed delay (robots.txt's Crawl-delay 0.2 s still applies), short backoff.
# The test site is on loopback, which crawls refuse unless allowed (archive.crawl.netguard).
LOOPBACK = ["--allow-network", "127.0.0.1/32"]
FAST = ["--delay", "0", "--timeout", "3", "-s", "RETRY_BACKOFF_BASE=0.05", *LOOPBACK]


@pytest.fixture
def site() -> NewsSite:
    with NewsSite() as served:
        yield served  # type: ignore[misc]


def _warc_records(cli: Cli) -> list[tuple[str, dict[str, str], str, bytes]]:
    """(type, WARC headers, HTTP status line, payload as stored) of every record, in file order."""
    out = []
    for path in warc_files(cli.data):
        with path.open("rb") as fh:
            for record in ArchiveIterator(fh):
                status = record.http_headers.statusline if record.http_headers else ""
                if record.rec_type == "request" and record.http_headers:  # warcio: protocol holds the method
                    status = record.http_headers.protocol + " " + status
                out.append((record.rec_type, dict(record.rec_headers.headers), status, record.raw_stream.read()))
    return out


def _export(cli: Cli) -> list[dict]:
    return [json.loads(line) for line in cli("export", "--format", "jsonl", check=True).out.splitlines()]


def _article_urls(site: NewsSite) -> set[str]:
    return {f"{site.base}/{path}" for path in ARTICLES}


def test_crawl_from_the_home_page_archives_the_site_faithfully(cli: Cli, site: NewsSite) -> None:
    done = cli("crawl", f"{site.base}/", "--depth", "2", "--contact", "https://archive.example/contact", *FAST)
    # The footer's /about is a 404: the site's answer to a link it gave, not the crawl's failure. It is
    # counted and listed by `crawls RUN`, not printed as a failure, and the run did its job (exit 0).
    assert done.code == 0, done.out + done.err
    agent = f"scraper-archive/{__version__} (+https://archive.example/contact)"
    assert {headers.get("User-Agent") for _, headers, _ in site.state.requests} == {agent}
    assert "failed:" not in done.err and ", 0 failed" in done.out
    assert "http errors: 1 page(s) the sites answered with an error, archived as received (1 x 404)" in done.out
    run = json.loads(cli("crawls", "--format", "json", check=True).out)[0]
    assert run["counts"]["http_errors"] == 1 and run["counts"]["failed"] == 0
    assert f"listed by: scraper crawls {run['id'][:8]}" in done.out
    listed = cli("crawls", run["id"][:8], check=True).out
    assert "0 failed, 1 HTTP error(s)" in listed and f"  HTTP 404: {site.base}/about\n" in listed
    problems = json.loads(cli("crawls", run["id"][:8], "--format", "json", check=True).out)["problems"]
    assert [(p["kind"], p["status"], p["source"]) for p in problems] == [("http", 404, f"{site.base}/about")]
    records = {r["source_url"]: r for r in _export(cli)}
    assert _article_urls(site) <= set(records)
    ferry = records[f"{site.base}/harbour/ferry-timetable"]
    assert ARTICLES["harbour/ferry-timetable"][3][0] in ferry["text"]
    for noise in ("Advertisement", "We use cookies", "Related stories", "All rights reserved"):
        assert noise not in ferry["text"], noise
    assert ferry["title"].startswith("Ferry timetable") and ferry["authors"] == ["Ines Calloway"]
    assert ferry["published"] == "2026-03-03" and ferry["provenance"]["source_kind"] == "live"
    # robots.txt: /private/ is never fetched; its refusal is counted, not reported as a failure.
    assert not any(target.startswith("/private") for target, _, _ in site.state.requests)
    assert "1 forbidden by robots.txt" in done.out

    warc = _warc_records(cli)
    check = warcio_check(warc_files(cli.data))
    assert check.returncode == 0, check.stdout + check.stderr
    by_id = {h["WARC-Record-ID"]: (t, h, s, p) for t, h, s, p in warc}
    responses = [(h, s, p) for t, h, s, p in warc if t == "response"]
    for headers, _, _ in responses:  # every response has its request, and they point at each other
        kind, request, _, _ = by_id[headers["WARC-Concurrent-To"]]
        assert kind == "request" and request["WARC-Concurrent-To"] == headers["WARC-Record-ID"]
        assert headers["WARC-IP-Address"] == "127.0.0.1"
    # The request line keeps its full query string.
    targets = [s for t, _, s, _ in warc if t == "request"]
    assert "GET /section/harbour?page=2&sort=new HTTP/1.1" in targets
    # The body as transferred: the article was served gzipped, and the WARC holds the gzip bytes.
    [(_, status, payload)] = [
        (h, s, p) for h, s, p in responses if h["WARC-Target-URI"] == f"{site.base}/harbour/ferry-timetable"
    ]
    assert status == "200 OK" and payload[:2] == b"\x1f\x8b"
    assert ARTICLES["harbour/ferry-timetable"][3][0].encode() in gzip.decompress(payload)
    # The redirect chain /old-home -> 301 -> /moved-once -> 302 is archived hop by hop.
    hops = {h["WARC-Target-URI"].rsplit("/", 1)[1]: s for h, s, _ in responses if s[:1] == "3"}
    assert hops == {"old-home": "301 Moved Permanently", "moved-once": "302 Found"}
    # Each file's warcinfo says how the crawl was made, as Heritrix and browsertrix-crawler write it.
    [info] = [p.decode() for t, _, _, p in warc if t == "warcinfo"]
    fields = dict(line.split(": ", 1) for line in info.strip().splitlines())
    assert fields["software"].startswith(f"scraper-archive/{__version__} (")
    assert fields["http-header-user-agent"] == agent and fields["robots"] == "obey"
    assert fields["isPartOf"] == json.loads(cli("crawls", "--format", "json", check=True).out)[0]["id"]
    assert fields["seeds"] == f"{site.base}/" and json.loads(fields["scope"])["depth"] == 2
    # Derived records never stand at the page's own URL (replay would take them for the page).
    derived = {t: h["WARC-Target-URI"] for t, h, _, _ in warc if t in ("conversion", "metadata")}
    assert derived["conversion"].startswith("urn:text:http://") and derived["metadata"].startswith("urn:record:http://")


@pytest.mark.slow
def test_every_request_waiting_for_robots_txt_obeys_it(cli: Cli, site: NewsSite) -> None:
    # Three seeds of one host reach the robots.txt check at once: the first fetches robots.txt, the
    # others wait for it. Scrapy 2.19's middleware hands the parser to the first waiter only, so the
    # third request (here the disallowed one) went out; archive.crawl.politeness gives each its own.
    seeds = [f"{site.base}/harbour/fish-market", f"{site.base}/council/cycle-routes", f"{site.base}/private/admin"]
    done = cli("crawl", *seeds, "--kind", "page", "--depth", "0", "--concurrency", "4", *FAST)
    assert done.code == 0, done.out + done.err
    assert "1 forbidden by robots.txt" in done.out
    assert site.state.hits["/private/admin"] == 0 and site.state.hits["/robots.txt"] == 1


@pytest.mark.slow
def test_replaying_a_crawls_warc_reproduces_its_documents(cli: Cli, site: NewsSite, tmp_path: Path) -> None:
    cli("crawl", f"{site.base}/", f"{site.base}/sitemap.xml", "--depth", "2", *FAST)
    crawled = {r["source_url"]: r["text_sha256"] for r in _export(cli)}
    other = Cli(cwd=tmp_path, data=tmp_path / "replayed", db=f"sqlite:///{tmp_path / 'replayed.sqlite'}")
    replayed = other("replay", *map(str, warc_files(cli.data)), check=True)
    assert f"{len(crawled)} records written" in replayed.out and ", 0 failed" in replayed.out
    # The sitemaps the crawl archived as fetched, and its redirects, are skipped by name, not failed.
    assert "1 application/xml response" in replayed.out and "1 application/x-gzip response" in replayed.out
    assert "1 HTTP 301 response" in replayed.out
    assert {r["source_url"]: r["text_sha256"] for r in _export(other)} == crawled


@pytest.mark.slow
def test_sitemap_index_with_a_gzipped_news_sitemap(cli: Cli, site: NewsSite) -> None:
    cli("crawl", f"{site.base}/sitemap.xml", *FAST, check=True)
    assert {r["source_url"] for r in _export(cli)} == _article_urls(site)
    assert site.state.hits["/sitemap-news.xml.gz"] == 1


@pytest.mark.slow
def test_sitemaps_named_in_robots_txt(cli: Cli, site: NewsSite, tmp_path: Path) -> None:
    seeds = tmp_path / "seeds.txt"
    seeds.write_text(f"# where the site lists its sitemaps\n{site.base}/robots.txt robots\n", encoding="utf-8")
    done = cli("crawl", "--seeds", str(seeds), *FAST, check=True)
    assert {r["source_url"] for r in _export(cli)} == _article_urls(site), done.out + done.err


@pytest.mark.slow
def test_rss_and_atom_feeds(cli: Cli, site: NewsSite) -> None:
    cli("crawl", f"{site.base}/feeds/rss.xml", f"{site.base}/feeds/atom.xml", *FAST, check=True)
    assert {r["source_url"] for r in _export(cli)} == _article_urls(site)


@pytest.mark.slow
def test_feeds_are_discovered_from_a_seed_pages_link_alternate(cli: Cli, site: NewsSite) -> None:
    cli("crawl", f"{site.base}/council/cycle-routes", "--depth", "0", "--feeds", *FAST, check=True)
    urls = {r["source_url"] for r in _export(cli)}
    assert site.state.hits["/feeds/rss.xml"] == 1
    assert urls == {
        f"{site.base}/council/cycle-routes",
        f"{site.base}/harbour/ferry-timetable",
        f"{site.base}/harbour/fish-market",
    }


@pytest.mark.slow
def test_retries_500_and_waits_as_a_429_asks(cli: Cli, site: NewsSite) -> None:
    cli("crawl", f"{site.base}/flaky", f"{site.base}/busy", "--depth", "0", *FAST, check=True)
    assert site.state.hits["/flaky"] == 2 and site.state.hits["/busy"] == 2
    assert len(_export(cli)) == 2
    # Every exchange is archived as it arrived: each failed attempt, and the robots.txt the crawl obeyed.
    responses = [(h["WARC-Target-URI"], s) for kind, h, s, _ in _warc_records(cli) if kind == "response"]
    assert [s for u, s in responses if u.endswith("/flaky")] == ["500 Internal Server Error", "200 OK"]
    assert [s for u, s in responses if u.endswith("/busy")] == ["429 Too Many Requests", "200 OK"]
    assert (f"{site.base}/robots.txt", "200 OK") in responses
    busy = [when for target, _, when in site.state.requests if target == "/busy"]
    assert busy[1] - busy[0] >= 0.95, "Retry-After: 1 was not honoured"


@pytest.mark.slow
def test_errors_are_named_and_the_crawl_goes_on(cli: Cli, site: NewsSite) -> None:
    site.state.slow_seconds = 4
    urls = [f"{site.base}/{p}" for p in ("missing", "report.pdf", "huge", "slow", "harbour/fish-market")]
    done = cli("crawl", *urls, "--depth", "0", *FAST, "--timeout", "1", "--max-body-bytes", "200000", "--retries", "0")
    assert done.code == 1  # inputs the user gave failed: theirs to look at
    failures = [line for line in done.err.splitlines() if line.strip().startswith("failed:")]
    assert any(f"{site.base}/missing: HTTP 404" in line for line in failures)  # a seed's 404 is a failure
    assert any(f"{site.base}/huge" in line and "size" in line.lower() for line in failures), failures
    assert any(f"{site.base}/slow" in line and "took longer" in line for line in failures), failures
    assert len(failures) == 3, failures  # the PDF is skipped, not failed
    assert "1 not HTML" in done.out
    assert [r["source_url"] for r in _export(cli)] == [f"{site.base}/harbour/fish-market"]
    assert warcio_check(warc_files(cli.data)).returncode == 0
    # The 404 is archived as received (a response record), though it makes no catalog page.
    missing = [
        (s, p)
        for kind, h, s, p in _warc_records(cli)
        if kind == "response" and h["WARC-Target-URI"].endswith("/missing")
    ]
    assert missing == [("404 Not Found", b"<html><body><h1>Not found</h1></body></html>")]


@pytest.mark.slow
def test_non_html_is_archived_raw_when_asked(cli: Cli, site: NewsSite) -> None:
    cli("crawl", f"{site.base}/report.pdf", "--archive-other", "--depth", "0", *FAST, check=True)
    responses = [(h, p) for t, h, _, p in _warc_records(cli) if t == "response"]
    [(headers, payload)] = [(h, p) for h, p in responses if not h["WARC-Target-URI"].endswith("/robots.txt")]
    assert payload.startswith(b"%PDF-1.4") and headers["WARC-Target-URI"].endswith("/report.pdf")
    assert _export(cli) == []  # no record: nothing to extract


@pytest.mark.slow
def test_crawl_delay_from_robots_txt_spaces_requests(cli: Cli, site: NewsSite) -> None:
    cli("crawl", f"{site.base}/sitemap.xml", *FAST, "--concurrency", "4", check=True)
    times = [when for target, _, when in site.state.requests if target != "/robots.txt"]
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert len(gaps) >= 5 and min(gaps) >= 0.18, gaps  # Crawl-delay: 0.2 (timer slack allowed)


@pytest.mark.slow
def test_recrawls_write_revisits_and_a_changed_page_becomes_a_new_version(cli_any_db: Cli, site: NewsSite) -> None:
    cli = cli_any_db
    cli("crawl", f"{site.base}/sitemap.xml", *FAST, check=True)
    second = cli("crawl", f"{site.base}/sitemap.xml", *FAST, check=True)
    assert "0 records written" in second.out and "4 revisits" in second.out
    conditional = [h for t, h, _ in site.state.requests if t.startswith(("/harbour/", "/council/"))][4:]
    assert all("If-None-Match" in h and "If-Modified-Since" in h for h in conditional)
    revisits = [h for t, h, _, _ in _warc_records(cli) if t == "revisit"]
    assert len(revisits) == 4
    assert all(h["WARC-Profile"].endswith("/revisit/server-not-modified") for h in revisits)
    first_dates = {r["source_url"]: r["provenance"]["captured_at"] for r in _export(cli)}
    for h in revisits:
        assert h["WARC-Refers-To-Date"] == first_dates[h["WARC-Refers-To-Target-URI"]]

    site.state.edition = 2  # one article gains an update paragraph
    third = cli("crawl", f"{site.base}/sitemap.xml", *FAST, check=True)
    assert "1 records written" in third.out and "3 revisits" in third.out
    url = f"{site.base}/council/cycle-routes"
    history = json.loads(cli("history", url, "--format", "json", check=True).out)
    assert [h["version"] for h in history] == [1, 2]
    assert history[1]["replaces"] == history[0]["id"]
    diff = cli("history", url, "--diff", "1", "2", check=True).out
    assert "+Update 2: the council has published the contractor's timetable for the work." in diff
    assert len([line for line in diff.splitlines() if line.startswith(("+", "-")) and line[1:2] not in "+-"]) == 1


@pytest.mark.slow
def test_identical_bytes_without_validators_make_an_identical_payload_revisit(cli: Cli, site: NewsSite) -> None:
    cli("crawl", f"{site.base}/section/harbour", "--depth", "0", *FAST, check=True)
    cli("crawl", f"{site.base}/section/harbour", "--depth", "0", *FAST, check=True)
    [revisit] = [h for t, h, _, _ in _warc_records(cli) if t == "revisit"]
    assert revisit["WARC-Profile"].endswith("/revisit/identical-payload-digest")
    assert revisit["WARC-Payload-Digest"].startswith("sha256:")
    assert len(_export(cli)) == 1


def _count_captures(db: str) -> int:
    engine = create_engine(db)
    try:
        with engine.connect() as conn:
            return int(conn.execute(text("SELECT count(*) FROM captures")).scalar() or 0)
    except Exception:  # the catalog may not exist yet
        return 0
    finally:
        engine.dispose()


def _start_crawl(cli: Cli, *args: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "SCRAPER_DB": cli.db, "SCRAPER_DATA": str(cli.data)}
    command = [sys.executable, "-m", "archive.cli", "crawl", *args]
    return subprocess.Popen(command, cwd=cli.cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


@pytest.mark.slow
@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGINT])
def test_an_interrupted_crawl_resumes_without_refetching_or_duplicating(
    cli: Cli, site: NewsSite, how: signal.Signals
) -> None:
    args = [f"{site.base}/", "--depth", "2", *FAST, "-s", "ARCHIVE_COMMIT_EVERY=1"]
    proc = _start_crawl(cli, *args)
    deadline = time.monotonic() + 120
    while _count_captures(cli.db) < 3 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert proc.poll() is None, "the crawl ended before it could be interrupted"
    proc.send_signal(how)
    _, err = proc.communicate(timeout=120)
    if how == signal.SIGINT:  # Ctrl-C: exit 130, and the summary says how to go on
        assert proc.returncode == 130, err.decode()
        hint = re.search(r"interrupted: resume with: scraper crawl --resume ([0-9a-f]{8})", err.decode())
        assert hint is not None, err.decode()
        run = json.loads(cli("crawls", "--format", "json", check=True).out)[0]
        assert run["id"].startswith(hint[1]) and run["status"] == "interrupted"
    archived_before = {r["source_url"] for r in _export(cli)}
    assert len(archived_before) >= 3
    hits_before = Counter(site.state.hits)
    check = warcio_check(warc_files(cli.data))
    assert check.returncode == 0 or how == signal.SIGKILL  # a kill may tear the last record: cut on restart

    resumed = cli("crawl", "--resume", *FAST, "-s", "ARCHIVE_COMMIT_EVERY=1")  # seeds and --depth 2 are remembered
    assert "resumed from the archive" in resumed.out, resumed.out + resumed.err
    records = _export(cli)
    urls = [r["source_url"] for r in records]
    assert len(urls) == len(set(urls)), "a page was archived twice"
    assert _article_urls(site) <= set(urls)
    assert f"{site.base}/section/council" in urls  # linked only from articles: two hops, as the first run asked
    for url in archived_before:  # archived before the interruption: not fetched again
        path = url.removeprefix(site.base)
        assert site.state.hits[path] == hits_before[path], path
    assert warcio_check(warc_files(cli.data)).returncode == 0
    crawls = json.loads(cli("crawls", "--format", "json", check=True).out)
    assert [c["status"] for c in crawls] == ["finished"]  # one crawl, continued and then finished
    assert len({r["provenance"]["crawl_id"] for r in records}) == 1


@pytest.mark.slow
def test_caps_and_allow_deny_rules_bound_the_crawl(cli: Cli, site: NewsSite) -> None:
    cli("crawl", f"{site.base}/", "--depth", "2", "--max-pages", "3", *FAST, check=True)
    assert len(_export(cli)) == 3

    other = Cli(cwd=cli.cwd, data=cli.cwd / "denied", db=f"sqlite:///{cli.cwd / 'denied.sqlite'}")
    other("crawl", f"{site.base}/sitemap.xml", "--deny", "/council/", *FAST, check=True)
    assert {r["source_url"] for r in _export(other)} == {
        f"{site.base}/harbour/ferry-timetable",
        f"{site.base}/harbour/fish-market",
    }

    third = Cli(cwd=cli.cwd, data=cli.cwd / "allowed", db=f"sqlite:///{cli.cwd / 'allowed.sqlite'}")
    third("crawl", f"{site.base}/sitemap.xml", "--allow-domain", "elsewhere.example", *FAST, check=True)
    assert _export(third) == []  # not even the seed's own host is allowed


@pytest.fixture(scope="module", params=BOTH_DATABASES)
def crawled_twice(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Cli, NewsSite]]:
    """Crawl the site's sitemap twice into one archive (a template: tests work on copies); return it and the site.

    The WACZ test is the export/index/wacz family's run on both catalogs (a package's pages and
    runs come from the catalog); the CDXJ index reads WARC files only, so it asks for SQLite.
    """
    with ExitStack() as stack:
        work = tmp_path_factory.mktemp(f"crawled-twice-{request.param}")
        sqlite = f"sqlite:///{work / 'catalog.sqlite'}"
        cli = Cli(
            cwd=work,
            data=work / "data",
            db=sqlite if request.param == "sqlite" else stack.enter_context(postgres_schema()),
        )
        with NewsSite() as site:
            cli("crawl", f"{site.base}/sitemap.xml", *FAST, check=True)
            cli("crawl", f"{site.base}/sitemap.xml", *FAST, check=True)  # all four articles unchanged: revisits
        yield cli, site


def _copy(template: Cli, into: Path) -> Cli:
    """Return a CLI on a copy of the template's archive (on PostgreSQL, its data folder; the catalog is only read)."""
    if template.db.startswith("sqlite:///"):
        return copy_archive(template, into)
    shutil.copytree(template.data, into / "data")
    return Cli(cwd=into, data=into / "data", db=template.db)


@pytest.mark.slow
@pytest.mark.parametrize("crawled_twice", ["sqlite"], indirect=True)
def test_cdxj_index_points_at_every_capture_record(crawled_twice: tuple[Cli, NewsSite], tmp_path: Path) -> None:
    template, site = crawled_twice
    cli = copy_archive(template, tmp_path)  # the sitemap crawled twice: revisits too
    done = cli("index", check=True)
    index = cli.data / "indexes" / "index.cdxj"
    lines = index.read_text(encoding="utf-8").splitlines()
    assert f"indexed {len(lines)} WARC record(s)" in done.out
    keys = [line.split(" ", 2)[:2] for line in lines]
    assert keys == sorted(keys)  # SURT, then timestamp: the order replay tools binary-search
    seen = Counter()
    for line in lines:
        surt, stamp, body = line.split(" ", 2)
        entry = json.loads(body)
        assert surt == surt_of(entry["url"])  # the key readers compute from a URL to look it up
        assert len(stamp) == 14 and stamp.isdigit()
        with (cli.data / "warc" / entry["filename"]).open("rb") as fh:
            fh.seek(int(entry["offset"]))
            record = next(iter(ArchiveIterator(fh)))
        assert record.rec_headers.get_header("WARC-Target-URI") == entry["url"]
        seen[record.rec_type] += 1
    # Per crawl: robots.txt (obeyed), sitemap.xml and the gzipped child are archived as fetched; the
    # four articles are responses the first time and server-not-modified revisits the second. Their
    # extractions (one each, the first time) are listed at their own urn:text: and urn:record: addresses.
    assert seen == {"response": 3 + 4 + 3, "revisit": 4, "metadata": 4, "conversion": 4}, seen
    assert sum(f'"url": "{site.base}/robots.txt"' in line for line in lines) == 2
    derived = [json.loads(line.split(" ", 2)[2])["url"] for line in lines if '"url": "urn:' in line]
    assert sorted(derived) == sorted(f"urn:{kind}:{url}" for kind in ("text", "record") for url in _article_urls(site))


@pytest.mark.slow
def test_wacz_packages_a_run_with_the_captures_its_revisits_point_at(
    crawled_twice: tuple[Cli, NewsSite], tmp_path: Path
) -> None:
    import hashlib
    import zipfile

    template, site = crawled_twice  # the sitemap crawled twice: all four articles unchanged the second time
    cli = _copy(template, tmp_path / "archive")
    second, first = json.loads(cli("crawls", "--format", "json", check=True).out)[:2]
    out = tmp_path / "second.wacz"
    done = cli("wacz", "--crawl", second["id"][:8], "--out", str(out), check=True)
    assert f"run {second['id']}" in done.out
    own = {p.name for p in warc_files(cli.data)}
    with zipfile.ZipFile(out) as package:
        names = set(package.namelist())
        archived = {n.removeprefix("archive/") for n in names if n.startswith("archive/")}
        assert archived == own  # its own file, and the first run's, which holds what the revisits refer to
        assert all(info.compress_type == zipfile.ZIP_STORED for info in package.infolist())
        manifest_bytes = package.read("datapackage.json")
        digest = json.loads(package.read("datapackage-digest.json"))
        assert digest == {"path": "datapackage.json", "hash": "sha256:" + hashlib.sha256(manifest_bytes).hexdigest()}
        manifest = json.loads(manifest_bytes)
        assert manifest["wacz_version"] == "1.1.1" and manifest["profile"] == "data-package"
        assert {r["path"] for r in manifest["resources"]} == names - {"datapackage.json", "datapackage-digest.json"}
        for resource in manifest["resources"]:
            body = package.read(resource["path"])
            assert resource["bytes"] == len(body)
            assert resource["hash"] == "sha256:" + hashlib.sha256(body).hexdigest()
        for line in gzip.decompress(package.read("indexes/index.cdx.gz")).decode().splitlines():
            entry = json.loads(line.split(" ", 2)[2])
            with package.open("archive/" + entry["filename"]) as member:  # stored: seekable in place
                member.seek(int(entry["offset"]))
                record = next(iter(ArchiveIterator(member)))
            assert record.rec_headers.get_header("WARC-Target-URI") == entry["url"]
        header, *pages = [json.loads(line) for line in package.read("pages/pages.jsonl").splitlines()]
        assert header["format"] == "json-pages-1.0"
        assert {p["url"] for p in pages} == _article_urls(site)  # seen unchanged: pages from the revisits
        package.extractall(tmp_path / "unpacked")
    assert warcio_check(sorted((tmp_path / "unpacked" / "archive").iterdir())).returncode == 0

    cli("wacz", "--crawl", first["id"], "--out", str(tmp_path / "first.wacz"), check=True)
    with zipfile.ZipFile(tmp_path / "first.wacz") as package:
        assert len([n for n in package.namelist() if n.startswith("archive/")]) == 1
        header, *pages = [json.loads(line) for line in package.read("pages/pages.jsonl").splitlines()]
    exported = {r["id"]: r for r in _export(cli)}
    assert {p["id"] for p in pages} == set(exported)
    assert all(p["title"] == exported[p["id"]]["title"] for p in pages)
    assert cli("wacz", "--crawl", "ffffffff").code == 1


def test_wacz_refuses_a_run_that_archived_no_page(cli: Cli, site: NewsSite, tmp_path: Path) -> None:
    done = cli("crawl", f"{site.base}/no/such/page", "--depth", "0", "--retries", "0", *FAST)
    assert done.code == 1, done.out + done.err  # the one page is a 404: archived as answered, no page
    [run] = json.loads(cli("crawls", "--format", "json", check=True).out)
    out = tmp_path / "empty.wacz"
    refused = cli("wacz", "--crawl", run["id"], "--out", str(out))
    assert refused.code == 1, refused.out + refused.err  # as for a run that is not there
    assert f"error: run {run['id']} archived no pages" in refused.err
    assert not out.exists()
