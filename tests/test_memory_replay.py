"""What a replay holds at once must not grow with the number of captures it replays (issue 22, target 5).

Scrapy reads a spider's start() to its end into the scheduler whether or not the engine has
room, so a replay that yields a request per capture as fast as it finds them holds every
capture's request at once. The replay spider waits for room instead (spiders.replay.room):
requests held (scheduled, downloading or being parsed) stay under what the engine lets in.

The replay runs in a subprocess (a Twisted reactor cannot restart), with an extension that
counts the requests held at each scheduling, and a scraper slot small enough that the engine
backs out after a few responses, as it does after ~1,200 text captures at the default size.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from scrapy import signals

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

ROOT = Path(__file__).resolve().parent.parent
CAPTURES = 150
ACTIVE_SIZE = 8_000  # bytes of responses the scraper takes before the engine backs out (8 at the minimum 1 kB each)
CONCURRENT = 8  # the replay's CONCURRENT_REQUESTS for --jobs 1


class HeldRequests:
    """An extension recording the most requests held at once: queued in the scheduler, or in the engine's hands."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.most = 0
        crawler.signals.connect(self.scheduled, signal=signals.request_scheduled)
        crawler.signals.connect(self.closed, signal=signals.spider_closed)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> HeldRequests:
        return cls(crawler)

    def scheduled(self, request: Any) -> None:
        engine = self.crawler.engine
        slot = getattr(engine, "_slot", None)
        if slot is not None:
            self.most = max(self.most, len(slot.scheduler) + len(slot.inprogress) + 1)

    def closed(self) -> None:
        assert self.crawler.stats is not None
        self.crawler.stats.set_value("test/most_requests_held", self.most)


_RUN = """
import json, sys
from pathlib import Path
from archive.runner import run_replay
data, folder = Path(sys.argv[1]), sys.argv[2]
stats = run_replay(
    [folder], data_dir=data, db_url=f"sqlite:///{data / 'catalog.sqlite'}", jobs=1,
    overrides={"EXTENSIONS": {"tests.test_memory_replay.HeldRequests": 0}, "SCRAPER_SLOT_MAX_ACTIVE_SIZE": %d},
)
print(json.dumps({k: stats.get(k) for k in ("test/most_requests_held", "archive/captures_read", "archive/records_written")}))
"""


@pytest.mark.slow  # spawns a replay
def test_a_replay_holds_a_bounded_number_of_requests_however_many_captures_it_has(tmp_path: Path) -> None:
    folder = tmp_path / "captures"
    folder.mkdir()
    for number in range(CAPTURES):
        lines = "\n".join(f"Paragraph {n} of capture {number}, with words enough to be kept as text." for n in range(6))
        (folder / f"{number:04d}.txt").write_text(f"Capture {number}\n\n{lines}\n", encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, "-c", _RUN % ACTIVE_SIZE, str(tmp_path / "data"), str(folder)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    found = json.loads(proc.stdout.strip().splitlines()[-1])
    assert found["archive/captures_read"] == CAPTURES
    assert found["archive/records_written"] == CAPTURES
    # Before the fix every capture's request was held at once (CAPTURES); now what the engine
    # lets in: the responses the scraper slot takes, those downloading, and one being scheduled.
    assert found["test/most_requests_held"] <= 2 * (ACTIVE_SIZE // 1024 + CONCURRENT), found
