"""Imported once by the extraction forkserver (archive.crawl.workers): one small extraction of each kind.

Extraction fills caches on first use (compiled date patterns, language profiles, the line
model, the background term counts the similarity features weigh words by). Done here, in the
process every worker forks from, each worker starts warm instead of paying for it on its first
captures.
"""

from __future__ import annotations

from contextlib import suppress

from htmldate.extractors import external_date_parser

from scraper import Capture, CaptureError, build_record

_PARAGRAPH = (
    "The river authority said on Tuesday that the new flood barrier at the old mill would be finished "
    "before the autumn rains, two months earlier than planned, after the contractor added a night shift."
)
_PAGE = f"""<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Flood barrier ahead of schedule</title>
<meta name="author" content="Ada Fenwick"><meta property="article:published_time" content="2026-04-14">
</head><body><nav><a href="/">Home</a> <a href="/news">News</a></nav>
<article><h1>Flood barrier ahead of schedule</h1><p>By Ada Fenwick, 14 April 2026</p>
<p>{_PARAGRAPH}</p><p>{_PARAGRAPH}</p></article><footer>© 2026 River Post</footer></body></html>"""
_TEXT = f"Home | News | Sport\nFlood barrier ahead of schedule\nBy Ada Fenwick\n{_PARAGRAPH}\n{_PARAGRAPH}\nShare\n"


def warm() -> None:
    """Extract one sample page and one sample text capture, ignoring the result; load every date locale."""
    # htmldate hands undated text to dateparser, which compiles a language's patterns the first
    # time it tries that language (about 1 s for all): a string no language claims tries them all.
    external_date_parser("qzx 17 vrbl", "%Y-%m-%d")
    for payload, media_type in ((_PAGE, "text/html"), (_TEXT, "text/plain")):
        capture = Capture(payload.encode(), source_kind="file", source_location="warm-up", media_type=media_type)
        with suppress(CaptureError):  # nothing to keep: the caches are filled all the same
            build_record(capture).with_text_features()


warm()
