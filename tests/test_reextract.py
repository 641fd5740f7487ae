"""Re-extraction: captures get a new extraction from their raw WARC records, alone or across frontier workers.

The archive is a crawl of the Meridian Courier on 127.0.0.1 with the default site evidence (text
captures only), so every article's text keeps the funding note the site repeats on every page.
Re-extracting with `--site-evidence all` drops it from the HTML too: a real change of extraction.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from warcio.archiveiterator import ArchiveIterator

from archive.frontier.store import Frontier
from tests.conftest import ROOT, Cli, warc_files, warcio_check
from tests.courier import FUNDING_NOTE, MIRRORED, Courier, articles
from tests.frontier_faults import freeze_one_holding

pytestmark = pytest.mark.slow  # crawls a site, then re-extracts it alone and across killed workers


@pytest.fixture(scope="module")
def archived(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Crawl the site once into a template archive (several WARC files); tests copy it."""
    work = tmp_path_factory.mktemp("courier-archive")
    cli = Cli(work, work / "data", f"sqlite:///{work / 'catalog.sqlite'}")
    with Courier() as site:
        cli(
            "crawl",
            f"{site.base}/",
            "--depth",
            "3",
            "--delay",
            "0",
            "--allow-network",
            "127.0.0.1/32",
            "--jobs",
            "1",
            "-s",
            "ARCHIVE_WARC_MAX_SIZE=30000",  # several files, so workers have several to take
            check=True,
        )
    return work


def _copy(archived: Path, tmp_path: Path) -> Cli:
    shutil.copytree(archived / "data", tmp_path / "data")
    shutil.copy(archived / "catalog.sqlite", tmp_path / "catalog.sqlite")
    return Cli(tmp_path, tmp_path / "data", f"sqlite:///{tmp_path / 'catalog.sqlite'}")


def _articles(cli: Cli) -> dict[str, dict[str, object]]:
    """Return the article records by URL path, read back through `scraper export`."""
    lines = cli("export", check=True).out.splitlines()
    records = [json.loads(line) for line in lines]
    return {r["source_url"].split("/", 3)[3]: r for r in records if "/news/" in r["source_url"]}


def _conversions_per_capture(data: Path) -> dict[str, int]:
    """Return how many conversion records refer to each raw record, over every WARC file."""
    counts: dict[str, int] = {}
    for path in warc_files(data):
        with open(path, "rb") as handle:
            for record in ArchiveIterator(handle):
                if record.rec_type == "conversion":
                    raw = record.rec_headers.get_header("WARC-Refers-To")
                    counts[raw] = counts.get(raw, 0) + 1
    return counts


def test_reextraction_gives_each_capture_its_new_text_and_keeps_the_old_records(archived: Path, tmp_path: Path) -> None:
    cli = _copy(archived, tmp_path)
    before = _articles(cli)
    assert len(before) == len(articles()) and all(FUNDING_NOTE in str(r["text"]) for r in before.values())
    files_before = {p.name: p.read_bytes() for p in warc_files(cli.data)}
    assert len(files_before) >= 3

    done = cli("reextract", "--site-evidence", "all", "--jobs", "1")
    assert "re-extracted: 49 captures given a new extraction" in done.out, done.out + done.err
    # The home page is all site furniture with evidence from every page: it keeps its old text, said so.
    assert done.code == 1 and "no article text found (the capture keeps its earlier extraction)" in done.err
    # The robots.txt the crawl obeyed is in the archive too: counted and left, never a failure.
    assert "1 robots.txt" in done.out and "robots.txt" not in done.err

    after = _articles(cli)
    for path, record in after.items():
        old = before[path]
        assert FUNDING_NOTE not in str(record["text"]) and str(record["text"]) in str(old["text"])
        assert record["id"] == old["id"] and record["payload_sha256"] == old["payload_sha256"]
        prov, old_prov = record["provenance"], old["provenance"]
        assert isinstance(prov, dict) and isinstance(old_prov, dict)
        assert prov["warc_raw"] == old_prov["warc_raw"] and prov["captured_at"] == old_prov["captured_at"]
        assert prov["warc_conversion"] != old_prov["warc_conversion"]
        note = prov["extractor_options"]["reextraction"]
        assert note["previous_conversion"] == old_prov["warc_conversion"]["record_id"]
    # Nothing was rewritten: the old files are byte for byte as they were, the new records are in a new file.
    assert all((cli.data / "warc" / name).read_bytes() == data for name, data in files_before.items())
    assert len(warc_files(cli.data)) == len(files_before) + 1
    assert warcio_check(warc_files(cli.data)).returncode == 0
    verified = cli("verify")
    assert verified.code == 0 and "superseded copies: 49" in verified.out, verified.out
    # The old texts left the search index with their documents; the new ones are in it.
    assert cli("query", "independent newsroom").code == 1
    hits = cli("query", "households", "--limit", "100", "--format", "jsonl", check=True).out.splitlines()
    assert len(hits) == len(articles()) + len(MIRRORED)  # one hit per capture: a mirror is a capture of its own

    again = cli("reextract", "--site-evidence", "all", "--jobs", "1")
    assert "re-extracted: 0 captures" in again.out and "49 unchanged" in again.out
    assert len(warc_files(cli.data)) == len(files_before) + 1  # nothing new to write


def test_workers_take_the_archives_files_from_the_frontier_and_a_killed_ones_go_back(
    archived: Path, tmp_path: Path, frontier: Frontier
) -> None:
    cli = _copy(archived, tmp_path)
    where = ["--frontier", frontier.url, "--frontier-name", frontier.name]
    queued = cli("reextract", *where, "--enqueue", check=True)
    files = len(warc_files(cli.data))
    assert f"{files} WARC file(s) queued" in queued.out
    env = {"SCRAPER_DB": cli.db, "SCRAPER_DATA": str(cli.data), "PYTHONWARNINGS": "error"}
    command = [sys.executable, "-m", "archive.cli", "reextract", *where, "--site-evidence", "all", "--jobs", "1"]
    command += ["-s", "ARCHIVE_FRONTIER_HEARTBEAT=0.5", "-s", "ARCHIVE_FRONTIER_WORKER_TTL=2"]
    procs = {
        wid: subprocess.Popen(
            [*command, "--worker-id", wid],
            cwd=ROOT,
            env={**os.environ, **env},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for wid in ("r1", "r2")
    }
    try:
        victim = _freeze_a_worker_holding_a_file(frontier, procs)
        victim.send_signal(signal.SIGKILL)
        survivor = next(p for p in procs.values() if p is not victim)
        out, err = survivor.communicate(timeout=600)
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.kill()
            proc.communicate()
    # 1 when it was the one to re-extract the home page, which keeps its earlier extraction (said so).
    assert survivor.returncode in (0, 1) and "Traceback" not in err, err[-2000:]
    assert "1 dead worker(s) reaped" in out
    after = _articles(cli)
    assert len(after) == len(articles()) and not [p for p, r in after.items() if FUNDING_NOTE in str(r["text"])]
    # Each capture has its first extraction and one new one in use; a second only where the killed worker had
    # written one before it died (kept in its file, superseded).
    conversions = _conversions_per_capture(cli.data)
    assert set(conversions.values()) <= {1, 2, 3} and sum(1 for n in conversions.values() if n >= 2) == 49
    assert warcio_check(warc_files(cli.data)).returncode == 0
    verified = cli("verify")
    assert verified.code == 0, verified.out
    runs = cli("crawls").out
    assert "reextract" in runs and "finished" in runs.splitlines()[0]


def _freeze_a_worker_holding_a_file(
    frontier: Frontier, procs: dict[str, subprocess.Popen[str]]
) -> subprocess.Popen[str]:
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        frozen = freeze_one_holding(frontier, procs)
        if frozen is not None:
            return procs[frozen[0]]
        assert all(p.poll() is None for p in procs.values()), "a worker ended before it took a file"
        time.sleep(0.02)
    raise AssertionError("no worker took a file")
