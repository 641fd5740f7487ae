"""The live progress line (archive.crawl.progress.ProgressExtension), driven by a crawl's signals in this process."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured

from archive.crawl.progress import ProgressExtension

MakeCrawler = Callable[..., Crawler]


def test_progress_is_off_unless_asked_and_says_so(make_crawler: MakeCrawler) -> None:
    with pytest.raises(NotConfigured, match="ARCHIVE_PROGRESS is off"):
        ProgressExtension.from_crawler(make_crawler())


def test_the_line_counts_a_replay_then_a_crawls_fetches_and_rate(make_crawler: MakeCrawler) -> None:
    crawler = make_crawler({"ARCHIVE_PROGRESS": True})
    progress = ProgressExtension.from_crawler(crawler)
    spider = crawler.spider
    crawler.signals.send_catch_log(signal=signals.spider_opened, spider=spider)
    assert progress.progress.live.is_started
    stats = crawler.stats
    for key, value in {"archive/captures_read": 7, "archive/records_written": 5, "archive/unchanged": 1}.items():
        stats.set_value(key, value)
    stats.set_value("archive/failed", 1)
    crawler.signals.send_catch_log(signal=signals.item_scraped, item={}, response=None, spider=spider)
    [task] = progress.progress.tasks
    assert task.description == "7 read · 5 committed · 1 unchanged · 1 failed"

    stats.set_value("downloader/response_count", 12)
    stats.set_value("archive/revisits", 3)
    stats.set_value("crawl/skipped_not_html", 2)
    stats.set_value("crawl/robots_forbidden", 1)
    crawler.signals.send_catch_log(signal=signals.response_received, response=None, request=None, spider=spider)
    found = re.fullmatch(
        r"12 fetched \((\d+\.\d)/s\) · 7 read · 5 committed · 1 unchanged · 1 failed · 3 revisits · 3 skipped",
        task.description,
    )
    assert found is not None, task.description
    assert float(found.group(1)) > 0
    crawler.signals.send_catch_log(signal=signals.spider_closed, spider=spider, reason="finished")
    assert not progress.progress.live.is_started
