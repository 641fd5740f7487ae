"""One measured run in a process of its own (a Twisted reactor cannot restart), reported as JSON.

    python -m benchmarks._runner replay DATA_DIR JOBS PATH...
    python -m benchmarks._runner crawl DATA_DIR URL
    python -m benchmarks._runner bare-crawl URL

Seconds are counted from just before the run (imports excluded) to its end; peak RSS is the
process's own high-water mark (extraction workers, when there are any, are not counted).
"""

from __future__ import annotations

import json
import resource
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

CONCURRENCY = 8


def _measure(run: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    began = time.perf_counter()
    stats = run()
    seconds = time.perf_counter() - began
    return {
        "seconds": seconds,
        "captures": stats.get("archive/captures_read", 0),
        "records": stats.get("archive/records_written", 0),
        "failed": stats.get("archive/failed", 0),
        "responses": stats.get("downloader/response_count", 0),
        "extracted_in_workers": stats.get("extraction/in_workers", 0),
        "peak_rss_mb": _memory("VmHWM") or resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "rss_at_end_mb": _memory("VmRSS"),
    }


def _memory(field: str) -> float | None:
    """Return this process's VmHWM (peak) or VmRSS in MB from /proc (Linux), else None.

    Not ru_maxrss: Linux carries the parent's peak across fork and exec into it, so a child
    started by a big process reports the parent's size.
    """
    try:
        status = Path("/proc/self/status").read_text()
    except OSError:
        return None
    line = next((line for line in status.splitlines() if line.startswith(field + ":")), None)
    return int(line.split()[1]) / 1024 if line else None


def _replay(data: Path, jobs: int, paths: list[str]) -> dict[str, Any]:
    from archive.runner import run_replay

    db = f"sqlite:///{data / 'catalog.sqlite'}"
    return _measure(lambda: run_replay(paths, data_dir=data, db_url=db, jobs=jobs))


def _crawl(data: Path, url: str) -> dict[str, Any]:
    from archive.crawl.seeds import seed_from_url
    from archive.runner import run_crawl

    overrides = {
        "DOWNLOAD_DELAY": 0,
        "AUTOTHROTTLE_ENABLED": False,
        "CONCURRENT_REQUESTS_PER_DOMAIN": CONCURRENCY,
        "ARCHIVE_ALLOW_NETWORKS": ["127.0.0.1/32"],  # the benchmark site is on loopback
    }
    db = f"sqlite:///{data / 'catalog.sqlite'}"
    return _measure(
        lambda: run_crawl(
            [seed_from_url(url, "page")],
            data_dir=data,
            db_url=db,
            spider_args={"depth": 1},
            settings_overrides=overrides,
            crawl_args={"command": "crawl"},
        )
    )


def _bare_crawl(url: str) -> dict[str, Any]:
    """Fetch what the archiving crawl fetches with a plain Scrapy spider: robots.txt, links, nothing kept."""
    import scrapy
    from scrapy.crawler import CrawlerProcess
    from scrapy.linkextractors import LinkExtractor

    class Bare(scrapy.Spider):
        name = "bare"
        start_urls = [url]  # noqa: RUF012 - Scrapy's own attribute

        def parse(self, response: Any, **kwargs: Any) -> Any:
            if response.meta.get("depth", 0) < 1:
                for link in LinkExtractor().extract_links(response):  # the index links only to its pages
                    yield scrapy.Request(link.url, callback=self.parse)

    process = CrawlerProcess(
        {
            "ROBOTSTXT_OBEY": True,
            "DOWNLOAD_DELAY": 0,
            "CONCURRENT_REQUESTS_PER_DOMAIN": CONCURRENCY,
            "LOG_LEVEL": "ERROR",
            "TWISTED_REACTOR": "twisted.internet.asyncioreactor.AsyncioSelectorReactor",
            "TELNETCONSOLE_ENABLED": False,
        }
    )
    crawler = process.create_crawler(Bare)

    def run() -> dict[str, Any]:
        process.crawl(crawler)
        process.start()
        return dict(crawler.stats.get_stats()) if crawler.stats else {}

    return _measure(run)


def main() -> None:
    from archive._malloc import release_large_blocks

    release_large_blocks()  # as the `scraper` command does
    kind, *args = sys.argv[1:]
    if kind == "replay":
        result = _replay(Path(args[0]), int(args[1]), args[2:])
    elif kind == "crawl":
        result = _crawl(Path(args[0]), args[1])
    elif kind == "bare-crawl":
        result = _bare_crawl(args[0])
    else:
        raise SystemExit(f"unknown run kind {kind!r}")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
