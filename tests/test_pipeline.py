"""The archive pipeline in this process: real WARC files read back with warcio, a real SQLite catalog.

The pipeline is made with `from_crawler` on a crawler from `scrapy.utils.test.get_crawler`
(conftest's make_crawler) and fed items as Scrapy would: open_spider, process_item, close_spider,
then the spider_closed signal.
"""

from __future__ import annotations

import gzip
import os
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from scrapy import Request, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.http import Response
from warcio.archiveiterator import ArchiveIterator

from archive.catalog.facade import Catalog
from archive.catalog.filters import SearchFilters
from archive.crawl.items import ArchiveItem, CaptureFailure, ExchangeItem, NoTextItem, RevisitItem, SkippedRecord
from archive.crawl.middlewares import ResumeMiddleware, WireMiddleware
from archive.crawl.pipeline import ArchivePipeline
from archive.crawl.scheduler import ARCHIVE_COMMITTED
from archive.crawl.workers import build_item, without_text
from archive.warc.reader import read_payload
from scraper import Capture, WireRequest, build_record
from tests.conftest import crawl_rows, warc_files, warcio_check

MakeCrawler = Callable[..., Crawler]
URL = "https://news.example/harbour/ferry-timetable"
CAPTURED = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)


def _page(title: str, *paragraphs: str) -> bytes:
    body = "".join(f"<p>{p}</p>" for p in paragraphs)
    return f"<html><head><title>{title}</title></head><body><article><h1>{title}</h1>{body}</article></body></html>".encode()


FERRY = _page(
    "Ferry timetable cut while the landing stage is repaired",
    "The harbour ferry will run on a reduced timetable for six weeks while engineers repair the landing stage "
    "that was damaged during the February storms, the operator said on Tuesday.",
    "Passengers travelling before seven in the morning are advised to use the coastal bus, which the council has "
    "agreed to run every twenty minutes until the repairs are finished.",
)


STORY = (
    "The fish market reopened on Monday after a three-month refit that added a cold store large enough for a "
    "full week of landings, and traders said smaller boats could now sell directly to restaurants."
)


def _live(url: str = URL, payload: bytes = FERRY, *, status: int = 200, gzipped: bool = False, **kw: Any) -> Capture:
    """A capture as a live crawl makes one (archive.crawl.responses): body as transferred, request as sent."""
    headers = [("Content-Type", "text/html; charset=utf-8"), ("ETag", '"v1"')]
    if gzipped:
        headers.append(("Content-Encoding", "gzip"))
    target = "/" + url.split("/", 3)[3]
    return Capture(
        gzip.compress(payload, mtime=0) if gzipped else payload,
        "live",
        url,
        "text/html",
        url=url,
        captured_at=kw.pop("captured_at", CAPTURED),
        charset="utf-8",
        http_status=status,
        http_headers=tuple(headers),
        request=WireRequest("GET", target, (("Host", "news.example"),), "HTTP/1.1"),
        ip_address="93.184.216.34",
        content=payload if gzipped else None,
        **kw,
    )


def _item(capture: Capture) -> ArchiveItem:
    return ArchiveItem(capture, build_record(capture))


class Run:
    """One run of the pipeline on a data directory and catalog."""

    def __init__(self, make_crawler: MakeCrawler, tmp_path: Path, **settings: Any) -> None:
        self.data = tmp_path / "data"
        self.db = f"sqlite:///{tmp_path / 'catalog.sqlite'}"
        self.crawler = make_crawler({"ARCHIVE_DATA_DIR": str(self.data), "ARCHIVE_DB_URL": self.db, **settings})
        self.pipeline = ArchivePipeline.from_crawler(self.crawler)
        self.pipeline.open_spider()

    @property
    def stats(self) -> dict[str, Any]:
        return self.crawler.stats.get_stats()

    def feed(self, *items: Any) -> None:
        for item in items:
            assert self.pipeline.process_item(item) is item

    def close(self, reason: str = "finished") -> dict[str, Any]:
        self.pipeline.close_spider()
        self.crawler.signals.send_catch_log(signal=signals.spider_closed, spider=self.crawler.spider, reason=reason)
        return self.stats


def _warc(data: Path) -> list[tuple[str, dict[str, str], str, bytes]]:
    """(type, WARC headers, HTTP status line, stored payload) of every record, file by file, in order."""
    found = []
    for path in warc_files(data):
        with path.open("rb") as handle:
            for record in ArchiveIterator(handle):
                status = record.http_headers.statusline if record.http_headers and record.rec_type != "request" else ""
                found.append((record.rec_type, dict(record.rec_headers.headers), status, record.raw_stream.read()))
    return found


def _count(db: str) -> int:
    catalog = _catalog(db)
    try:
        return catalog.count()["captures"]
    finally:
        catalog.close()


def _catalog(db: str) -> Catalog:
    catalog = Catalog(db)
    catalog.migrate()
    return catalog


def test_without_a_data_directory_the_pipeline_switches_itself_off_and_says_why(make_crawler: MakeCrawler) -> None:
    with pytest.raises(NotConfigured, match="ARCHIVE_DATA_DIR is not set: nowhere to write WARC files"):
        ArchivePipeline.from_crawler(make_crawler())


def test_an_unknown_site_evidence_mode_is_refused_naming_the_modes(make_crawler: MakeCrawler, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"ARCHIVE_SITE_EVIDENCE must be one of \('off', 'text', 'all'\), not 'some'"):
        ArchivePipeline.from_crawler(make_crawler({"ARCHIVE_DATA_DIR": str(tmp_path), "ARCHIVE_SITE_EVIDENCE": "some"}))


def test_a_live_capture_goes_to_the_warc_file_then_to_the_catalog_pointing_at_it(
    make_crawler: MakeCrawler, tmp_path: Path
) -> None:
    run = Run(make_crawler, tmp_path, ARCHIVE_CRAWL_ARGS={"command": "crawl"}, ARCHIVE_OPERATOR="Test Desk")
    crawl_id = run.stats["archive/crawl_id"]
    [row] = crawl_rows(run.db)
    assert (row["id"], row["kind"], row["status"], row["args"]) == (crawl_id, "crawl", "running", {"command": "crawl"})
    assert run.crawler.spider.catalog is run.pipeline.catalog  # type: ignore[union-attr]  # for conditional requests

    item = _item(_live(gzipped=True))
    run.feed(item)
    stats = run.close()
    assert stats["archive/records_written"] == 1 and stats["catalog/inserted"] == 1
    [name] = stats["archive/warc_files"]
    assert stats["archive/warc_bytes"] == (run.data / "warc" / name).stat().st_size
    assert not list((run.data / "warc").glob(".*.open"))  # settled: the catalog holds every record

    records = _warc(run.data)
    assert [kind for kind, _, _, _ in records] == ["warcinfo", "request", "response", "conversion", "metadata"]
    info = records[0][3].decode()
    assert f"isPartOf: {crawl_id}" in info and "operator: Test Desk" in info
    _, request, _, _ = records[1]
    _, response, status, payload = records[2]
    assert request["WARC-Concurrent-To"] == response["WARC-Record-ID"]
    assert response["WARC-Target-URI"] == URL and response["WARC-IP-Address"] == "93.184.216.34"
    assert status == "200 OK" and payload == item.capture.payload  # the gzip bytes, as transferred
    assert response["WARC-Date"] == "2026-03-01T09:30:00Z"  # when it was fetched

    catalog = Catalog(run.db)
    stored = catalog.get(item.record.id)
    assert stored is not None and stored.text == item.record.text and stored.provenance.crawl_id == crawl_id
    prov = stored.provenance
    assert prov.warc_raw is not None and prov.warc_raw.record_id == response["WARC-Record-ID"]
    assert read_payload(run.data / "warc", prov.warc_raw) == item.capture.payload
    assert read_payload(run.data / "warc", prov.warc_conversion).decode() == item.record.text  # type: ignore[arg-type]
    catalog.close()
    [finished] = crawl_rows(run.db)
    assert finished["status"] == "finished"
    assert finished["counts"]["records_written"] == 1 and finished["counts"]["captures_read"] == 1
    assert warcio_check(warc_files(run.data)).returncode == 0


def test_rows_are_committed_in_batches_and_only_after_their_warc_bytes_are_on_disk(
    make_crawler: MakeCrawler, tmp_path: Path
) -> None:
    run = Run(make_crawler, tmp_path, ARCHIVE_COMMIT_EVERY=2)
    commits: list[dict[str, dict[str, int]]] = []
    readable: list[bool] = []

    def committed(counts: dict[str, dict[str, int]]) -> None:
        commits.append(counts)
        catalog = Catalog(run.db)  # another reader, as `scraper query` during a run
        try:  # every row committed points at bytes already in the file (read_payload raises otherwise)
            for record in catalog.iter_records():
                assert record.provenance.warc_raw is not None
                readable.append(
                    read_payload(run.data / "warc", record.provenance.warc_raw) == record_payloads[record.id]
                )
        finally:
            catalog.close()

    run.crawler.signals.connect(committed, signal=ARCHIVE_COMMITTED, weak=False)
    items = [
        _item(_live(f"https://news.example/story/{n}", _page(f"Story {n}", f"Story number {n}. {STORY}")))
        for n in range(3)
    ]
    record_payloads = {i.record.id: i.capture.payload for i in items}
    run.feed(items[0])
    assert commits == [] and _count(run.db) == 0  # one pending: not yet
    run.feed(items[1])
    crawl_id = run.stats["archive/crawl_id"]
    assert len(commits) == 1 and commits[0][crawl_id]["records_written"] == 2
    assert commits[0][crawl_id]["captures_read"] == 2
    run.feed(items[2])
    run.close()
    assert len(commits) == 2 and commits[1][crawl_id]["records_written"] == 1
    assert readable == [True, True, True, True, True]  # 2 rows at the first commit, 3 at the second


def test_the_same_capture_again_is_unchanged_and_a_live_one_is_archived_as_an_identical_payload_revisit(
    make_crawler: MakeCrawler, tmp_path: Path
) -> None:
    first = Run(make_crawler, tmp_path)
    item = _item(_live())
    first.feed(item, item)  # the second while the first is still pending
    file_capture = Capture(FERRY, "file", "/saved/ferry.html", "text/html", url="file:///saved/ferry.html")
    first.feed(_item(file_capture))
    first.close()
    second = Run(make_crawler, tmp_path)
    second.feed(item, _item(file_capture))  # the catalog holds both now
    stats = second.close()
    assert stats["archive/unchanged"] == 2 and stats["archive/revisits"] == 1 and "archive/records_written" not in stats
    revisits = [(headers, payload) for kind, headers, _, payload in _warc(first.data) if kind == "revisit"]
    assert len(revisits) == 2  # one per live capture seen again; the file capture has none
    for headers, payload in revisits:
        assert headers["WARC-Profile"].endswith("/revisit/identical-payload-digest")
        assert headers["WARC-Refers-To-Target-URI"] == URL
        assert headers["WARC-Refers-To-Date"] == "2026-03-01T09:30:00Z"
        assert headers["WARC-Payload-Digest"].startswith("sha256:") and payload == b""  # status and headers, no body
    assert _count(first.db) == 2  # the live page and the saved file: one capture each, nothing twice


def test_a_replayed_revisit_is_written_once_however_often_its_file_is_replayed(
    make_crawler: MakeCrawler, tmp_path: Path
) -> None:
    """A revisit record read again (same URL, same date, same original) is one this archive holds; a live one is new."""
    first = Run(make_crawler, tmp_path)
    first.feed(_item(_live()))
    first.close()

    def replayed_revisit(when: datetime) -> RevisitItem:
        read = replace(_live(), source_kind="warc", source_location="other.warc.gz#1234", captured_at=when)
        return RevisitItem(read, profile="identical-payload-digest", refers_to=(URL, "2026-03-01T09:30:00Z"))

    replayed, later = (
        replayed_revisit(datetime(2026, 3, 9, 12, tzinfo=UTC)),
        replayed_revisit(datetime(2026, 3, 10, tzinfo=UTC)),
    )
    second = Run(make_crawler, tmp_path)
    second.feed(replayed, replayed, later)  # the same record twice in one run (two copies of its file given)
    stats = second.close()
    assert stats["archive/revisits"] == 2, stats
    assert stats["replay/warc_skipped/revisit already in this archive"] == 1
    third = Run(make_crawler, tmp_path)
    third.feed(replayed, later)  # the file replayed again
    stats = third.close()
    assert "archive/revisits" not in stats and stats["replay/warc_skipped/revisit already in this archive"] == 2
    dates = sorted(h["WARC-Date"] for kind, h, _, _ in _warc(first.data) if kind == "revisit")
    assert dates == ["2026-03-09T12:00:00Z", "2026-03-10T00:00:00Z"]
    fourth = Run(make_crawler, tmp_path)  # a live 304 at the same moment is a visit of its own: written
    fourth.feed(RevisitItem(replace(_live(status=304, payload=b""), captured_at=datetime(2026, 3, 9, 12, tzinfo=UTC))))
    assert fourth.close()["archive/revisits"] == 1
    assert len([kind for kind, _, _, _ in _warc(first.data) if kind == "revisit"]) == 3


def test_revisits_are_committed_as_they_come_not_held_to_the_end(make_crawler: MakeCrawler, tmp_path: Path) -> None:
    """A WARC file of revisits alone (a deduplicating recrawl) commits every ARCHIVE_COMMIT_EVERY, as pages do."""
    first = Run(make_crawler, tmp_path)
    first.feed(_item(_live()))
    first.close()
    run = Run(make_crawler, tmp_path, ARCHIVE_COMMIT_EVERY=2)
    for day in range(1, 6):
        read = replace(_live(), source_kind="warc", captured_at=datetime(2026, 4, day, tzinfo=UTC))
        run.feed(RevisitItem(read, profile="identical-payload-digest", refers_to=(URL, "2026-03-01T09:30:00Z")))
    catalog = _catalog(run.db)
    try:  # before the run ends: four of the five named (two commits), the fifth still pending
        named = [catalog.revisited(URL, f"2026-04-0{day}T00:00:00Z") for day in range(1, 6)]
    finally:
        catalog.close()
    assert named == [True, True, True, True, False]
    run.close()


def test_a_304_is_archived_as_a_revisit_of_the_urls_latest_capture(make_crawler: MakeCrawler, tmp_path: Path) -> None:
    first = Run(make_crawler, tmp_path)
    first.feed(_item(_live()))
    first.close()
    second = Run(make_crawler, tmp_path)
    not_modified = _live(status=304, payload=b"", captured_at=datetime(2026, 3, 8, tzinfo=UTC))
    never_seen = _live("https://news.example/never", status=304, payload=b"")
    second.feed(RevisitItem(not_modified), RevisitItem(never_seen))
    stats = second.close()
    assert stats["archive/revisits"] == 1 and stats["archive/failed"] == 1
    assert stats["archive/failures"] == [
        ["https://news.example/never", "304 Not Modified, but the archive holds no earlier capture"]
    ]
    records = _warc(first.data)
    [original] = [h for kind, h, _, _ in records if kind == "response"]
    [(headers, status, block)] = [(h, s, p) for kind, h, s, p in records if kind == "revisit"]
    # An empty block, so replay tools serve the original's headers and payload (a 304 status line
    # in it replays as an empty 304); the revisit names the original by id, URI, date and digest.
    assert headers["WARC-Profile"].endswith("/revisit/server-not-modified") and status == "" and block == b""
    assert headers["WARC-Refers-To"] == original["WARC-Record-ID"]
    assert headers["WARC-Refers-To-Target-URI"] == URL and headers["WARC-Refers-To-Date"] == "2026-03-01T09:30:00Z"
    assert headers["WARC-Payload-Digest"] == original["WARC-Payload-Digest"]
    assert headers["WARC-Date"] == "2026-03-08T00:00:00Z"
    # The 304 itself, as received, beside it: status line and headers in order (application/warc-fields).
    [(answer_headers, answer)] = [
        (h, p) for kind, h, _, p in records if kind == "metadata" and h["Content-Type"] == "application/warc-fields"
    ]
    assert (
        answer_headers["WARC-Concurrent-To"] == headers["WARC-Record-ID"] and answer_headers["WARC-Target-URI"] == URL
    )
    assert answer == (
        b"http-response-line: HTTP/1.1 304 Not Modified\r\n"
        b"http-response-header: Content-Type: text/html; charset=utf-8\r\n"
        b'http-response-header: ETag: "v1"\r\n'
    )


def test_a_redirect_is_archived_when_it_arrives_and_so_is_a_raw_exchange(
    make_crawler: MakeCrawler, tmp_path: Path
) -> None:
    run = Run(make_crawler, tmp_path)
    wire = WireMiddleware.from_crawler(run.crawler)  # sends REDIRECT_RECEIVED, which the pipeline catches
    request = Request("https://news.example/old-home")
    wire.process_response(request, Response(request.url, status=301, headers={"Location": "/"}, request=request))
    for url in ("https://news.example/robots.txt", "https://news.example/gone"):  # a site with no rules; a lost page
        missing = Request(url)
        wire.process_response(missing, Response(url, status=404, request=missing))
    pdf = replace(_live("https://news.example/report.pdf", b"%PDF-1.4 ..."), media_type="application/pdf")
    run.feed(ExchangeItem(pdf, "other"))
    stats = run.close()
    assert stats["archive/exchanges/redirect"] == 1 and stats["archive/exchanges/other"] == 1
    # Both 404s are archived as received; robots.txt's counts with the robots.txt the crawl read, not as an error.
    assert stats["archive/exchanges/robots"] == 1 and stats["archive/exchanges/error"] == 1
    responses = [(h["WARC-Target-URI"], s, p) for kind, h, s, p in _warc(run.data) if kind == "response"]
    assert responses == [
        ("https://news.example/old-home", "301 Moved Permanently", b""),
        ("https://news.example/robots.txt", "404 Not Found", b""),
        ("https://news.example/gone", "404 Not Found", b""),
        ("https://news.example/report.pdf", "200 OK", b"%PDF-1.4 ..."),
    ]
    assert _count(run.db) == 0  # exchanges are archived, not extracted


def test_failures_are_named_and_skipped_records_counted_by_type(make_crawler: MakeCrawler, tmp_path: Path) -> None:
    run = Run(make_crawler, tmp_path)
    run.feed(
        CaptureFailure("/inbox/empty.txt", "empty capture (no bytes)"),
        SkippedRecord("/inbox/a.warc.gz#0", "request"),
        SkippedRecord("/inbox/a.warc.gz#900", "request"),
        SkippedRecord("/inbox/a.warc.gz#1800", "metadata"),
    )
    stats = run.close()
    assert stats["archive/failed"] == 1 and stats["archive/failures"] == [
        ["/inbox/empty.txt", "empty capture (no bytes)"]
    ]
    assert stats["replay/warc_skipped/request"] == 2 and stats["replay/warc_skipped/metadata"] == 1
    [row] = crawl_rows(run.db)
    assert row["status"] == "finished" and row["counts"]["failed"] == 1
    assert stats["archive/warc_files"] == []  # nothing archived, no empty WARC file left behind


def test_a_run_that_stops_early_is_interrupted_and_resumed_reads_its_pages_back_from_the_warc(
    make_crawler: MakeCrawler, tmp_path: Path
) -> None:
    first = Run(make_crawler, tmp_path)
    item = _item(_live(gzipped=True))
    first.feed(item)
    crawl_id = first.stats["archive/crawl_id"]
    first.close(reason="shutdown")  # Ctrl-C, or a close-spider limit
    assert [r["status"] for r in crawl_rows(first.db)] == ["interrupted"]

    resumed = Run(make_crawler, tmp_path, ARCHIVE_RESUME_CRAWL=crawl_id)
    assert resumed.stats["archive/crawl_id"] == crawl_id
    assert [r["status"] for r in crawl_rows(resumed.db)] == ["running"]  # the same crawl, continued
    middleware = ResumeMiddleware.from_crawler(resumed.crawler)
    page = Request(URL, meta={"archive_page": True})
    response = middleware.process_request(page)
    assert response is not None and response.status == 200
    assert response.body == item.capture.payload  # the gzip bytes as transferred, read from the WARC record
    assert response.headers[b"Content-Encoding"] == b"gzip" and response.headers[b"ETag"] == b'"v1"'
    assert middleware.process_request(Request("https://news.example/other", meta={"archive_page": True})) is None
    resumed.close()
    assert [r["status"] for r in crawl_rows(resumed.db)] == ["finished"]


def test_re_extraction_gives_a_capture_its_new_text_in_new_records_and_keeps_its_raw_record(
    make_crawler: MakeCrawler, tmp_path: Path
) -> None:
    first = Run(make_crawler, tmp_path)
    item = _item(_live())
    first.feed(item)
    first.close()
    catalog = _catalog(first.db)
    old = catalog.get(item.record.id)
    catalog.close()
    assert old is not None and old.provenance.warc_raw is not None
    [old_file] = warc_files(first.data)
    old_bytes = old_file.read_bytes()

    again = Run(make_crawler, tmp_path, ARCHIVE_CRAWL_KIND="reextract")
    at_raw = f"{old_file}#{old.provenance.warc_raw.offset}"  # where a re-extraction reads the capture from
    new_text = item.record.text.split("\n\n")[0]
    changed = replace(item.record, text=new_text, text_sha256="0" * 64, word_count=len(new_text.split()))
    elsewhere = f"{old_file}#999999"  # a copy the catalog does not point at: left alone
    again.feed(
        ArchiveItem(replace(item.capture, source_location=at_raw), changed),
        ArchiveItem(replace(item.capture, source_location=elsewhere), changed),
        ArchiveItem(replace(item.capture, source_location=at_raw), old),  # the same extraction: unchanged
    )
    stats = again.close()
    assert (
        stats["archive/reextracted"] == 1 and stats["archive/not_in_catalog"] == 1 and stats["archive/unchanged"] == 1
    )
    assert old_file.read_bytes() == old_bytes  # nothing rewritten
    [_, new_file] = warc_files(first.data)
    with new_file.open("rb") as handle:
        kinds = [r.rec_type for r in ArchiveIterator(handle)]
    assert kinds == ["warcinfo", "conversion", "metadata"]  # no second copy of the raw record
    catalog = Catalog(first.db)
    now = catalog.get(item.record.id)
    catalog.close()
    assert now is not None and now.text == new_text
    assert now.provenance.warc_raw == old.provenance.warc_raw
    assert now.provenance.warc_conversion is not None and now.provenance.warc_conversion.file == new_file.name
    assert (
        now.provenance.extractor_options["reextraction"]["previous_conversion"]
        == old.provenance.warc_conversion.record_id
    )  # type: ignore[union-attr]
    assert [r["kind"] for r in crawl_rows(first.db)] == ["reextract", "crawl"]


def test_a_file_a_killed_run_left_open_is_mended_when_the_next_run_opens(
    make_crawler: MakeCrawler, tmp_path: Path
) -> None:
    from archive.warc.writer import WarcFileWriter

    # A run that wrote two captures and was killed before committing, half of the second on disk.
    warc = tmp_path / "data" / "warc"
    writer = WarcFileWriter(warc, hostname="test-host")
    kept = _item(_live())
    writer.write_capture(kept.capture, kept.record)
    writer.flush()
    [name] = writer.files
    intact = (warc / name).stat().st_size
    torn = _item(_live("https://news.example/other", _page("Other story", STORY)))
    writer.write_capture(torn.capture, torn.record)
    writer.flush()
    grown = (warc / name).stat().st_size
    os.truncate(warc / name, intact + (grown - intact) // 2)
    assert writer._file is not None
    os.close(writer._file.fd)  # the process is gone, and its descriptors (and the marker's lock) with it
    writer._file.marker.close()

    run = Run(make_crawler, tmp_path)
    stats = run.close()
    assert stats["archive/recovered_files"] == 1 and stats["archive/torn_tails_cut"] == 1
    assert stats["archive/reindexed"] == 1  # the whole capture is in the catalog now; the torn one is gone
    catalog = Catalog(run.db)
    assert catalog.known_captures([kept.record.id, torn.record.id]) == {kept.record.id}
    catalog.close()
    assert intact <= (warc / name).stat().st_size < intact + (grown - intact) // 2  # only the torn record's bytes went
    assert warcio_check([warc / name]).returncode == 0


def test_a_capture_extraction_fails_on_is_archived_raw_and_catalogued_with_no_main_text(
    make_crawler: MakeCrawler, tmp_path: Path
) -> None:
    nested = b"<html><body>" + b"<div>" * 5000 + b"x" + b"</div>" * 5000 + b"</body></html>"
    broken = _live(f"{URL}-nested", nested)
    failed = build_item(broken)  # as a spider builds it
    assert isinstance(failed, NoTextItem) and failed.record is not None
    empty = build_item(_live(f"{URL}-empty", b""))
    assert type(empty) is CaptureFailure  # nothing to keep

    run = Run(make_crawler, tmp_path)
    run.feed(failed, empty, _item(_live()))
    stats = run.close()
    assert stats["archive/no_text"] == 1 and stats["archive/failed"] == 2
    assert stats["archive/records_written"] == 1  # the page with text; the other is catalogued apart
    [(where, reason), (empty_where, empty_reason)] = stats["archive/failures"]
    assert where == broken.source_location and reason.startswith(failed.reason)
    assert "raw capture archived" in reason and "no main text" in reason
    assert (empty_where, empty_reason) == (f"{URL}-empty", "empty capture (no bytes)")
    # The exchange as fetched: request and response records, the body byte for byte.
    records = _warc(run.data)
    responses = {h["WARC-Target-URI"]: body for kind, h, _, body in records if kind == "response"}
    assert responses[f"{URL}-nested"] == nested
    assert [h["WARC-Target-URI"] for kind, h, _, _ in records if kind == "request"].count(f"{URL}-nested") == 1
    catalog = _catalog(run.db)
    kept = catalog.get(failed.record.id)
    catalog.close()
    assert kept is not None and kept.text == "" and kept.provenance.no_text == failed.reason
    assert kept.provenance.warc_raw is not None
    assert read_payload(run.data / "warc", kept.provenance.warc_raw) == nested
    assert warcio_check(warc_files(run.data)).returncode == 0


def test_reextract_gives_a_capture_with_no_main_text_its_text_when_extraction_succeeds(
    make_crawler: MakeCrawler, tmp_path: Path
) -> None:
    capture = _live()
    first = Run(make_crawler, tmp_path)
    first.feed(without_text(capture, "extraction crashed: RecursionError: maximum recursion depth exceeded"))
    first.close()
    catalog = _catalog(first.db)
    [before] = catalog.crawl_records(crawl_rows(first.db)[0]["id"])
    catalog.close()
    assert before.text == "" and before.provenance.no_text is not None and before.provenance.warc_raw is not None
    [old_file] = warc_files(first.data)

    at_raw = replace(capture, source_location=f"{old_file}#{before.provenance.warc_raw.offset}")
    again = Run(make_crawler, tmp_path, ARCHIVE_CRAWL_KIND="reextract")
    again.feed(without_text(at_raw, "no article text found"))  # fails again: kept as it was
    stats = again.close()
    assert stats["archive/unchanged"] == 1 and stats["archive/failed"] == 1
    assert "still no main text" in stats["archive/failures"][0][1]

    last = Run(make_crawler, tmp_path, ARCHIVE_CRAWL_KIND="reextract")
    last.feed(_item(at_raw))  # extraction succeeds at last
    stats = last.close()
    assert stats["archive/reextracted"] == 1
    catalog = _catalog(first.db)
    now = catalog.get(before.id)
    hits = catalog.search("landing stage", SearchFilters())
    catalog.close()
    assert now is not None and now.provenance.no_text is None and "landing stage" in now.text
    assert now.provenance.warc_raw == before.provenance.warc_raw
    assert [hit.record.id for hit in hits] == [before.id]


def test_the_archiving_pipeline_opens_its_sqlite_catalog_with_the_writers_small_cache(
    make_crawler: MakeCrawler, tmp_path: Path
) -> None:
    # A run's memory must not grow with the catalog pages it writes (the search cache is 64 MiB).
    run = Run(make_crawler, tmp_path)
    with run.pipeline.catalog.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA cache_size").scalar_one() == -8192
        assert connection.exec_driver_sql("PRAGMA mmap_size").scalar_one() == 0
