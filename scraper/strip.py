"""Boilerplate stripping for plain-text captures (rendered page text, no HTML left).

The stripper scores each line with text-only evidence (prose shape, a multilingual
boilerplate lexicon, count widgets, teaser lists, repetition), then keeps the
best-scoring run of lines: article lines come in runs, furniture surrounds them. The
rules applied over that decision (headline lists, dangling lead-ins, comment threads)
are in `scraper._rules`.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass

from scraper._dates import find_date
from scraper._rules import comment_thread, dangling_lead_ins, headline_lists, headline_shaped
from scraper._text import normalize_line, phrases_by_first_character, word_count
from scraper.evidence import line_key

__all__ = [
    "STRIPPER_VERSION",
    "Analysis",
    "StrippedText",
    "analyse",
    "comment_thread",
    "dangling_lead_ins",
    "headline_lists",
    "heuristic_keep",
    "strip_boilerplate",
    "vetoed",
]

# Bumped whenever a change alters what the stripper keeps; recorded in provenance.
STRIPPER_VERSION = "3"

# Phrases that mark page furniture in many languages. Weight 2: enough alone;
# weight 1: only on a short line. Whole-line markers are checked separately.
_STRONG = (
    r"©|\(c\) ?\d{4}|all rights reserved|alle rechte vorbehalten|tous droits réservés"
    r"|todos los derechos reservados|tutti i diritti riservati|todos os direitos reservados"
    r"|alle rechten voorbehouden|все права защищены|版权所有|無断転載|appeared first on"
    r"|uses cookies|use of cookies|we use cookies|cookie (?:policy|settings|preferences)"
    r"|verwendet cookies|utilise des cookies|utiliza cookies|utilizza cookie|usa cookies"
    r"|share on (?:facebook|twitter|x|linkedin|whatsapp|reddit)|unsubscribe at any time"
    r"|sign up for (?:our|the) newsletter|subscribe to (?:our|the) newsletter"
)
_WEAK = (
    r"\badvertis|\bsponsored\b|\bshare\b|\btweet\b|\bsubscribe|\bnewsletter|\bsign (?:up|in)\b"
    r"|\blog ?in\b|\bcookies?\b|privacy|\bterms (?:of|and)\b|\bcopyright\b|\bread more\b"
    r"|\brelated\b|\brecommended\b|\btrending\b|most (?:popular|read|viewed)|follow us"
    r"|skip to|view all|\bcomments?\b|permalink|\bemail alerts?\b|app store|google play"
    r"|download (?:the|our) app|\btags?:|\bvip\b|\bmember(?:ship)?\b|\bphoto(?:graph)? by\b"
    r"|\bimage:|getty images|\breuters\b/|\bap photo\b|\bcredit:|\bembed\b|\bcopy link\b"
    r"|\banzeige\b|\bwerbung\b|\bteilen\b|datenschutz|impressum|weiterlesen|mehr zum thema"
    r"|publicité|partager|abonnez|lire aussi|lire la suite|mentions légales"
    r"|publicidad|compartir|suscr[ií]b|leer más|te puede interesar"
    r"|pubblicità|condividi|iscriviti|leggi anche|publicidade|compartilh|assine|leia (?:também|mais)"
    r"|advertentie|\bdelen\b|abonneer|lees (?:ook|meer)|реклама|поделиться|подпис|читайте также"
    r"|广告|分享|订阅|相关阅读|推荐阅读|広告|シェア|購読|関連記事|おすすめ"
)
# Every line is searched for both: grouped by first character, a search tries a few groups
# at each position, not every phrase (the same matches; 4 times as fast on the weak ones).
_STRONG_RE = re.compile(phrases_by_first_character(_STRONG), re.IGNORECASE)
_WEAK_RE = re.compile(phrases_by_first_character(_WEAK), re.IGNORECASE)
# A line that is only a count widget or a counter label: "496", "1.4k", "SHARES", "Share198Tweet124".
_COUNT_RE = re.compile(
    r"^(?:[\d.,]+\s*[kmb]?|[A-Z]{3,12}|(?:(?:share|tweet|pin|email|views?|likes?|comments?)\s*[\d.,]*[kmb]?\s*)+)$",
    re.IGNORECASE,
)
# A credit after a caption's last sentence: 1-6 capitalized words, names joined by "/",
# or a domain ("Getty Images", "AP", "Jane Roe/Agency/Wire", "Agency.com").
_CREDIT_WORD = r"(?:[A-Z][\w'’&-]*\.?|[\w-]+\.(?:com|net|org|co\.uk))"
_CREDIT_TAIL = re.compile(
    # The sentence must end after a lower-case word or a number, not an abbreviation ("U.S.").
    rf"(?<=[a-z0-9à-ÿ]{{2}})[.!?][\"'”’)]?\s+{_CREDIT_WORD}(?:\s*/\s*[\w.'’&-]+|\s+{_CREDIT_WORD}){{0,6}}$"
)
_BULLET_RE = re.compile(r"^(?:[•◦▪▫●○■□‣⁃∙·*+–—-]|\d{1,2}[.)])\s+")
_SENTENCE_END = re.compile(r"[.!?。！？…:;][\"'”’»)\]]*$")
_TRUNCATED = re.compile(r"(?:\.\.\.|…)$")
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u9fff]")
_BYLINE_RE = re.compile(r"^(?:by|von|par|por|di|door|от|著)\s+(.{2,60})$", re.IGNORECASE)
_NAME_RE = re.compile(r"^[A-Z][\w'’.-]*(?:\s+[A-Z][\w'’.-]*){0,3}$")
_AUTHOR_SPLIT = re.compile(r"\s*(?:,|&|\band\b|\bund\b|\bet\b|\by\b|\be\b|\ben\b|\bи\b)\s*")
_SEPARATORS = re.compile(r"\s*(?://|\||·|•)\s*")

_PROSE_MIN_WORDS = 10
# Headlines rarely run this long; a longer line is prose even without a final stop.
_UNPUNCTUATED_PROSE_WORDS = 16
# A prose line earns only its words beyond this baseline, so a few short sentences
# scattered among furniture (footers, app banners) do not outweigh the furniture.
_PROSE_BASELINE = 8
_TITLE_LOOKBACK = 15
_LEAD_AFTER = 4
# A line this long in a page that gave nothing is paragraphs run together (an old table layout,
# a render without line breaks), unless its furniture phrases come more often than one in
# _WORDS_PER_MARKER words.
_COLLAPSED_WORDS = 40
_WORDS_PER_MARKER = 15


@dataclass(frozen=True, slots=True)
class StrippedText:
    """What the stripper found in a text capture."""

    title: str | None
    paragraphs: tuple[str, ...]
    published: str | None
    authors: tuple[str, ...]
    input_words: int
    line_keys: tuple[str, ...] = ()  # keys of the capture's lines, for cross-capture evidence
    recurring_dropped: int = 0  # lines dropped because they recur on other pages of the site


@dataclass(slots=True)
class _Line:
    text: str
    glued: bool  # no blank line between this line and the one before
    caption: bool
    indent: int
    words: int
    bullet: bool
    furniture: bool
    count: bool
    prose: bool
    teaser: bool
    strong: int = 0  # strong furniture phrases found in it
    weak: int = 0  # weak ones

    @property
    def markers(self) -> int:
        """Return how many furniture phrases the line holds, strong or weak."""
        return self.strong + self.weak


@dataclass(slots=True)
class Analysis:
    """A text capture read line by line: lines, the heuristic article run, title and byline."""

    lines: list[_Line]
    repeats: Counter[str]
    start: int
    end: int
    lead: list[int]
    title_at: int | None
    byline_at: int | None
    authors: tuple[str, ...]

    def scores(self) -> list[float]:
        """Return the heuristic score of each line (positive: prose; negative: furniture)."""
        return [_score(line, self.repeats) for line in self.lines]


def analyse(text: str) -> Analysis:
    """Return the line-by-line reading of a text capture that stripping decisions rest on."""
    lines = _mark_captions(_described(_join_wrapped(text.split("\n"))))
    repeats = Counter(line.text for line in lines)
    start, end = _main_span(lines, repeats)
    # The lead: short lines around the span's start where titles, bylines and datelines
    # sit; a standfirst may come before the byline, so look a little past the first prose.
    first_prose = next((i for i in range(start, end) if lines[i].prose), start)
    lead = [
        i for i in range(max(0, start - _TITLE_LOOKBACK), min(end, first_prose + _LEAD_AFTER)) if not lines[i].prose
    ]
    title_at = _title_index(lines, [i for i in lead if i < first_prose], repeats) if end > start else None
    byline_at, authors = _byline(lines, lead)
    return Analysis(lines, repeats, start, end, lead, title_at, byline_at, authors)


def heuristic_keep(analysis: Analysis) -> list[bool]:
    """Return, per line, whether the heuristic keeps it: in the article run and not furniture."""
    return [
        analysis.start <= i < analysis.end and not (line.furniture or line.count or line.caption)
        for i, line in enumerate(analysis.lines)
    ]


def vetoed(decide: Callable[[Analysis], list[bool]]) -> Callable[[Analysis], list[bool]]:
    """Return `decide` with sure furniture (captions, count widgets, boilerplate phrases) always dropped."""

    def run(analysis: Analysis) -> list[bool]:
        return [
            keep and not (line.caption or line.count or line.furniture)
            for keep, line in zip(decide(analysis), analysis.lines, strict=True)
        ]

    return run


def strip_boilerplate(
    text: str,
    *,
    max_date: str | None = None,
    decide: Callable[[Analysis], list[bool]] | None = None,
    recurring: Callable[[Collection[str]], Collection[str]] | None = None,
    keep_comments: bool = False,
) -> StrippedText:
    """Return the article in a rendered-text capture, with its title, date and byline.

    `decide` chooses the lines to keep (default: the heuristic); title and byline lines
    are left out of the paragraphs whatever it says. `recurring`, given the capture's line
    keys, returns those the site repeats on other pages: such lines are dropped. With
    `keep_comments` a reader-comment thread after the article is not cut off (`comment_thread`).
    """
    analysis = analyse(text)
    keep = list((decide or heuristic_keep)(analysis))
    lines, title_at = analysis.lines, analysis.title_at
    keys = [line_key(line.text) for line in lines]
    distinct = tuple(dict.fromkeys(k for k in keys if k is not None))
    repeated = recurring(distinct) if recurring is not None and distinct else ()
    dropped = 0
    if repeated:
        for i, key in enumerate(keys):
            if keep[i] and key in repeated and i != title_at:
                keep[i] = False
                dropped += 1
    thread = set() if keep_comments else comment_thread(analysis, keep)
    for i in dangling_lead_ins(analysis, keep) | thread:
        keep[i] = False
    skip = {title_at, analysis.byline_at}
    paragraphs = _paragraphs(lines, keep, skip, title_at)
    for fallback in (_last_resort, _not_furniture):
        if paragraphs:
            break
        # The site's own furniture stays out even then.
        last = [k and key not in repeated for k, key in zip(fallback(lines), keys, strict=True)]
        paragraphs = _paragraphs(lines, last, skip, title_at)
    return StrippedText(
        title=lines[title_at].text if title_at is not None else None,
        paragraphs=paragraphs,
        published=_published([lines[i] for i in analysis.lead], max_date),
        authors=analysis.authors,
        input_words=sum(line.words for line in lines),
        line_keys=distinct,
        recurring_dropped=dropped,
    )


def _paragraphs(
    lines: list[_Line], keep: Sequence[bool], skip: set[int | None], title_at: int | None
) -> tuple[str, ...]:
    return tuple(
        line.text
        for i, line in enumerate(lines)
        if keep[i] and i not in skip and not _repeated_title(line, lines, title_at)
    )


def _last_resort(lines: list[_Line]) -> list[bool]:
    """Return the lines to keep when the decision kept none: those shaped like article text.

    A page the model finds no article in (a thin post among a blog's menus, a render that ran
    its text into a few long lines) still says something; its sentence-like lines of
    _PROSE_MIN_WORDS words or more that are not sure furniture are the best guess. A line of
    _COLLAPSED_WORDS words or more is paragraphs run together: a few furniture phrases or a
    capitalized word after its last stop (which on a short line marks a photo credit) are
    bound to occur in it, so only phrases dense enough to make it a footer count.
    """
    return [
        (line.prose or line.words >= _PROSE_MIN_WORDS) and (_collapsed(line) or _kept_alone(line)) for line in lines
    ]


def _not_furniture(lines: list[_Line]) -> list[bool]:
    """Return the lines to keep when no line is shaped like article text: all but sure furniture.

    A page without an article (a 404 page, a forum's "no such topic", a redirect notice) is
    still best told by what it says. A capture of sure furniture only (share counts,
    "Advertisement", "© 2025 All rights reserved") still gives nothing.
    """
    return [_kept_alone(line) for line in lines]


def _kept_alone(line: _Line) -> bool:
    return not (line.furniture or line.count or line.caption)


def _collapsed(line: _Line) -> bool:
    return line.words >= _COLLAPSED_WORDS and line.markers * _WORDS_PER_MARKER <= line.words and not line.count


def _described(raw_lines: list[str]) -> list[_Line]:
    """Return the non-blank lines described, each knowing whether a blank line preceded it."""
    out: list[_Line] = []
    blank_before = True
    for raw in raw_lines:
        if not raw.strip():
            blank_before = True
            continue
        line = _describe(raw, glued=not blank_before)
        blank_before = False
        if line.text:
            out.append(line)
    return out


def _mark_captions(lines: list[_Line]) -> list[_Line]:
    """Return lines with photo captions marked as furniture.

    A caption ends in a credit after its last sentence ("... in March. Getty Images",
    "... Mexico. Name Surname/Agency/Shutterstock"). Where the capture separates
    paragraphs by blank lines, the line glued to a credit line describes the same photo.
    """
    prose = [line for line in lines if line.prose]
    separated = sum(1 for line in prose if not line.glued) >= len(prose) / 2
    for i, line in enumerate(lines):
        if not _CREDIT_TAIL.search(line.text) or line.words < 4:
            continue
        line.caption = True
        if separated and line.glued and i > 0:
            lines[i - 1].caption = True
    return lines


def _describe(raw: str, *, glued: bool = False) -> _Line:
    stripped = raw.strip()
    bullet = bool(_BULLET_RE.match(stripped))
    text = normalize_line(_BULLET_RE.sub("", stripped) if bullet else stripped)
    words = word_count(text)
    strong = len(_STRONG_RE.findall(text))
    weak = len(_WEAK_RE.findall(text))
    furniture = strong > 0 or weak >= 3 or (weak > 0 and words < 15)
    cjk = bool(_CJK.search(text))
    long_enough = (len(text) >= 30) if cjk else words >= _PROSE_MIN_WORDS
    truncated = bool(_TRUNCATED.search(text))
    sentence = bool(_SENTENCE_END.search(text)) or words >= _UNPUNCTUATED_PROSE_WORDS
    return _Line(
        text=text,
        glued=glued,
        caption=False,
        indent=len(raw) - len(raw.lstrip()),
        words=words,
        bullet=bullet,
        furniture=furniture,
        count=bool(_COUNT_RE.match(text)),
        prose=long_enough and sentence and not truncated and not furniture,
        teaser=truncated,
        strong=strong,
        weak=weak,
    )


def _join_wrapped(raw_lines: list[str]) -> list[str]:
    """Return lines with hard-wrapped paragraphs joined back into one line each."""
    out: list[str] = []
    for raw in raw_lines:
        line = raw.rstrip()
        prev = out[-1] if out else ""
        if (
            line
            and prev
            and len(prev) >= 40
            and not _SENTENCE_END.search(prev)
            and line.lstrip()[:1].islower()
            and not _BULLET_RE.match(line.lstrip())
        ):
            out[-1] = f"{prev} {line.strip()}"
        else:
            out.append(line)
    return out


def _score(line: _Line, repeats: Counter[str]) -> float:
    if line.caption:  # photos sit inside articles: a caption costs little, and is left out
        return -1.0
    if line.prose:
        return max(1.0, float(line.words - _PROSE_BASELINE)) if repeats[line.text] == 1 else 0.0
    if line.furniture or line.count or line.teaser:
        return -max(4.0, float(line.words))
    if repeats[line.text] > 1:
        return -2.0 - line.words
    # Short non-sentence lines: subheads inside an article cost little, runs of them (menus,
    # headline lists) add up.
    return -1.0 - 0.5 * line.words


def _main_span(lines: list[_Line], repeats: Counter[str]) -> tuple[int, int]:
    """Return [start, end) of the run of lines with the highest total score."""
    best, best_span = 0.0, (0, 0)
    total, start = 0.0, 0
    for i, line in enumerate(lines):
        if total <= 0:
            total, start = 0.0, i
        total += _score(line, repeats)
        if total > best:
            best, best_span = total, (start, i + 1)
    return best_span


def _title_index(lines: list[_Line], lead: list[int], repeats: Counter[str]) -> int | None:
    """Return the index of the title: a headline-shaped line just before the article."""
    candidates = [i for i in lead if headline_shaped(lines[i]) and not _BYLINE_RE.match(lines[i].text)]
    repeated = [i for i in candidates if repeats[lines[i].text] > 1]
    if repeated:
        return repeated[-1]
    return candidates[-1] if candidates else None


def _repeated_title(line: _Line, lines: list[_Line], title_at: int | None) -> bool:
    return title_at is not None and line.text == lines[title_at].text


def _published(lead: list[_Line], max_date: str | None) -> str | None:
    for line in lead:
        if line.words > 12:
            continue
        found = find_date(line.text)
        if found and (max_date is None or found <= max_date):
            return found
    return None


def _byline(lines: list[_Line], lead: list[int]) -> tuple[int | None, tuple[str, ...]]:
    """Return (index, authors) of the byline in the lead: "By A and B", or "date | Name"."""
    for i in reversed(lead):
        text = lines[i].text
        match = _BYLINE_RE.match(text)
        if match:
            names = [n for n in _AUTHOR_SPLIT.split(match.group(1).strip()) if _NAME_RE.match(n)]
            if names:
                return i, tuple(names)
        parts = _SEPARATORS.split(text)
        if len(parts) > 1 and any(find_date(p) for p in parts):
            names = [p for p in parts if _NAME_RE.match(p) and not find_date(p) and word_count(p) >= 2]
            names = [n for n in names if not _COUNT_RE.match(n) and not _WEAK_RE.search(n)]
            if names:
                return None, (names[0],)
    return None, ()
