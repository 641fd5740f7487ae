"""Extraction quality on a labeled corpus: the snippet metric, HTML modes, pages rendered to text.

The metric is the one trafilatura's evaluation uses: for every page, each "with"
snippet found in the whitespace-normalized output is a true positive (else a false
negative), each "without" snippet found is a false positive (else a true negative);
precision, recall and F1 are computed over all snippets of all pages.

Ground-truth sets (html/ID.html.gz beside gt/ID.txt, the more-dev sets) are scored by
bag-of-words token F1 per page, averaged over pages (`truth_scores`).
"""

from __future__ import annotations

import gzip
import json
import re
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from scraper._html import readability_text
from scraper.capture import Capture
from scraper.errors import CaptureError
from scraper.evidence import MIN_OTHER_URLS, LineCounts, evidence_scope
from scraper.extract import build_record
from scraper.strip import strip_boilerplate
from scraper.urls import site_of

__all__ = [
    "MARGINS",
    "MODES",
    "RENDERERS",
    "EvalPage",
    "ModeResult",
    "Scores",
    "WordShares",
    "evaluate",
    "load_eval_set",
    "load_truth_set",
    "margins",
    "pages_of_sites",
    "render_text",
    "seed_report",
    "token_f1",
    "truth_scores",
    "word_shares",
]


@dataclass(frozen=True, slots=True)
class EvalPage:
    """One labeled page: where its HTML is and which snippets a good extraction has or lacks."""

    url: str
    path: Path
    with_: tuple[str, ...]
    without: tuple[str, ...]

    @property
    def site(self) -> str:
        """Return the page's site, the unit that cross-validation holds out."""
        return site_of(self.url) or self.url

    def raw(self) -> bytes:
        """Return the page's HTML bytes as saved."""
        return gzip.decompress(self.path.read_bytes()) if self.path.suffix == ".gz" else self.path.read_bytes()

    def html(self, raw: bytes | None = None) -> str:
        """Return the page's HTML as text, decoded the way our extractor decodes it."""
        from scraper._html import declared_charset
        from scraper._text import decode_bytes

        data = self.raw() if raw is None else raw
        return decode_bytes(data, declared=declared_charset(data))[0]


@dataclass(slots=True)
class Scores:
    """Snippet counts and the precision, recall and F1 they give."""

    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0

    def add(self, other: Scores) -> None:
        self.tp += other.tp
        self.fp += other.fp
        self.fn += other.fn
        self.tn += other.tn

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


@dataclass(slots=True)
class ModeResult:
    """How one extraction mode scored on a set of pages, and how fast it ran."""

    mode: str
    scores: Scores = field(default_factory=Scores)
    pages: int = 0
    failures: int = 0
    seconds: float = 0.0

    @property
    def pages_per_second(self) -> float:
        return self.pages / self.seconds if self.seconds else 0.0

    def as_dict(self) -> dict[str, float | int | str]:
        s = self.scores
        return {
            "mode": self.mode,
            "precision": round(s.precision, 4),
            "recall": round(s.recall, 4),
            "f1": round(s.f1, 4),
            "pages": self.pages,
            "failures": self.failures,
            "pages_per_second": round(self.pages_per_second, 1),
        }


def load_eval_set(directory: Path) -> list[EvalPage]:
    """Return the labeled pages of an evaluation set (evaldata.json plus html/FILE.gz).

    ValueError names the file and what is wrong with it: not JSON, not an object of pages by
    URL, a page without its `file` name or with `with`/`without` that are no lists of snippets.
    """
    where = directory / "evaldata.json"
    try:
        labels = json.loads(where.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{where}: not UTF-8 JSON ({exc})") from None
    if not isinstance(labels, dict):
        raise ValueError(f"{where}: not an object of pages by URL (found a {type(labels).__name__})")
    pages = []
    for url, entry in sorted(labels.items()):
        snippets = [entry.get(key, []) for key in ("with", "without")] if isinstance(entry, dict) else []
        if not isinstance(entry, dict) or not isinstance(entry.get("file"), str) or not entry["file"]:
            raise ValueError(f'{where}: page {url!r} names no file (its entry wants "file": "NAME")')
        if not all(isinstance(s, list) and all(isinstance(x, str) for x in s) for s in snippets):
            raise ValueError(f'{where}: page {url!r}: "with" and "without" must be lists of snippets')
        path = directory / "html" / f"{entry['file']}.gz"
        if not path.exists():
            path = directory / "html" / entry["file"]
        pages.append(EvalPage(url, path, tuple(entry.get("with", ())), tuple(entry.get("without", ()))))
    return pages


def _normalize(text: str) -> str:
    return " ".join(text.split())


def score_output(page: EvalPage, output: str) -> Scores:
    """Return the snippet counts of one page's extraction output."""
    text = _normalize(output)
    found_with = sum(1 for s in page.with_ if _normalize(s) in text)
    found_without = sum(1 for s in page.without if _normalize(s) in text)
    return Scores(
        tp=found_with,
        fn=len(page.with_) - found_with,
        fp=found_without,
        tn=len(page.without) - found_without,
    )


def render_text(html: str, renderer: str = "inscriptis") -> str:
    """Return the page as a reader would copy it: rendered text with furniture and all."""
    if renderer == "inscriptis":
        from inscriptis import get_text

        return str(get_text(html))
    if renderer == "html2text":
        import html2text

        converter = html2text.HTML2Text()
        converter.ignore_links = True
        converter.ignore_images = True
        converter.body_width = 0
        return str(converter.handle(html))
    raise ValueError(f"unknown renderer {renderer!r}; choose one of {RENDERERS}")


RENDERERS = ("inscriptis", "html2text")


def extracted_texts(pages: Iterable[EvalPage]) -> Iterator[str]:
    """Yield the article text our HTML extraction finds in each page that has one."""
    for page in pages:
        try:
            yield _ours_html(page)
        except CaptureError:
            continue


def _ours_html(page: EvalPage, comments: bool = False) -> str:
    capture = Capture(page.raw(), "file", str(page.path), "text/html", url=page.url)
    return build_record(capture, comments=comments).text


def _trafilatura(
    *, fast: bool = False, favor_precision: bool = False, comments: bool = False
) -> Callable[[EvalPage], str]:
    def run(page: EvalPage) -> str:
        import trafilatura

        out = trafilatura.extract(
            page.raw(), url=page.url, include_comments=comments, fast=fast, favor_precision=favor_precision
        )
        return out or ""

    return run


def _text_mode(renderer: str, strip: bool, comments: bool = False) -> Callable[[EvalPage], str]:
    def run(page: EvalPage) -> str:
        rendered = render_text(page.html(), renderer)
        if not strip:
            return rendered
        return build_record(_text_capture(page, rendered), comments=comments).text

    return run


def _text_capture(page: EvalPage, rendered: str) -> Capture:
    return Capture(rendered.encode("utf-8"), "file", str(page.path), "text/plain", url=page.url)


class _SiteEvidenceText:
    """Text mode with cross-capture evidence: each page's comes from the other pages of its site in the set."""

    def __init__(self) -> None:
        self.counts = LineCounts()

    def prepare(self, pages: Sequence[EvalPage]) -> None:
        self.counts = LineCounts()
        for page in pages_of_sites(pages, MIN_OTHER_URLS + 1):
            scope = evidence_scope(page.url)
            if scope is not None:  # the keys do not depend on which lines are kept
                self.counts.add(*scope, strip_boilerplate(render_text(page.html())).line_keys)

    def __call__(self, page: EvalPage) -> str:
        return build_record(_text_capture(page, render_text(page.html())), evidence=self.counts).text


def pages_of_sites(pages: Sequence[EvalPage], at_least: int) -> list[EvalPage]:
    """Return the pages whose site has at least `at_least` pages in `pages`."""
    sizes = Counter(page.site for page in pages)
    return [page for page in pages if sizes[page.site] >= at_least]


MODES: dict[str, Callable[[EvalPage], str]] = {
    "html": _ours_html,
    "trafilatura": _trafilatura(),
    "trafilatura-precision": _trafilatura(favor_precision=True),
    "trafilatura-fast": _trafilatura(fast=True),
    "readability": lambda page: readability_text(page.html()),
    "text": _text_mode("inscriptis", strip=True),
    "text-html2text": _text_mode("html2text", strip=True),
    "text-site-evidence": _SiteEvidenceText(),
    "text-keep-all": _text_mode("inscriptis", strip=False),
    # Reader comments kept (--comments; trafilatura's include_comments): Dragnet's truth counts them.
    "html+comments": partial(_ours_html, comments=True),
    "trafilatura+comments": _trafilatura(comments=True),
    "text+comments": _text_mode("inscriptis", strip=True, comments=True),
}
# Pairs of modes whose difference a ground-truth report states (ours minus the reference).
MARGINS = (("html", "trafilatura"), ("html+comments", "trafilatura+comments"), ("text", "html"))


def evaluate(pages: Sequence[EvalPage], modes: Iterable[str]) -> list[ModeResult]:
    """Return each mode's scores and speed over `pages` (an extraction that fails scores as empty)."""
    results = []
    for mode in modes:
        result = ModeResult(mode, pages=len(pages))
        outputs, result.failures, result.seconds = _outputs(mode, pages)
        for page, output in zip(pages, outputs, strict=True):
            result.scores.add(score_output(page, output))
        results.append(result)
    return results


def _outputs(mode: str, pages: Sequence[EvalPage]) -> tuple[list[str], int, float]:
    """Return a mode's output for each page ("" where extraction failed), how many failed, and the seconds taken."""
    extract = MODES[mode]
    started = time.perf_counter()
    prepare = getattr(extract, "prepare", None)
    if prepare is not None:
        prepare(pages)
    outputs, failures = [], 0
    for page in pages:
        try:
            outputs.append(extract(page))
        except CaptureError:
            outputs.append("")
            failures += 1
    return outputs, failures, time.perf_counter() - started


@dataclass(frozen=True, slots=True)
class WordShares:
    """Word-level quality on a line-labeled text capture."""

    article_words: int
    article_kept: int
    boilerplate_words: int
    boilerplate_dropped: int

    def __add__(self, other: WordShares) -> WordShares:
        return WordShares(
            self.article_words + other.article_words,
            self.article_kept + other.article_kept,
            self.boilerplate_words + other.boilerplate_words,
            self.boilerplate_dropped + other.boilerplate_dropped,
        )

    @property
    def kept_share(self) -> float:
        return self.article_kept / self.article_words if self.article_words else 1.0

    @property
    def dropped_share(self) -> float:
        return self.boilerplate_dropped / self.boilerplate_words if self.boilerplate_words else 1.0


def word_shares(raw_lines: Sequence[str], labels: dict[str, list[int]], title: str | None, text: str) -> WordShares:
    """Return how many article words an extraction kept and boilerplate words it dropped.

    `labels` maps "article", "title" and "meta" to 1-based line numbers; other
    non-blank lines are boilerplate. A line counts as kept when it is a whole output
    paragraph (or the title), or, for lines of four words or more, part of one.
    """
    from scraper._text import normalize_line, word_count

    outputs = [normalize_line(p) for p in text.split("\n\n") if p.strip()]
    if title:
        outputs.append(normalize_line(title))
    exact = set(outputs)

    def kept(line: str) -> bool:
        return line in exact or (word_count(line) >= 4 and any(line in out for out in outputs))

    article = set(labels.get("article", ()))
    apart = set(labels.get("title", ())) | set(labels.get("meta", ()))
    counts = [0, 0, 0, 0]
    for number, raw in enumerate(raw_lines, start=1):
        line = normalize_line(raw.lstrip(" •*-–"))
        if not line or number in apart:
            continue
        words = word_count(line)
        if number in article:
            counts[0] += words
            counts[1] += words if kept(line) else 0
        else:
            counts[2] += words
            counts[3] += 0 if kept(line) else words
    return WordShares(*counts)


def seed_report(seeds: Path, labels_path: Path) -> dict[str, Any]:
    """Return word-level kept/dropped shares of text extraction over line-labeled captures."""
    labels = json.loads(labels_path.read_text(encoding="utf-8"))
    names = sorted(n for n in labels if not n.startswith("_"))
    total = WordShares(0, 0, 0, 0)
    for name in names:
        raw = (seeds / name).read_bytes()
        record = build_record(Capture(raw, "file", str(seeds / name), "text/plain"))
        total += word_shares(raw.decode("utf-8").splitlines(), labels[name], record.title, record.text)
    return {"captures": len(names), "article_kept": total.kept_share, "boilerplate_dropped": total.dropped_share}


def load_truth_set(directory: Path) -> list[tuple[EvalPage, str]]:
    """Return the pages of a ground-truth set (html/ID.html.gz beside gt/ID.txt), each with its true text."""
    found = []
    for path in sorted((directory / "html").glob("*.html.gz")):
        truth = directory / "gt" / f"{path.name.removesuffix('.html.gz')}.txt"
        if truth.is_file():
            found.append((EvalPage("", path, (), ()), truth.read_text(encoding="utf-8", errors="replace")))
    return found


_WORD = re.compile(r"\w+")


def token_f1(output: str, truth: str) -> float:
    """Return the bag-of-words F1 of an extraction against the true text (lower-cased word tokens, multiset overlap)."""
    got, want = Counter(_WORD.findall(output.lower())), Counter(_WORD.findall(truth.lower()))
    if not got or not want:
        return float(got == want)
    overlap = sum((got & want).values())
    precision, recall = overlap / sum(got.values()), overlap / sum(want.values())
    return 2 * precision * recall / (precision + recall) if overlap else 0.0


def truth_scores(pages: Sequence[tuple[EvalPage, str]], modes: Iterable[str]) -> dict[str, dict[str, float]]:
    """Return, per mode, the mean token F1 over `pages`, how many came back empty, and the speed.

    A page extraction fails on scores as empty; `failures` counts those among the empty ones.
    """
    results = {}
    for mode in modes:
        outputs, failures, seconds = _outputs(mode, [page for page, _ in pages])
        total = sum(token_f1(output, truth) for output, (_, truth) in zip(outputs, pages, strict=True))
        results[mode] = {
            "token_f1": round(total / len(pages), 4) if pages else 0.0,
            "pages": len(pages),
            "empty": sum(1 for output in outputs if not output.strip()),
            "failures": failures,
            "pages_per_second": round(len(pages) / seconds, 1) if seconds else 0.0,
        }
    return results


def margins(scores: dict[str, dict[str, float]]) -> dict[str, float]:
    """Return the token F1 differences of the MARGINS pairs both scored, named "ours - reference"."""
    return {
        f"{ours} - {reference}": round(scores[ours]["token_f1"] - scores[reference]["token_f1"], 4)
        for ours, reference in MARGINS
        if ours in scores and reference in scores
    }
