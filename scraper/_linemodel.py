"""A learned line classifier for text captures: text-only features, gradient-boosted trees in JSON.

The model file is plain JSON (trees as flat arrays, the feature names, a threshold),
evaluated here with numpy: no pickle, nothing tied to the library that trained it.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from scraper._dates import find_date
from scraper._stopwords import CJK_PARTICLES, STOPWORDS
from scraper.strip import Analysis, headline_lists, vetoed

__all__ = [
    "BASE_FEATURES",
    "FEATURES",
    "LEXICON_FEATURES",
    "LineModel",
    "base_features",
    "default_model",
    "lexicon_features",
    "line_features",
    "line_tokens",
]

_TOKEN = re.compile(r"[^\W\d_]+", re.UNICODE)
_PUNCT = re.compile(r"[,.;:!?،。、，；：！？]")
_LINKISH = re.compile(r"https?://|www\.|@\w|\.\w{2,4}\b/|\b\w+\.(?:com|org|net|de|fr|es|it|nl|ru)\b")
_WINDOWS = (1, 3, 10)
_LIST_CONVICTION = 0.5
_OWN_FEATURES = 9  # the first BASE_FEATURES, what _own gives
_ROWS_PER_BLOCK = 4096

BASE_FEATURES = (
    "words_log",
    "chars_log",
    "mean_word_len",
    "ends_sentence",
    "punct_per_word",
    "upper_share",
    "digit_share",
    "capitalized_share",
    "stopword_share",
    "bullet",
    "indent",
    "strong_hits",
    "weak_hits",
    "count_widget",
    "prose",
    "teaser",
    "caption",
    "furniture",
    "repeats",
    "position",
    "in_span",
    "score",
    "glued",
    "has_date",
    "linkish",
    "is_title",
    "is_lead",
    "prev_words_log",
    "next_words_log",
    *(f"prose_share_{w}" for w in _WINDOWS),
    *(f"mean_score_{w}" for w in _WINDOWS),
    *(f"stopword_mean_{w}" for w in _WINDOWS),
    "dist_to_prose",
    "prose_words_before",
    "prose_words_after",
    "words_vs_median_prose",
)
# A learned multilingual lexicon: per word, the log-odds that a line holding it is article
# rather than furniture, counted over the training pages and kept only for words seen on
# many sites (so no site's own vocabulary gets in). Shipped inside the model file.
LEXICON_FEATURES = (
    "lex_mean",
    "lex_min",
    "lex_max",
    "lex_known",
    *(f"lex_mean_{w}" for w in _WINDOWS),
)
FEATURES = BASE_FEATURES + LEXICON_FEATURES


def line_features(analysis: Analysis, lexicon: Mapping[str, float]) -> np.ndarray:
    """Return one row of FEATURES per line of the analysed capture."""
    features = np.empty((len(analysis.lines), len(FEATURES)))  # filled in place: no second copy of every row
    base_features(analysis, into=features[:, : len(BASE_FEATURES)])
    features[:, len(BASE_FEATURES) :] = lexicon_features(line_tokens(analysis), lexicon)
    return features


def line_tokens(analysis: Analysis) -> list[list[str]]:
    """Return each line's distinct words, lower-cased; CJK text also as single characters."""
    out = []
    for line in analysis.lines:
        words = [t.casefold() for t in _TOKEN.findall(line.text)]
        words += [ch for ch in line.text if "\u3040" <= ch <= "\u9fff"]
        out.append(list(dict.fromkeys(words)))
    return out


def lexicon_features(tokens: Sequence[Sequence[str]], lexicon: Mapping[str, float]) -> np.ndarray:
    """Return one row of LEXICON_FEATURES per line, given each line's tokens."""
    n = len(tokens)
    rows = np.zeros((n, 4))
    for i, words in enumerate(tokens):
        values = [lexicon[w] for w in words if w in lexicon]
        if values:
            rows[i] = (sum(values) / len(values), min(values), max(values), len(values) / len(words))
    if n == 0:
        return np.zeros((0, len(LEXICON_FEATURES)))
    return np.hstack([rows, np.column_stack([_window_means(rows[:, 0], w) for w in _WINDOWS])])


def base_features(analysis: Analysis, into: np.ndarray | None = None) -> np.ndarray:
    """Return one row of BASE_FEATURES per line: what the line and its neighbours show on their own.

    Rows go straight into an array (`into`, when given), never a list of lists: a capture of
    many short lines would hold hundreds of bytes per line in Python floats.
    """
    out = np.empty((len(analysis.lines), len(BASE_FEATURES))) if into is None else into
    if analysis.lines:
        _base_rows(_Neighbourhood.of(analysis), 0, len(analysis.lines), out)
    return out


@dataclass(frozen=True)
class _Neighbourhood:
    """What base features read about the whole capture, a few numbers per line; rows are then made in blocks."""

    analysis: Analysis
    own: np.ndarray
    words: np.ndarray
    prose_words: np.ndarray
    total_prose: float
    before: np.ndarray
    median_prose: float
    lead: frozenset[int]
    to_prose: np.ndarray  # per line: how many lines away the nearest prose line is, at most 50
    clipped: np.ndarray  # scores within [-50, 50]
    windows: np.ndarray  # per line: prose share, then mean clipped score, in each of _WINDOWS
    words_log: np.ndarray

    @classmethod
    def of(cls, analysis: Analysis) -> _Neighbourhood:
        lines = analysis.lines
        own = np.empty((len(lines), _OWN_FEATURES))
        for i, line in enumerate(lines):
            own[i] = _own(line.text)
        words = np.array([line.words for line in lines], dtype=float)
        prose = np.array([line.prose for line in lines], dtype=float)
        prose_words = words * prose
        clipped = np.clip(np.array(analysis.scores()), -50, 50)
        return cls(
            analysis=analysis,
            own=own,
            words=words,
            prose_words=prose_words,
            total_prose=float(prose_words.sum() or 1.0),
            before=np.cumsum(prose_words) - prose_words,
            median_prose=float(np.median(words[prose > 0])) if prose.any() else 1.0,
            lead=frozenset(analysis.lead),
            to_prose=_distance_to_prose(np.flatnonzero(prose), len(lines)),
            clipped=clipped,
            windows=np.column_stack([_window_means(v, w) for v in (prose, clipped) for w in _WINDOWS]),
            words_log=np.fromiter((math.log1p(w) for w in words), float, len(lines)),
        )


def _base_rows(hood: _Neighbourhood, start: int, stop: int, out: np.ndarray) -> None:
    """Write the base features of lines [start, stop) into `out`, one row each, from its first row."""
    analysis, own, words, windows, words_log = hood.analysis, hood.own, hood.words, hood.windows, hood.words_log
    n = len(analysis.lines)
    for i in range(start, stop):
        line = analysis.lines[i]
        out[i - start] = [
            *own[i],
            float(line.bullet),
            float(min(line.indent, 20)),
            float(line.strong),
            float(line.weak),
            float(line.count),
            float(line.prose),
            float(line.teaser),
            float(line.caption),
            float(line.furniture),
            float(analysis.repeats[line.text]),
            i / max(1, n - 1),
            float(analysis.start <= i < analysis.end),
            float(hood.clipped[i]),
            float(line.glued),
            float(find_date(line.text) is not None) if line.words <= 12 else 0.0,
            float(bool(_LINKISH.search(line.text))),
            float(i == analysis.title_at),
            float(i in hood.lead),
            float(words_log[i - 1]) if i > 0 else 0.0,
            float(words_log[i + 1]) if i + 1 < n else 0.0,
            *windows[i],
            *(_mean(own[max(0, i - w) : i + w + 1, 8]) for w in _WINDOWS),
            float(hood.to_prose[i]),
            float(hood.before[i] / hood.total_prose),
            float((hood.total_prose - hood.before[i] - hood.prose_words[i]) / hood.total_prose),
            float(words[i] / hood.median_prose),
        ]


def _mean(values: np.ndarray) -> float:
    """Return `values.mean()`, the same sum divided by the same count, without its per-call set-up."""
    return float(np.add.reduce(values)) / len(values)


def _distance_to_prose(prose_at: np.ndarray, n: int) -> np.ndarray:
    """Return, per line of `n`, how many lines away the nearest of the prose lines `prose_at` is (capped at 50)."""
    if not prose_at.size:
        return np.full(n, 50.0)
    lines = np.arange(n)
    after = np.searchsorted(prose_at, lines)  # the first prose line at or after each line; the one before it
    nearest = np.minimum(
        np.abs(prose_at[np.minimum(after, prose_at.size - 1)] - lines),
        np.abs(prose_at[np.maximum(after - 1, 0)] - lines),
    )
    distances: np.ndarray = np.minimum(nearest, 50).astype(float)
    return distances


def _window_means(values: np.ndarray, w: int) -> np.ndarray:
    """Return, per line, the mean of `values` over the lines within `w` of it (fewer at the ends), from running sums.

    Where sums are exact in any order (0/1 shares, clipped scores: multiples of 0.5), these are
    the very floats each window's `mean()` gives.
    """
    n = len(values)
    sums = np.concatenate([[0.0], np.cumsum(values)])
    at = np.arange(n)
    lo, hi = np.maximum(0, at - w), np.minimum(n, at + w + 1)
    means: np.ndarray = (sums[hi] - sums[lo]) / (hi - lo)
    return means


def _own(text: str) -> list[float]:
    """Return the features a line has on its own (the first nine FEATURES)."""
    tokens = _TOKEN.findall(text)
    letters = sum(map(str.isalpha, text)) or 1
    n_tokens = len(tokens) or 1
    cjk_chars = [ch for ch in text if "\u3040" <= ch <= "\u9fff"]
    if cjk_chars:
        stop_share = sum(ch in CJK_PARTICLES for ch in cjk_chars) / len(cjk_chars)
    else:
        stop_share = sum(t.lower() in STOPWORDS for t in tokens) / n_tokens
    return [
        math.log1p(len(tokens)),
        math.log1p(len(text)),
        sum(map(len, tokens)) / n_tokens,
        float(text.rstrip("\"'”’»)]").endswith((".", "!", "?", "。", "！", "？", "…", ":", ";"))),
        len(_PUNCT.findall(text)) / n_tokens,
        sum(map(str.isupper, text)) / letters,
        sum(map(str.isdigit, text)) / max(1, len(text)),
        sum(t[0].isupper() for t in tokens) / n_tokens,
        stop_share,
    ]


@dataclass(frozen=True)
class _Tree:
    feature: np.ndarray
    threshold: np.ndarray
    left: np.ndarray
    right: np.ndarray
    value: np.ndarray  # leaf value at leaves; unused elsewhere
    leaf: np.ndarray
    depth: int


@dataclass(frozen=True)
class _Forest:
    """All trees as one padded table (trees x nodes), walked together: one numpy step per level, not per tree."""

    feature: np.ndarray
    threshold: np.ndarray
    left: np.ndarray
    right: np.ndarray
    value: np.ndarray
    leaf: np.ndarray
    depth: int

    @classmethod
    def of(cls, trees: list[_Tree]) -> _Forest:
        width = max((len(t.feature) for t in trees), default=1)

        def table(name: str, fill: Any) -> np.ndarray:
            columns = [getattr(t, name) for t in trees] or [np.zeros(0)]
            return np.stack([np.pad(c, (0, width - len(c)), constant_values=fill) for c in columns])

        return cls(
            feature=table("feature", 0),
            threshold=table("threshold", 0.0),
            left=table("left", 0),
            right=table("right", 0),
            value=table("value", 0.0),
            leaf=table("leaf", True),  # padding is never reached; a leaf there would stay put anyway
            depth=max((t.depth for t in trees), default=0),
        )

    def leaf_values(self, features: np.ndarray) -> np.ndarray:
        """Return the value of the leaf each row reaches in each tree, shape (trees, rows).

        Each level steps only the (tree, row) walks that have not reached a leaf: most stop
        long before the deepest tree's last level.
        """
        count, width = self.feature.shape
        rows, columns = features.shape
        cells = features.ravel()
        tree_start = np.repeat(np.arange(count) * width, rows)  # flat index of its tree's node 0, per walk
        row_start = np.tile(np.arange(rows) * columns, count)  # flat index of its row's first cell, per walk
        feature, threshold, left, right, leaf = (
            a.ravel() for a in (self.feature, self.threshold, self.left, self.right, self.leaf)
        )
        at = tree_start.copy()  # the node each walk stands on
        walking = np.flatnonzero(~leaf.take(at))
        for _ in range(self.depth):  # no walk is longer than its tree is deep
            if not walking.size:
                break
            node = at.take(walking)
            go_left = cells.take(row_start.take(walking) + feature.take(node)) <= threshold.take(node)
            step = tree_start.take(walking) + np.where(go_left, left.take(node), right.take(node))
            at[walking] = step
            walking = walking[~leaf.take(step)]
        values: np.ndarray = self.value.ravel().take(at).reshape(count, rows)
        return values


class LineModel:
    """Gradient-boosted trees over FEATURES; `keep` decides lines by probability and threshold."""

    def __init__(self, spec: dict[str, Any]) -> None:
        if tuple(spec["features"]) != FEATURES:
            raise ValueError("model was trained on other features; retrain with `scraper train-stripper`")
        self.version: str = spec["version"]
        self.lexicon: dict[str, float] = {str(k): float(v) for k, v in spec.get("lexicon", {}).items()}
        self.threshold: float = float(spec["threshold"])
        self.base: float = float(spec.get("base_score", 0.0))
        self.trees = [_tree(t) for t in spec["trees"]]
        self.spec = spec
        self._forest = _Forest.of(self.trees)

    @classmethod
    def load(cls, path: Path) -> LineModel:
        """Return the model stored as JSON at `path`."""
        return cls(json.loads(path.read_text(encoding="utf-8")))

    def probabilities(self, features: np.ndarray) -> np.ndarray:
        """Return, per row, the probability that the line belongs to the article."""
        return _logistic(self._raw(features))

    def _raw(self, features: np.ndarray) -> np.ndarray:
        """Return, per row, the forest's summed leaf values (the log-odds), a block of rows at a time.

        The walk holds (trees x rows) arrays: a gigabyte per temporary for 500,000 lines at once.
        Each row's sum is its own, so blocks change no bit of it.
        """
        raw = np.full(features.shape[0], self.base)
        for start in range(0, features.shape[0], _ROWS_PER_BLOCK):
            block = raw[start : start + _ROWS_PER_BLOCK]
            for values in self._forest.leaf_values(features[start : start + _ROWS_PER_BLOCK]):  # (trees, rows)
                block += values  # tree by tree, in training order: the same float sums as the trainer's
        return raw

    def decide(self, analysis: Analysis) -> list[bool]:
        """Return the shipped decision per line: the model's, with sure furniture always dropped.

        Sure furniture: what `vetoed` names (captions, count widgets, boilerplate phrases;
        the dev set's extractors keep captions, so the model learned to), and lines of a
        headline list outside the article run that the model keeps without conviction
        (probability under 0.5): trending and related-story lists.
        """
        probabilities = self._probabilities_of(analysis)
        listed = headline_lists(analysis)

        def model(_: Analysis) -> list[bool]:
            return [
                bool(p >= self.threshold) and not (i in listed and p < _LIST_CONVICTION)
                for i, p in enumerate(probabilities)
            ]

        return vetoed(model)(analysis)

    def keep(self, analysis: Analysis) -> list[bool]:
        """Return, per line of the capture, whether the model puts it in the article."""
        return [bool(p >= self.threshold) for p in self._probabilities_of(analysis)]

    def _probabilities_of(self, analysis: Analysis) -> np.ndarray:
        """Return the probability of each line, its features made and walked a block of lines at a time.

        The same numbers as `probabilities(line_features(...))`: a row's features and sum are its
        own. All rows at once held about 500 bytes of features per line, and the forest walk
        (trees x rows) arrays of 2 KB per line per temporary.
        """
        n = len(analysis.lines)
        if n == 0:
            return np.zeros(0)
        lexical = lexicon_features(line_tokens(analysis), self.lexicon)
        hood = _Neighbourhood.of(analysis)
        raw = np.empty(n)
        for start in range(0, n, _ROWS_PER_BLOCK):
            stop = min(n, start + _ROWS_PER_BLOCK)
            block = np.empty((stop - start, len(FEATURES)))
            _base_rows(hood, start, stop, block[:, : len(BASE_FEATURES)])
            block[:, len(BASE_FEATURES) :] = lexical[start:stop]
            raw[start:stop] = self._raw(block)
        return _logistic(raw)  # over all rows at once, as `probabilities` does: the same vector code for each


def _logistic(raw: np.ndarray) -> np.ndarray:
    probabilities: np.ndarray = 1.0 / (1.0 + np.exp(-raw))
    return probabilities


def _tree(flat: dict[str, Any]) -> _Tree:
    feature = np.array(flat["feature"], dtype=np.int64)
    leaf = feature < 0
    return _Tree(
        feature=np.where(leaf, 0, feature),
        threshold=np.array(flat["threshold"], dtype=float),
        left=np.array(flat["left"], dtype=np.int64),
        right=np.array(flat["right"], dtype=np.int64),
        value=np.array(flat["value"], dtype=float),
        leaf=leaf,
        depth=int(flat["depth"]),
    )


MODEL_RESOURCE = "stripper-model.json"


@cache
def default_model() -> LineModel | None:
    """Return the model shipped in the package, or None when there is none."""
    resource = resources.files("scraper") / "models" / MODEL_RESOURCE
    if not resource.is_file():
        return None
    return LineModel(json.loads(resource.read_text(encoding="utf-8")))
