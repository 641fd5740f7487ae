"""The text stripper's rules over its line decision: headline lists, dangling lead-ins, comment threads.

Each reads an `Analysis` of `scraper.strip` and names lines by index; `strip_boilerplate`
drops what they return after the heuristic or the line model has decided.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Protocol

from scraper._dates import find_date

__all__ = ["comment_thread", "dangling_lead_ins", "headline_lists", "headline_shaped"]


class _Line(Protocol):
    """What the rules read of a described line (`scraper.strip` describes them)."""

    @property
    def text(self) -> str: ...
    @property
    def words(self) -> int: ...
    @property
    def furniture(self) -> bool: ...
    @property
    def count(self) -> bool: ...
    @property
    def teaser(self) -> bool: ...


class _Analysis(Protocol):
    """What the rules read of a capture's analysis: its lines and the heuristic article run [start, end)."""

    @property
    def lines(self) -> Sequence[_Line]: ...
    @property
    def start(self) -> int: ...
    @property
    def end(self) -> int: ...


_HEADLINE_WORDS = (3, 25)
_HEADLINE_RUN = 3
# A lead-in ("Sources for this article include:", "Read more:") is short; a longer line ending in
# a colon is a sentence introducing a quote or a list that belongs to the article.
_LEAD_IN_WORDS = 8
# Reader comments: a short heading naming them, then a commenter's attribution within a few lines.
_COMMENTS_RE = re.compile(
    r"\b(?:comments?|kommentare?|commentaires?|comentarios?|commenti|reacties|replies|responses)\b"
    r"|\bleave a (?:reply|comment)\b|\badd a comment\b",
    re.IGNORECASE,
)
_ATTRIBUTION_RE = re.compile(r"\b(?:wrote|says|schrieb|a écrit|escribió|ha scritto|schreef)\s*:\s*$", re.IGNORECASE)
_THREAD_HEADING_WORDS = 6
# A commenter's attribution is a short line of its own: "o 9:44 am January 12, 2012 o Jane Roe wrote :".
_ATTRIBUTION_WORDS = 12
_THREAD_WINDOW = 8
_THREAD_AFTER_WORDS = 50


def headline_lists(analysis: _Analysis) -> set[int]:
    """Return the lines in runs of headline-shaped lines outside the article run (trending, related lists).

    Headlines cut short with "..." count as list items. On the first 400 development pages
    90% of such lines are furniture (the cut-short items added 661 furniture lines, 21 article).
    """
    lines, i = analysis.lines, 0
    found: set[int] = set()
    while i < len(lines):
        j = i
        while j < len(lines) and _list_headline(lines[j]):
            j += 1
        if j - i >= _HEADLINE_RUN:
            found.update(k for k in range(i, j) if not analysis.start <= k < analysis.end)
        i = max(j, i + 1)
    return found


def _list_headline(line: _Line) -> bool:
    """Return whether a line can be an item of a headline list: a headline, or one cut short ("... and Take...")."""
    low, high = _HEADLINE_WORDS
    cut_short = line.teaser and low <= line.words <= high and not line.furniture and not line.count
    return line.words >= 3 and (headline_shaped(line) or cut_short) and not line.text.rstrip().endswith(("!", ":", ";"))


def dangling_lead_ins(analysis: _Analysis, keep: Sequence[bool]) -> set[int]:
    """Return kept lines that only introduce what follows ("Sources for this article include:") when it is dropped.

    A short line ending in a colon announces the lines after it; once those are furniture
    (a source list, a share box), the lead-in says nothing on its own.
    """
    lines = analysis.lines
    return {
        i
        for i, line in enumerate(lines)
        if keep[i]
        and line.words <= _LEAD_IN_WORDS
        and line.text.endswith((":", "："))
        and (i + 1 == len(lines) or not keep[i + 1])
    }


def comment_thread(analysis: _Analysis, keep: Sequence[bool]) -> set[int]:
    """Return the lines of a reader-comment thread after the article: from its heading to the end.

    A thread starts at a short heading that names comments ("Add a Comment", "Comments (4 of
    4)", "12 Kommentare") after the article has begun, and shows itself by a comment's
    attribution within the next lines ("Jane wrote:", "Max schrieb:", "Marie a écrit :").
    """
    lines = analysis.lines
    kept_words = 0
    for i, line in enumerate(lines):
        if kept_words >= _THREAD_AFTER_WORDS and line.words <= _THREAD_HEADING_WORDS and _COMMENTS_RE.search(line.text):
            window = lines[i + 1 : i + 1 + _THREAD_WINDOW]
            if any(other.words <= _ATTRIBUTION_WORDS and _ATTRIBUTION_RE.search(other.text) for other in window):
                return set(range(i, len(lines)))
        kept_words += line.words if keep[i] else 0
    return set()


def headline_shaped(line: _Line) -> bool:
    """Return whether a line has a headline's shape: 3-25 words, no final stop, no date, not furniture."""
    low, high = _HEADLINE_WORDS
    return (
        low <= line.words <= high
        and not line.furniture
        and not line.count
        and not line.teaser
        and not line.text.endswith(".")
        and find_date(line.text) is None
    )
