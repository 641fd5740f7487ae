"""--comments: reader comments are left out by default and kept on request, said so in provenance.

tests/data/comments/ holds one story twice: as an HTML page whose comments sit in a comment
section, and as a text capture ending in a comment thread (and, for test_quality_truth, the
story's ground truth). Extraction runs for real (trafilatura,
the text stripper); replay, reextract and crawl run through the CLI, in processes of their own.
"""

from __future__ import annotations

import asyncio
import json
import shutil
from collections.abc import Awaitable
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from archive.cli import build_parser
from archive.crawl.items import ArchiveItem, CaptureFailure
from archive.crawl.workers import ExtractionPool
from scraper import Capture, Record, build_record
from tests.conftest import DATA, Cli
from tests.loopback import LoopbackSite

STORY = DATA / "comments"
ARTICLE = (
    "The harbour board voted on Tuesday to close the old ferry pier for the whole winter while divers inspect the "
    "wooden piles that hold it up.",
    "Engineers found last month that several piles had rotted below the waterline, and the board said it would not "
    "take the risk of a collapse during the storm season.",
    "Commuters will be sent to the north landing instead, which adds about ten minutes to the crossing and has far "
    "fewer parking spaces.",
)
COMMENTS = (
    "About time they looked at those piles, my grandfather warned the council about them thirty years ago.",
    "The north landing cannot cope with the morning rush, expect queues around the block every single weekday.",
)


def _record(name: str, media_type: str, **options: bool) -> Record:
    return build_record(Capture((STORY / name).read_bytes(), "file", name, media_type), **options)


def _paragraphs(text: str) -> list[str]:
    return [p for p in text.split("\n") if p.strip()]


def _assert_without_comments(text: str, options: dict[str, object]) -> None:
    assert _paragraphs(text) == list(ARTICLE)
    assert options["include_comments"] is False


def _assert_with_comments(text: str, options: dict[str, object]) -> None:
    paragraphs = _paragraphs(text)
    assert paragraphs[: len(ARTICLE)] == list(ARTICLE)  # the article first, whole
    assert set(COMMENTS) <= set(paragraphs[len(ARTICLE) :])  # then both comments
    assert options["include_comments"] is True


@pytest.mark.parametrize(("name", "media_type"), [("article.html", "text/html"), ("article.txt", "text/plain")])
def test_comments_are_left_out_unless_asked_for(name: str, media_type: str) -> None:
    default = _record(name, media_type)
    _assert_without_comments(default.text, default.provenance.extractor_options)
    kept = _record(name, media_type, comments=True)
    _assert_with_comments(kept.text, kept.provenance.extractor_options)
    assert kept.id == default.id  # the same capture: another extraction of it, not another capture


def test_every_extracting_command_takes_comments_and_others_refuse_it() -> None:
    parser = build_parser()
    for args in (["crawl", "https://example.org/"], ["replay", "saved"], ["extract", "page.html"], ["reextract"]):
        assert parser.parse_args(args).comments is None  # not given: ARCHIVE_COMMENTS decides (off)
        assert parser.parse_args([*args, "--comments"]).comments is True
    for args in (["query", "ferry"], ["export"], ["serve"]):  # they read records, they do not build them
        parser.parse_args(args)
        with pytest.raises(SystemExit) as refused:
            parser.parse_args([*args, "--comments"])
        assert refused.value.code == 2


def _exported(cli: Cli) -> dict[str, dict]:
    lines = cli("export", "--format", "jsonl", check=True).out.splitlines()
    return {Path(r["provenance"]["source_location"]).name: r for r in map(json.loads, lines)}


def test_extract_keeps_comments_with_the_option(cli: Cli) -> None:
    for given, check in (((), _assert_without_comments), (("--comments",), _assert_with_comments)):
        done = cli("extract", "--format", "json", *given, str(STORY / "article.html"), str(STORY / "article.txt"))
        assert done.code == 0, done.err
        results = json.loads(done.out)
        assert len(results) == 2
        for result in results:
            check(result["text"], result["provenance"]["extractor_options"])


@pytest.mark.slow  # four CLI processes (replay, reextract, two exports): 13 s on a busy machine
def test_replay_leaves_comments_out_and_reextract_comments_brings_them_in(cli: Cli, tmp_path: Path) -> None:
    folder = tmp_path / "story"
    folder.mkdir()
    for name in ("article.html", "article.txt"):
        shutil.copy(STORY / name, folder / name)
    cli("replay", str(folder), check=True)
    records = _exported(cli)
    assert sorted(records) == ["article.html", "article.txt"]
    for record in records.values():
        _assert_without_comments(record["text"], record["provenance"]["extractor_options"])

    cli("reextract", "--comments", check=True)
    again = _exported(cli)
    for record in again.values():
        _assert_with_comments(record["text"], record["provenance"]["extractor_options"])
    assert {n: r["id"] for n, r in again.items()} == {n: r["id"] for n, r in records.items()}


@pytest.mark.slow  # starts extraction workers
@pytest.mark.parametrize("comments", [False, True])
def test_the_option_reaches_the_extraction_workers(comments: bool) -> None:
    """With --jobs N a spider's ExtractionPool builds records in worker processes: they extract as asked."""
    capture = Capture((STORY / "article.html").read_bytes(), "file", "article.html", "text/html")
    pool = ExtractionPool(1, None, comments=comments)
    try:
        while pool.launcher is None:  # the first captures are the caller's to extract, as the pool starts
            assert pool.submit(capture) is None
        pool.launcher.join()
        building = pool.submit(capture)
        assert building is not None
        item = asyncio.run(_built(building))
    finally:
        pool.close()
    assert isinstance(item, ArchiveItem)
    check = _assert_with_comments if comments else _assert_without_comments
    check(item.record.text, item.record.provenance.extractor_options)


async def _built(building: Awaitable[ArchiveItem | CaptureFailure]) -> ArchiveItem | CaptureFailure:
    return await building


class _StoryPage(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path != "/story":
            self.send_error(404)
            return
        body = (STORY / "article.html").read_bytes()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def test_crawl_comments_keeps_a_pages_comments(cli: Cli) -> None:
    with LoopbackSite(_StoryPage) as site:
        cli(
            "crawl",
            f"{site.base}/story",
            "--depth",
            "0",
            "--comments",
            "--delay",
            "0",
            "--allow-network",
            "127.0.0.1/32",
            check=True,
        )
    [record] = _exported(cli).values()
    assert record["source_url"] == f"{site.base}/story"
    _assert_with_comments(record["text"], record["provenance"]["extractor_options"])
