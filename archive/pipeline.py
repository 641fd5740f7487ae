"""The archive pipeline: WARC first, then the catalog, so the catalog never points at missing bytes."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scrapy.exceptions import NotConfigured

from archive.catalog import Catalog
from archive.items import ArchiveItem, CaptureFailure, SkippedRecord
from archive.warc import DEFAULT_MAX_SIZE, WarcFileWriter
from scraper import Record, evidence_scope

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from scrapy.statscollectors import StatsCollector

__all__ = ["SITE_EVIDENCE_MODES", "ArchivePipeline", "warc_directory"]

# off: no cross-capture evidence; text: text captures lose the lines their site repeats
# on other pages; all: HTML captures' extracted text too.
SITE_EVIDENCE_MODES = ("off", "text", "all")

logger = logging.getLogger(__name__)


def warc_directory(data_dir: Path) -> Path:
    """Return where WARC files live under a data directory."""
    return data_dir / "warc"


class ArchivePipeline:
    """Writes each record's WARC records, then commits catalog rows in batches after an fsync."""

    def __init__(self, crawler: Crawler, data_dir: Path, db_url: str) -> None:
        settings = crawler.settings
        self.stats: StatsCollector = crawler.stats  # type: ignore[assignment]
        self.data_dir = data_dir
        self.catalog = Catalog(db_url)
        self.commit_every = max(1, settings.getint("ARCHIVE_COMMIT_EVERY", 50))
        self.crawl_kind = settings.get("ARCHIVE_CRAWL_KIND") or "crawl"
        self.crawl_args: dict[str, Any] = dict(settings.getdict("ARCHIVE_CRAWL_ARGS"))
        self.writer_options: dict[str, Any] = {
            "prefix": settings.get("ARCHIVE_WARC_PREFIX", "scraper"),
            "max_size": settings.getint("ARCHIVE_WARC_MAX_SIZE", DEFAULT_MAX_SIZE),
            "info": {"operator": settings.get("ARCHIVE_OPERATOR"), **settings.getdict("ARCHIVE_WARCINFO")},
        }
        self.site_evidence = settings.get("ARCHIVE_SITE_EVIDENCE") or "off"
        if self.site_evidence not in SITE_EVIDENCE_MODES:
            raise ValueError(f"ARCHIVE_SITE_EVIDENCE must be one of {SITE_EVIDENCE_MODES}, not {self.site_evidence!r}")
        self.crawler = crawler
        self.crawl_id = ""
        self.writer: WarcFileWriter | None = None
        self.pending: list[Record] = []
        self.failures: list[list[str]] = []

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ArchivePipeline:
        data_dir = crawler.settings.get("ARCHIVE_DATA_DIR")
        if not data_dir:
            raise NotConfigured("ARCHIVE_DATA_DIR is not set: nowhere to write WARC files")
        db_url = crawler.settings.get("ARCHIVE_DB_URL") or f"sqlite:///{Path(data_dir) / 'catalog.sqlite'}"
        return cls(crawler, Path(data_dir), db_url)

    def open_spider(self) -> None:
        self.catalog.migrate()
        self.crawl_id = self.catalog.start_crawl(self.crawl_kind, self.crawl_args)
        info = {**self.writer_options["info"], "isPartOf": self.crawl_id}
        self.writer = WarcFileWriter(warc_directory(self.data_dir), **{**self.writer_options, "info": info})
        self.stats.set_value("archive/crawl_id", self.crawl_id)
        self.stats.set_value("archive/failures", self.failures)
        spider = self.crawler.spider
        if self.site_evidence != "off" and spider is not None:
            # The spider's parse consults the catalog through these (spiders.base.ArchiveSpider).
            spider.site_evidence = self.catalog  # type: ignore[attr-defined]
            spider.evidence_for_html = self.site_evidence == "all"  # type: ignore[attr-defined]

    def process_item(self, item: Any) -> Any:
        if isinstance(item, CaptureFailure):
            self._fail(item.source, item.reason)
        elif isinstance(item, SkippedRecord):
            self.stats.inc_value(f"replay/warc_skipped/{item.record_type}")
        elif isinstance(item, ArchiveItem):
            self._archive(item)
        return item

    def close_spider(self) -> None:
        status = "finished"
        try:
            self._commit()
        except Exception:
            status = "failed"
            raise
        finally:
            if self.writer is not None:
                self.writer.close()
                self.stats.set_value("archive/warc_files", list(self.writer.files))
                self.stats.set_value("archive/warc_bytes", self.writer.bytes_written)
            self.catalog.finish_crawl(self.crawl_id, status, self._counts())
            self.catalog.close()

    def _archive(self, item: ArchiveItem) -> None:
        assert self.writer is not None
        self.stats.inc_value("archive/captures_read")
        record = item.record.with_provenance(crawl_id=self.crawl_id)
        if any(p.id == record.id for p in self.pending) or self.catalog.known_captures([record.id]):
            self.stats.inc_value("archive/unchanged")
            return
        try:
            located = self.writer.write_capture(item.capture, record)
        except OSError as exc:
            self._fail(record.provenance.source_location, f"WARC write failed: {exc.strerror or exc}")
            return
        self.pending.append(located)
        scope = evidence_scope(item.capture.url)
        if self.site_evidence != "off" and scope is not None and record.line_keys:
            self.catalog.count_site_lines(*scope, record.line_keys)
        self.stats.inc_value("archive/words_kept", record.word_count)
        self.stats.inc_value("archive/boilerplate_words_dropped", record.boilerplate_word_count)
        if len(self.pending) >= self.commit_every:
            self._commit()

    def _commit(self) -> None:
        if not self.pending or self.writer is None:
            return
        self.writer.flush()  # bytes durable before any row points at them
        inserted = self.catalog.add_records(self.pending)
        self.stats.inc_value("archive/records_written", inserted)
        self.stats.inc_value("catalog/inserted", inserted)
        if inserted < len(self.pending):  # another writer archived the same capture meanwhile
            self.stats.inc_value("archive/unchanged", len(self.pending) - inserted)
        self.pending.clear()

    def _fail(self, source: str, reason: str) -> None:
        self.stats.inc_value("archive/failed")
        self.failures.append([source, reason])
        logger.debug("capture failed: %s: %s", source, reason)

    def _counts(self) -> dict[str, Any]:
        keys = ("captures_read", "records_written", "unchanged", "failed", "words_kept", "boilerplate_words_dropped")
        return {key: self.stats.get_value(f"archive/{key}", 0) for key in keys}
