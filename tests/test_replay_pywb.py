"""Replay in pywb, the real one: what was captured is what a reader sees, from our WARC files, CDXJ and WACZ.

pywb runs from its own environment (.venv-pywb, `make pywb`) as a subprocess on 127.0.0.1
(tests/pywb.py). A page is checked by asking pywb for it unrewritten (`id_`): its status, media
type and body must be those of the archived raw record, at each capture's time and in the
latest view. The news site is crawled twice (the second time every article answers 304: a
server-not-modified revisit), the Meridian Courier twice (no validators, the same bytes: an
identical-payload-digest revisit) and then re-extracted, and seeds/ is replayed; every run's
WACZ must pass `wacz validate` (py-wacz) and load into pywb.

An archive written before derived records moved off the page URL (conversion and metadata
records at the page's own URI, a 304 revisit holding its status line) is built here record by
record as the old writer wrote it, and must replay right through our CDXJ.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import json
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from warcio.archiveiterator import ArchiveIterator
from warcio.statusandheaders import StatusAndHeaders
from warcio.timeutils import datetime_to_iso_date, iso_date_to_timestamp
from warcio.utils import Digester
from warcio.warcwriter import WARCWriter

from archive.export.cdxj import build_cdxj
from tests.conftest import Cli, copy_archive, need, warc_files
from tests.courier import FUNDING_NOTE, Courier
from tests.newsite import ARTICLES, NewsSite
from tests.pywb import Pywb, Replayed, need_pywb

LOOPBACK = ["--allow-network", "127.0.0.1/32"]
FAST = ["--delay", "0", "--timeout", "3", "-s", "RETRY_BACKOFF_BASE=0.05", *LOOPBACK]
WACZ = Path(sys.executable).with_name("wacz")


def wacz_validate(path: Path) -> subprocess.CompletedProcess[str]:
    """Run `wacz validate` (py-wacz, the real command) on a package."""
    need(WACZ.is_file(), f"py-wacz is not installed in {WACZ.parent}: run `make setup`")
    return subprocess.run(
        [str(WACZ), "validate", "-f", str(path)], capture_output=True, text=True, check=False, timeout=300
    )


def stamp(warc_date: str) -> str:
    """Return the 14-digit timestamp replay URLs use for a WARC date."""
    return str(iso_date_to_timestamp(warc_date))


# --- An archive written before this change, record by record as the old writer wrote it ---------


class _Sha256Writer(WARCWriter):  # type: ignore[misc]
    """The old writer's warcio writer: SHA-256 block and payload digests."""

    @staticmethod
    def _create_digester() -> Digester:
        return Digester("sha256")


def _old_date(moment: datetime) -> str:
    return str(datetime_to_iso_date(moment.astimezone(UTC).replace(tzinfo=None), use_micros=True))


@dataclass
class _OldFile:
    """One WARC file as the old writer built it: each record its own gzip member, appended in order."""

    name: str
    data: bytearray
    builder: _Sha256Writer

    @classmethod
    def start(cls, name: str, run: str, moment: datetime) -> _OldFile:
        file = cls(name, bytearray(), _Sha256Writer(io.BytesIO(), gzip=True, warc_version="WARC/1.1"))
        fields = f"software: scraper-archive/0.1.0\r\nformat: WARC File Format 1.1\r\nisPartOf: {run}\r\n"
        headers = {"WARC-Filename": name, "WARC-Date": _old_date(moment)}
        file.plain("", "warcinfo", fields.encode(), "application/warc-fields", headers)
        return file

    def append(self, record: object) -> tuple[int, int]:
        """Write one record as its own gzip member; return its offset and length in the file."""
        buffer = io.BytesIO()
        _Sha256Writer(buffer, gzip=True, warc_version="WARC/1.1").write_record(record)
        offset = len(self.data)
        self.data += buffer.getvalue()
        return offset, len(buffer.getvalue())

    def plain(self, uri: str, kind: str, body: bytes, content_type: str, headers: dict[str, str]) -> tuple[int, int]:
        """The old `_record`: a record without HTTP headers (warcinfo, resource, conversion, metadata)."""
        headers = {**headers, "Content-Type": content_type}
        headers.setdefault("WARC-Record-ID", f"<urn:uuid:{hashlib.md5(body + uri.encode()).hexdigest()}>")
        return self.append(
            self.builder.create_warc_record(
                uri, kind, payload=io.BytesIO(body), length=len(body), warc_headers_dict=headers
            )
        )

    def exchange(
        self,
        url: str,
        kind: str,
        ids: tuple[str, str],
        moment: datetime,
        status: str,
        http: list,
        body: bytes,
        extra: dict,
    ) -> tuple[int, int]:
        """The old request record, then the `kind` (response or revisit) record: `ids` are (request, response)."""
        request_headers = {"WARC-Record-ID": ids[0], "WARC-Date": _old_date(moment), "WARC-Concurrent-To": ids[1]}
        request_http = StatusAndHeaders(
            f"GET /{url.split('/', 3)[3]} HTTP/1.1", [("Host", "example.test")], is_http_request=True
        )
        self.append(
            self.builder.create_warc_record(
                url,
                "request",
                payload=io.BytesIO(b""),
                length=0,
                warc_headers_dict={**request_headers, "WARC-IP-Address": "192.0.2.7"},
                http_headers=request_http,
            )
        )
        headers = {"WARC-Record-ID": ids[1], "WARC-Date": _old_date(moment), **extra}
        headers.update({"WARC-IP-Address": "192.0.2.7", "WARC-Concurrent-To": ids[0]})
        return self.append(
            self.builder.create_warc_record(
                url,
                kind,
                payload=io.BytesIO(body),
                length=len(body),
                warc_headers_dict=headers,
                http_headers=StatusAndHeaders(status, http, protocol="HTTP/1.1"),
            )
        )

    def derived(self, url: str, raw_id: str, moment: datetime, record: dict, text: str) -> None:
        """The old conversion and metadata records: at the page's own URI, dated when they were written."""
        refers = {"WARC-Refers-To": raw_id, "WARC-Date": _old_date(moment)}
        self.plain(url, "conversion", text.encode(), "text/plain; charset=utf-8", refers)
        self.plain(url, "metadata", json.dumps(record, sort_keys=True).encode(), "application/json", refers)


STORY = "http://example.test/news/story"
SAVED = "https://example.test/saved/page.html"
STORY_HTML = (
    b"<!doctype html><html><head><title>Story</title></head><body><p>The story as it was served.</p></body></html>"
)
SAVED_HTML = b"<!doctype html><html><head><title>Saved</title></head><body><p>A page saved to disk.</p></body></html>"


@dataclass
class OldArchive:
    warc_dir: Path
    first: str  # 14-digit timestamps: the story's response, its 304 revisit, the saved file
    revisit: str
    saved: str
    response_at: tuple[str, int, int]  # file, offset, length of the story's response record


def _sha256_label(data: bytes) -> str:
    return "sha256:" + base64.b32encode(hashlib.sha256(data).digest()).decode()


def build_old_archive(warc_dir: Path) -> OldArchive:
    """Two runs as the old writer wrote them: a crawl (story) and a replayed saved file, then a recrawl (304)."""
    warc_dir.mkdir(parents=True)
    t1 = datetime(2026, 3, 1, 10, 0, 0, 250000, tzinfo=UTC)
    t2 = datetime(2026, 3, 1, 10, 0, 1, 500000, tzinfo=UTC)  # the extraction, written after the fetch
    t3 = datetime(2026, 3, 8, 9, 30, 0, 125000, tzinfo=UTC)
    saved_at = datetime(2026, 2, 20, 8, 0, 0, 0, tzinfo=UTC)
    first = _OldFile.start("scraper-20260301100000000-00001-old.warc.gz", "run-1", t1)
    http = [("Content-Type", "text/html; charset=utf-8"), ("Content-Length", str(len(STORY_HTML))), ("Etag", '"v1"')]
    raw_id = "<urn:uuid:00000000-0000-4000-8000-000000000002>"
    ids = ("<urn:uuid:00000000-0000-4000-8000-000000000001>", raw_id)
    response = first.exchange(STORY, "response", ids, t1, "200 OK", http, STORY_HTML, {})
    story = {"id": "a" * 32, "source_url": STORY, "title": "Story", "provenance": {"captured_at": _old_date(t1)}}
    first.derived(STORY, raw_id, t2, story, "The story as it was served.")
    saved_id = "<urn:uuid:00000000-0000-4000-8000-000000000003>"
    headers = {"WARC-Record-ID": saved_id, "WARC-Date": _old_date(saved_at)}
    first.plain(SAVED, "resource", SAVED_HTML, "text/html; charset=utf-8", headers)
    saved = {"id": "b" * 32, "source_url": SAVED, "title": "Saved", "provenance": {"captured_at": _old_date(saved_at)}}
    first.derived(SAVED, saved_id, t2, saved, "A page saved to disk.")
    (warc_dir / first.name).write_bytes(first.data)

    second = _OldFile.start("scraper-20260308093000000-00001-old.warc.gz", "run-2", t3)
    not_modified = [("Content-Length", "0"), ("Etag", '"v1"')]
    extra = {
        "WARC-Profile": "http://netpreserve.org/warc/1.1/revisit/server-not-modified",
        "WARC-Refers-To-Target-URI": STORY,
        "WARC-Refers-To-Date": _old_date(t1),
    }
    revisit_ids = ("<urn:uuid:00000000-0000-4000-8000-000000000004>", "<urn:uuid:00000000-0000-4000-8000-000000000005>")
    second.exchange(STORY, "revisit", revisit_ids, t3, "304 Not Modified", not_modified, b"", extra)
    (warc_dir / second.name).write_bytes(second.data)
    return OldArchive(warc_dir, "20260301100000", "20260308093000", "20260220080000", (first.name, *response))


def test_an_archive_written_before_replays_the_page_through_our_cdxj(tmp_path: Path) -> None:
    need_pywb()
    old = build_old_archive(tmp_path / "warc")
    files = sorted(old.warc_dir.iterdir())
    summary = build_cdxj(old.warc_dir, tmp_path / "index.cdxj", files)
    lines = (tmp_path / "index.cdxj").read_text(encoding="utf-8").splitlines()
    assert summary.lines == len(lines) == 3  # the story twice (response, 304 revisit), the saved file once
    assert (summary.redirected_revisits, summary.unresolved_revisits) == (1, 0)
    entries = {(line.split(" ")[0], line.split(" ")[1]): json.loads(line.split(" ", 2)[2]) for line in lines}
    file, offset, length = old.response_at
    assert entries[("test,example)/news/story", old.revisit)] == {
        "url": STORY,
        "mime": "text/html",
        "status": "200",
        "digest": _sha256_label(STORY_HTML),
        "length": str(length),
        "offset": str(offset),
        "filename": file,
    }  # the 304 revisit's line: the original response's place and fields, at the revisit's time
    assert entries[("test,example)/news/story", old.first)]["offset"] == str(offset)
    assert entries[("test,example)/saved/page.html", old.saved)]["mime"] == "text/html"

    with Pywb(tmp_path / "pywb") as pywb:
        pywb.add_warcs("as-they-are", files)
        pywb.use_index("ours", tmp_path / "index.cdxj", files)
        pywb.start()
        # What the issue reports, reproduced by this file in pywb's own index: an empty 304 and the JSON.
        assert _seen(pywb.get("as-they-are", STORY)) == (304, "", b"")
        assert pywb.get("as-they-are", SAVED).media_type == "application/json"
        for when in (old.first, old.revisit, None):
            assert _seen(pywb.get("ours", STORY, when)) == (200, "text/html", STORY_HTML), when
        for when in (old.saved, None):
            assert _seen(pywb.get("ours", SAVED, when)) == (200, "text/html", SAVED_HTML), when


def _seen(answer: Replayed) -> tuple[int, str, bytes]:
    return answer.status, answer.media_type, answer.body


# --- A live crawl, crawled again: from the WARC files, our CDXJ and each run's WACZ ---------------


@dataclass
class Page:
    """An archived page: its URL, catalog record, archived payload and the times a replay asks for it at."""

    url: str
    record: dict
    payload: bytes
    media_type: str
    first: str  # the first crawl's capture (response record)
    second: str  # the second crawl's (the 304 revisit)


@dataclass
class Recrawled:
    cli: Cli
    first_run: str
    second_run: str
    pages: list[Page]


def _exported(cli: Cli) -> list[dict]:
    return [json.loads(line) for line in cli("export", "--format", "jsonl", check=True).out.splitlines()]


def _record_dates(cli: Cli, kind: str) -> dict[str, str]:
    """Return the WARC-Date of each `kind` record by its WARC-Target-URI, over the archive's files."""
    found = {}
    for path in warc_files(cli.data):
        with path.open("rb") as handle:
            for record in ArchiveIterator(handle):
                if record.rec_type == kind:
                    found[record.rec_headers.get_header("WARC-Target-URI")] = record.rec_headers.get_header("WARC-Date")
    return found


@pytest.fixture(scope="module")
def recrawled(tmp_path_factory: pytest.TempPathFactory) -> Recrawled:
    """Crawl the news site's sitemap twice into one archive: the second time every article answers 304."""
    need_pywb()
    work = tmp_path_factory.mktemp("recrawled")
    cli = Cli(cwd=work, data=work / "data", db=f"sqlite:///{work / 'catalog.sqlite'}")
    with NewsSite() as site:
        cli("crawl", f"{site.base}/sitemap.xml", *FAST, check=True)
        cli("crawl", f"{site.base}/sitemap.xml", *FAST, check=True)
        articles = {f"{site.base}/{path}" for path in ARTICLES}
    # The site is gone from here on: whatever pywb serves comes from the archive.
    second, first = json.loads(cli("crawls", "--format", "json", check=True).out)[:2]
    responses, revisits = _record_dates(cli, "response"), _record_dates(cli, "revisit")
    pages = []
    for record in _exported(cli):
        url = record["source_url"]
        payload = cli("show", record["id"], "--raw", check=True).stdout_bytes
        pages.append(Page(url, record, payload, "text/html", stamp(responses[url]), stamp(revisits[url])))
    assert {p.url for p in pages} == articles  # every article archived once, seen unchanged once
    assert all(p.first < p.second for p in pages)
    return Recrawled(cli, first["id"], second["id"], pages)


@pytest.mark.slow
def test_every_page_replays_as_archived_at_each_capture_and_in_the_latest_view(
    recrawled: Recrawled, tmp_path: Path
) -> None:
    cli = recrawled.cli
    files = warc_files(cli.data)
    cli("index", "--out", str(tmp_path / "index.cdxj"), check=True)
    packages = {}
    for name, run in (("first", recrawled.first_run), ("second", recrawled.second_run)):
        packages[name] = tmp_path / f"{name}.wacz"
        cli("wacz", "--crawl", run, "--out", str(packages[name]), check=True)
    with Pywb(tmp_path / "pywb") as pywb:
        pywb.add_warcs("warcs", files)
        pywb.use_index("cdxj", tmp_path / "index.cdxj", files)
        for name, package in packages.items():
            pywb.add_wacz(f"wacz-{name}", package)
        pywb.start()
        for collection in ("warcs", "cdxj", "wacz-first", "wacz-second"):
            for page in recrawled.pages:
                for when in (page.first, page.second, None):
                    answer = pywb.get(collection, page.url, when)
                    assert _seen(answer) == (200, page.media_type, page.payload), (collection, page.url, when)
        for page in recrawled.pages:  # the extracted text: at its own address, never at the page's
            text = pywb.get("cdxj", f"urn:text:{page.url}")
            assert _seen(text) == (200, "text/plain", page.record["text"].encode()), page.url


@pytest.mark.slow
def test_our_cdxj_lists_captures_under_page_urls_and_derived_records_under_urns(
    recrawled: Recrawled, tmp_path: Path
) -> None:
    recrawled.cli("index", "--out", str(tmp_path / "index.cdxj"), check=True)
    by_url: dict[str, list[tuple[str, dict]]] = {}
    for line in (tmp_path / "index.cdxj").read_text(encoding="utf-8").splitlines():
        _key, when, fields = line.split(" ", 2)
        entry = json.loads(fields)
        by_url.setdefault(entry["url"], []).append((when, entry))
    for page in recrawled.pages:
        lines = by_url[page.url]
        assert [when for when, _ in lines] == [page.first, page.second]
        assert lines[0][1]["mime"] == "text/html" and lines[0][1]["status"] == "200"
        assert lines[1][1]["mime"] == "warc/revisit"  # an empty block: pywb serves the original's headers
        # The extraction (the first crawl's; a 304 gives none): once each, written after the fetch.
        for urn, mime in ((f"urn:text:{page.url}", "text/plain"), (f"urn:record:{page.url}", "application/json")):
            [(when, entry)] = by_url[urn]
            assert page.first <= when < page.second and entry["mime"] == mime, urn


# --- Every kind of run packaged: validated by py-wacz, loaded into pywb ------------------------


def _package(cli: Cli, run: str, out: Path) -> tuple[dict, list[dict], set[str]]:
    """Package a run; check `wacz validate` passes; return its pages header and rows, and its WARC files."""
    cli("wacz", "--crawl", run, "--out", str(out), check=True)
    validated = wacz_validate(out)
    assert validated.returncode == 0 and "Validation succeeded" in validated.stdout, validated.stdout + validated.stderr
    with zipfile.ZipFile(out) as package:
        names = set(package.namelist())
        assert {"indexes/index.cdx.gz", "indexes/index.idx", "pages/pages.jsonl"} <= names
        assert not any(n.startswith("indexes/") and n.endswith((".cdxj", ".cdx")) for n in names)  # py-wacz's layout
        header, *rows = [json.loads(line) for line in package.read("pages/pages.jsonl").splitlines()]
        blocks = package.read("indexes/index.cdx.gz")
        idx = package.read("indexes/index.idx").decode().splitlines()
    assert idx[0].startswith("!meta 0 ") and json.loads(idx[0].split(" ", 2)[2]) == {
        "format": "cdxj-gzip-1.0",
        "filename": "index.cdx.gz",
    }
    for line in idx[1:]:  # each block line names a gzip member of index.cdx.gz, and its first key
        prefix, fields = line.rsplit(" {", 1)
        block = json.loads("{" + fields)
        lines = gzip.decompress(blocks[block["offset"] : block["offset"] + block["length"]]).decode().splitlines()
        assert lines[0].startswith(prefix + " ")
        assert (
            block["digest"]
            == "sha256:" + hashlib.sha256(blocks[block["offset"] : block["offset"] + block["length"]]).hexdigest()
        )
    assert header["format"] == "json-pages-1.0" and header["id"] == "pages"
    for row in rows:
        assert set(row) == {"id", "url", "ts", "title", "text"}, row
    assert len({row["id"] for row in rows}) == len(rows)
    assert header.get("hasText") is True  # ReplayWeb.page searches the rows' text
    return header, rows, {n.removeprefix("archive/") for n in names if n.startswith("archive/")}


@pytest.mark.slow
def test_each_runs_wacz_validates_and_replays_its_pages(
    recrawled: Recrawled, project_seeds_archive: tuple[Cli, object], tmp_path: Path
) -> None:
    cli = recrawled.cli
    by_url = {page.url: page for page in recrawled.pages}
    titles = {page.url: page.record["title"] for page in recrawled.pages}
    texts = {page.url: page.record["text"] for page in recrawled.pages}
    first_files = {p.name for p in warc_files(cli.data)}

    _, rows, files = _package(cli, recrawled.first_run, tmp_path / "first.wacz")
    assert {r["url"] for r in rows} == set(by_url) and len(files) == 1
    assert {r["id"] for r in rows} == {p.record["id"] for p in recrawled.pages}
    for row in rows:
        assert (row["title"], row["text"]) == (titles[row["url"]], texts[row["url"]])
        assert stamp(row["ts"]) == by_url[row["url"]].first

    _, rows, files = _package(cli, recrawled.second_run, tmp_path / "second.wacz")
    assert files == first_files  # its own file, and the first run's, holding what its revisits repeat
    assert {r["url"] for r in rows} == set(by_url)  # seen unchanged: pages from the revisits, complete
    for row in rows:
        assert (row["title"], row["text"]) == (titles[row["url"]], texts[row["url"]])
        assert stamp(row["ts"]) == by_url[row["url"]].second

    seeds = copy_archive(project_seeds_archive[0], tmp_path / "seeds")
    seeds_run = json.loads(seeds("crawls", "--format", "json", check=True).out)[0]["id"]
    _, rows, _ = _package(seeds, seeds_run, tmp_path / "seeds.wacz")
    records = {r["id"]: r for r in _exported(seeds)}
    assert {r["id"] for r in rows} == set(records)  # every saved capture of seeds/ is a page
    with Pywb(tmp_path / "pywb") as pywb:
        pywb.add_wacz("seeds", tmp_path / "seeds.wacz")
        pywb.start()
        for row in rows:
            record = records[row["id"]]
            assert (row["title"], row["text"]) == (record["title"] or row["url"], record["text"])
            payload = seeds("show", row["id"], "--raw", check=True).stdout_bytes
            for when in (stamp(row["ts"]), None):
                answer = pywb.get("seeds", row["url"], when)
                assert (answer.status, answer.body) == (200, payload), (row["url"], when)
                assert answer.media_type == record["provenance"]["media_type"], row["url"]


@dataclass
class CourierRuns:
    """The Meridian Courier's harbour section crawled twice (identical bytes: revisits), then re-extracted."""

    cli: Cli
    runs: dict[str, str]  # "first", "second", "reextract" -> run id
    files: dict[str, set[str]]  # the WARC files each run wrote


@pytest.fixture(scope="module")
def courier_runs(tmp_path_factory: pytest.TempPathFactory) -> CourierRuns:
    need_pywb()
    work = tmp_path_factory.mktemp("courier-runs")
    cli = Cli(cwd=work, data=work / "data", db=f"sqlite:///{work / 'catalog.sqlite'}")
    files: dict[str, set[str]] = {}
    with Courier() as site:  # no validators: the second crawl gets the same bytes, not a 304
        for run in ("first", "second"):
            before = {p.name for p in warc_files(cli.data)}
            cli("crawl", f"{site.base}/section/harbour", "--depth", "1", "--jobs", "1", *FAST, check=True)
            files[run] = {p.name for p in warc_files(cli.data)} - before
    before = {p.name for p in warc_files(cli.data)}
    # Every article carries the funding note the site repeats: with evidence from HTML too, it is furniture.
    cli("reextract", "--site-evidence", "all", "--jobs", "1", check=True)
    files["reextract"] = {p.name for p in warc_files(cli.data)} - before
    reextract, second, first = json.loads(cli("crawls", "--format", "json", check=True).out)[:3]
    assert (reextract["kind"], second["kind"], first["kind"]) == ("reextract", "crawl", "crawl")
    assert all(files.values())
    return CourierRuns(cli, {"first": first["id"], "second": second["id"], "reextract": reextract["id"]}, files)


@pytest.mark.slow
def test_pages_fetched_again_with_identical_bytes_replay_as_archived(courier_runs: CourierRuns, tmp_path: Path) -> None:
    cli = courier_runs.cli
    files = warc_files(cli.data)
    responses, revisits = _record_dates(cli, "response"), _record_dates(cli, "revisit")
    records = _exported(cli)
    assert len(records) == 14 and {r["source_url"] for r in records} <= set(revisits)  # the section and its links
    cli("index", "--out", str(tmp_path / "index.cdxj"), check=True)
    _, rows, package_files = _package(cli, courier_runs.runs["second"], tmp_path / "second.wacz")
    assert package_files == courier_runs.files["first"] | courier_runs.files["second"]
    assert {r["url"] for r in rows} == {r["source_url"] for r in records}  # seen unchanged, listed complete
    texts = {r["source_url"]: (r["title"], r["text"]) for r in records}
    assert all((row["title"], row["text"]) == texts[row["url"]] for row in rows)
    with Pywb(tmp_path / "pywb") as pywb:
        pywb.add_warcs("warcs", files)
        pywb.use_index("cdxj", tmp_path / "index.cdxj", files)
        pywb.add_wacz("wacz", tmp_path / "second.wacz")
        pywb.start()
        for record in records:
            url = record["source_url"]
            payload = cli("show", record["id"], "--raw", check=True).stdout_bytes
            for collection in ("warcs", "cdxj", "wacz"):
                for when in (stamp(responses[url]), stamp(revisits[url]), None):
                    answer = pywb.get(collection, url, when)
                    assert _seen(answer) == (200, "text/html", payload), (collection, url, when)


@pytest.mark.slow
def test_a_reextraction_package_holds_its_records_and_the_captures_they_come_from(
    courier_runs: CourierRuns, tmp_path: Path
) -> None:
    """A re-extraction writes only derived records: its package adds the files of the raw records they refer to."""
    cli = courier_runs.cli
    _, rows, files = _package(cli, courier_runs.runs["reextract"], tmp_path / "reextract.wacz")
    assert files == courier_runs.files["reextract"] | courier_runs.files["first"]  # not the revisits' file
    records = {r["id"]: r for r in _exported(cli)}
    assert {r["id"] for r in rows} == set(records)  # every capture got a new text in this run
    articles = [r for r in rows if "/news/" in r["url"]]
    assert articles and all(FUNDING_NOTE not in r["text"] for r in articles)
    with Pywb(tmp_path / "pywb") as pywb:
        pywb.add_wacz("reextract", tmp_path / "reextract.wacz")
        pywb.start()
        for row in rows:
            record = records[row["id"]]
            assert (row["url"], row["text"]) == (record["source_url"], record["text"])
            assert stamp(row["ts"]) == stamp(record["provenance"]["captured_at"])  # the capture, not the extraction
            payload = cli("show", row["id"], "--raw", check=True).stdout_bytes
            answer = pywb.get("reextract", row["url"], stamp(row["ts"]))
            assert _seen(answer) == (200, "text/html", payload), row["url"]
