"""Train the text-capture line classifier by distant supervision, cross-validated by site.

Each labeled HTML page is rendered to text by two renderers (so the model does not
learn one renderer's habits), and each rendered line is labeled by two voters: article
when both keep it, boilerplate when neither does, left out when they disagree. On a
snippet-labeled page (evaldata.json) the voters are trafilatura and readability, and
the page's annotated snippets override both; on a ground-truth page (html/ID.html.gz
beside gt/ID.txt) they are trafilatura and the true text, so a line only the truth
keeps (reader comments in Dragnet's truth, a page's every paragraph in CleanEval's)
teaches nothing either way. Needs the `train` extra (lightgbm, scikit-learn, readability-lxml).
"""

from __future__ import annotations

import hashlib
import json
import math
import multiprocessing
import re
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from scraper._linemodel import FEATURES, LineModel, base_features, lexicon_features, line_tokens
from scraper._text import normalize_line
from scraper.evaluation import RENDERERS, EvalPage, Scores, render_text, score_output, token_f1
from scraper.extract import detect_language
from scraper.strip import Analysis, analyse, strip_boilerplate
from scraper.urls import site_of

__all__ = ["TrainingReport", "TruthSet", "train", "truth_site"]

_MARKUP = re.compile(r"[*_#>`|]+")
_LINK = re.compile(rb"""href\s*=\s*["']?(https?://[^"'\s>]+)""", re.IGNORECASE)
_SNIFF_BYTES = 200_000
_PARAMS: dict[str, Any] = {
    "objective": "binary",
    "learning_rate": 0.08,
    "num_leaves": 31,
    "min_data_in_leaf": 40,
    "feature_fraction": 0.8,
    "bagging_fraction": 0.8,
    "bagging_freq": 1,
    "lambda_l2": 1.0,
    "seed": 17,
    "deterministic": True,
    "num_threads": 2,
    "verbose": -1,
}
_ROUNDS = 250
_LEXICON_MIN_SITES = 5
_LEXICON_FOLDS = 4


@dataclass(frozen=True)
class TruthSet:
    """A ground-truth set to learn from: its name and its pages, each with its true text."""

    name: str
    pages: Sequence[tuple[EvalPage, str]]


@dataclass
class TrainingReport:
    """Cross-validated (site-held-out) scores and the trained model's description."""

    folds: int
    pages: int
    lines: int
    cv_shipped: Scores
    cv_model: Scores
    cv_heuristic: Scores
    seconds: float
    model_version: str
    cv_by_language: dict[str, Scores]
    cv_truth: dict[str, list[float]] = field(default_factory=dict)  # per truth set, each held-out page's token F1

    def as_dict(self) -> dict[str, Any]:
        def s(x: Scores) -> dict[str, float]:
            return {"precision": round(x.precision, 4), "recall": round(x.recall, 4), "f1": round(x.f1, 4)}

        return {
            "folds": self.folds,
            "pages": self.pages,
            "lines": self.lines,
            "site_held_out_shipped": s(self.cv_shipped),
            "site_held_out_model_without_veto": s(self.cv_model),
            "site_held_out_heuristic": s(self.cv_heuristic),
            "site_held_out_shipped_by_language": {
                lang: {**s(scores), "snippets": scores.tp + scores.fn + scores.fp + scores.tn}
                for lang, scores in sorted(self.cv_by_language.items(), key=lambda kv: -(kv[1].tp + kv[1].fn))
            },
            "site_held_out_truth_sets": {
                name: {"token_f1": round(sum(f1s) / len(f1s), 4), "pages": len(f1s)}
                for name, f1s in sorted(self.cv_truth.items())
                if f1s
            },
            "seconds": round(self.seconds, 1),
            "model_version": self.model_version,
        }


@dataclass
class _Sample:
    page: EvalPage
    renderer: str
    text: str
    features: np.ndarray  # BASE_FEATURES per line
    labels: np.ndarray  # 1 article, 0 boilerplate, -1 left out
    language: str  # of the page's main text ("?" when unsure)
    tokens: list[list[str]]  # each line's words, for the lexicon
    site: str  # the unit cross-validation holds out and the lexicon counts
    truth: str | None = None  # a ground-truth page's true text
    truth_set: str | None = None  # and the set it came from

    def all_features(self, lexicon: dict[str, float]) -> np.ndarray:
        return np.hstack([self.features, lexicon_features(self.tokens, lexicon)])


def truth_site(page: EvalPage, raw: bytes | None = None) -> str:
    """Return the site of a ground-truth page, which comes without its URL: where most of its links go.

    Pages of one site link to that site most (navigation, their own stories); a page with no
    absolute link is a site of its own. Only cross-validation and the lexicon's site count use it.
    `raw`, the page's bytes when the caller has them, spares reading them again.
    """
    data = page.raw() if raw is None else raw
    hosts = Counter(site_of(link.decode("ascii", "replace")) for link in _LINK.findall(data[:_SNIFF_BYTES]))
    hosts.pop(None, None)
    return str(hosts.most_common(1)[0][0]) if hosts else f"{page.path.name}.invalid"


def _clean(text: str) -> str:
    return normalize_line(_MARKUP.sub(" ", text))


def _extractor_texts(page: EvalPage, raw: bytes, html: str) -> tuple[str, str]:
    """Return what trafilatura and readability keep of the page, as text."""
    from lxml import html as lxml_html
    from readability import Document

    first = _trafilatura_text(page, raw)
    try:
        summary = Document(html).summary(html_partial=True)
        second = "\n".join(t.strip() for t in lxml_html.fromstring(summary).itertext() if t.strip())
    except Exception:  # readability gives up on some pages: then only trafilatura speaks
        second = first
    return first, second


def _trafilatura_text(page: EvalPage, raw: bytes) -> str:
    import trafilatura

    return trafilatura.extract(raw, url=page.url or None, include_comments=False, favor_recall=True) or ""


def _as_joined_and_lines(text: str) -> tuple[str, set[str]]:
    return " ".join(_clean(text).split()), {_clean(line) for line in text.splitlines()}


def _kept(line: str, joined: str, lines: set[str]) -> bool:
    return line in lines or (len(line.split()) >= 4 and line in joined)


def _labels(page: EvalPage, analysis: Analysis, first: str, second: str) -> np.ndarray:
    first_joined, first_lines = _as_joined_and_lines(first)
    second_joined, second_lines = _as_joined_and_lines(second)
    positive = [" ".join(s.split()) for s in page.with_]
    negative = [" ".join(s.split()) for s in page.without]
    labels = []
    for line in analysis.lines:
        text = _clean(line.text)
        if any(s in text for s in positive):
            labels.append(1)
        elif any(s in text for s in negative):
            labels.append(0)
        else:
            a = _kept(text, first_joined, first_lines)
            b = _kept(text, second_joined, second_lines)
            labels.append(1 if a and b else 0 if not (a or b) else -1)
    return np.array(labels, dtype=int)


def _samples(
    pages: Sequence[EvalPage], truth: Sequence[TruthSet], progress: Callable[[str], None], jobs: int
) -> Iterator[_Sample]:
    """Yield each page's rendered, labeled captures, labeling pages in `jobs` processes."""
    work: list[tuple[EvalPage, str | None, str | None]] = [(page, None, None) for page in pages]
    work += [(page, text, found.name) for found in truth for page, text in found.pages]
    with multiprocessing.get_context("spawn").Pool(jobs) if jobs > 1 else nullcontext() as pool:
        labeled = pool.imap(_page_samples, work, chunksize=4) if pool is not None else map(_page_samples, work)
        for n, found in enumerate(labeled, 1):
            if n % 100 == 0:
                progress(f"labeled {n}/{len(work)} pages")
            yield from found


def _page_samples(work: tuple[EvalPage, str | None, str | None]) -> list[_Sample]:
    """Return a page's labeled renders: voted on by trafilatura and readability, or trafilatura and its truth."""
    page, truth, truth_set = work
    try:
        raw = page.raw()
        html = page.html(raw)
        first, second = _extractor_texts(page, raw, html) if truth is None else (_trafilatura_text(page, raw), truth)
        site = page.site if truth is None else truth_site(page, raw)
    except Exception:  # an unreadable page teaches nothing; the report counts the pages used
        return []
    language = detect_language(first) or "?"
    found = []
    for renderer in RENDERERS:
        try:
            text = render_text(html, renderer)
        except Exception:
            continue
        analysis = analyse(text)
        if not analysis.lines:
            continue
        labels = _labels(page, analysis, first, second)
        tokens = line_tokens(analysis)
        found.append(
            _Sample(page, renderer, text, base_features(analysis), labels, language, tokens, site, truth, truth_set)
        )
    return found


def build_lexicon(samples: Sequence[_Sample]) -> dict[str, float]:
    """Return each word's log-odds of sitting on an article line rather than a furniture line.

    Only words seen on at least _LEXICON_MIN_SITES sites count, so the lexicon holds the
    vocabulary of articles and furniture in general, never one site's own words.
    """
    article: Counter[str] = Counter()
    furniture: Counter[str] = Counter()
    sites: dict[str, set[str]] = defaultdict(set)
    for sample in samples:
        for words, label in zip(sample.tokens, sample.labels, strict=True):
            if label < 0:
                continue
            (article if label == 1 else furniture).update(words)
            for word in words:
                sites[word].add(sample.site)
    n_article, n_furniture = sum(article.values()) + 1, sum(furniture.values()) + 1
    return {
        word: round(math.log((article[word] + 1) / n_article) - math.log((furniture[word] + 1) / n_furniture), 3)
        for word in sorted(sites)
        if len(sites[word]) >= _LEXICON_MIN_SITES
    }


def _fit(samples: Sequence[_Sample]) -> dict[str, Any]:
    """Return a model spec learned from `samples`: the lexicon, then the trees over every feature.

    The training lines get their lexicon features from a lexicon built without their own
    sites (out of fold), so the trees learn how far the lexicon holds on unseen sites.
    """
    import lightgbm as lgb
    from sklearn.model_selection import GroupKFold

    lexicon = build_lexicon(samples)
    sites = _groups(samples)
    features: list[np.ndarray] = [np.zeros(0)] * len(samples)
    for fit_at, apart in GroupKFold(n_splits=_LEXICON_FOLDS).split(samples, groups=sites):
        inner = build_lexicon([samples[i] for i in fit_at])
        for i in apart:
            features[i] = samples[i].all_features(inner)
    x = np.vstack(features)
    y = np.concatenate([s.labels for s in samples])
    known = y >= 0
    data = lgb.Dataset(x[known], label=y[known], feature_name=list(FEATURES), free_raw_data=True)
    booster = lgb.train(_PARAMS, data, num_boost_round=_ROUNDS)
    return _export(booster.dump_model(), lexicon=lexicon)


def _export(dump: dict[str, Any], threshold: float = 0.5, lexicon: dict[str, float] | None = None) -> dict[str, Any]:
    """Return the portable JSON spec of a LightGBM model dump: flat arrays per tree, and the lexicon."""
    trees = [_flatten(info["tree_structure"]) for info in dump["tree_info"]]
    body = json.dumps([trees, lexicon or {}], sort_keys=True).encode()
    return {
        "format": "scraper-line-model/2",
        "version": hashlib.sha256(body).hexdigest()[:12],
        "features": list(FEATURES),
        "threshold": threshold,
        "base_score": 0.0,
        "trainer": {
            "library": "lightgbm",
            "params": _PARAMS,
            "rounds": _ROUNDS,
            "lexicon_min_sites": _LEXICON_MIN_SITES,
        },
        "lexicon": lexicon or {},
        "trees": trees,
    }


def _flatten(root: dict[str, Any]) -> dict[str, Any]:
    flat: dict[str, list[Any]] = {"feature": [], "threshold": [], "left": [], "right": [], "value": []}
    depth = 0
    queue: list[tuple[dict[str, Any], int]] = [(root, 1)]
    nodes: list[tuple[dict[str, Any], int]] = []
    while queue:  # breadth first: a node's index is its place in `nodes`
        node, level = queue.pop(0)
        nodes.append((node, level))
        depth = max(depth, level)
        if "split_feature" in node:
            queue.extend([(node["left_child"], level + 1), (node["right_child"], level + 1)])
    index = {id(node): i for i, (node, _) in enumerate(nodes)}
    for node, _ in nodes:
        if "split_feature" in node:
            if node.get("decision_type", "<=") != "<=":
                raise ValueError(f"unsupported split {node.get('decision_type')}")
            flat["feature"].append(node["split_feature"])
            flat["threshold"].append(float(node["threshold"]))
            flat["left"].append(index[id(node["left_child"])])
            flat["right"].append(index[id(node["right_child"])])
            flat["value"].append(0.0)
        else:
            flat["feature"].append(-1)
            flat["threshold"].append(0.0)
            flat["left"].append(0)
            flat["right"].append(0)
            flat["value"].append(float(node.get("leaf_value", 0.0)))
    return {**flat, "depth": depth}


def _page_text(sample: _Sample, decide: Callable[[Analysis], list[bool]] | None) -> str:
    return "\n\n".join(strip_boilerplate(sample.text, decide=decide).paragraphs)


_THRESHOLDS = tuple(round(0.15 + 0.05 * i, 2) for i in range(10))


def _groups(samples: Sequence[_Sample]) -> np.ndarray:
    """Return each sample's site as a number, for the splits that hold whole sites out."""
    index = {site: i for i, site in enumerate(sorted({s.site for s in samples}))}
    return np.array([index[s.site] for s in samples])


def _tuned(samples: Sequence[_Sample], groups: np.ndarray) -> dict[str, Any]:
    """Return a model trained on 80% of the sites, its threshold tuned on the other 20%.

    The threshold is tuned on the snippet-labeled pages of those sites (the metric the shipped
    figure is given in), or on the ground-truth pages' token F1 when there are none.
    """
    from sklearn.model_selection import GroupShuffleSplit

    fit_at, tune_at = next(GroupShuffleSplit(n_splits=1, test_size=0.2, random_state=7).split(samples, groups=groups))
    spec = _fit([samples[i] for i in fit_at])
    model = LineModel(spec)
    tune = [samples[i] for i in tune_at if samples[i].renderer == RENDERERS[0]]
    snippets = [s for s in tune if s.truth is None]
    tune = snippets or tune
    probs = [model.probabilities(s.all_features(model.lexicon)) for s in tune]
    best = max(_THRESHOLDS, key=lambda t: _f1_at(tune, probs, t))
    spec["threshold"] = best
    return spec


def _f1_at(samples: Sequence[_Sample], probs: Sequence[np.ndarray], threshold: float) -> float:
    """Return the snippet F1 of `samples` kept at `threshold`, or their mean token F1 when they have a true text."""
    scores, f1s = Scores(), []
    for sample, p in zip(samples, probs, strict=True):
        mask = [bool(x >= threshold) for x in p]
        text = _page_text(sample, lambda _a, m=mask: m)  # type: ignore[misc]
        if sample.truth is None:
            scores.add(score_output(sample.page, text))
        else:
            f1s.append(token_f1(text, sample.truth))
    return scores.f1 if scores.tp + scores.fp + scores.fn + scores.tn else sum(f1s) / max(1, len(f1s))


def train(
    pages: Sequence[EvalPage],
    *,
    truth: Sequence[TruthSet] = (),
    folds: int = 5,
    jobs: int = 1,
    progress: Callable[[str], None] = lambda _: None,
) -> tuple[dict[str, Any], TrainingReport]:
    """Return (model spec, report): cross-validate by site, then train on every page.

    `truth` adds ground-truth sets; their held-out pages are scored by token F1, set by set.
    """
    from sklearn.model_selection import GroupKFold

    started = time.perf_counter()
    samples = list(_samples(pages, truth, progress, jobs))
    progress(f"{len(samples)} rendered captures, {sum(len(s.labels) for s in samples)} lines")
    groups = _groups(samples)
    cv_shipped, cv_model, cv_heuristic = Scores(), Scores(), Scores()
    by_language: dict[str, Scores] = {}
    cv_truth: dict[str, list[float]] = {found.name: [] for found in truth}
    for fold, (train_at, test_at) in enumerate(GroupKFold(n_splits=folds).split(samples, groups=groups), 1):
        model = LineModel(_tuned([samples[i] for i in train_at], groups[train_at]))
        for i in test_at:
            sample = samples[i]
            if sample.renderer != RENDERERS[0]:
                continue  # score the held-out pages as the text eval renders them
            if sample.truth is not None and sample.truth_set is not None:
                cv_truth[sample.truth_set].append(token_f1(_page_text(sample, model.decide), sample.truth))
                continue
            shipped = score_output(sample.page, _page_text(sample, model.decide))
            cv_shipped.add(shipped)
            by_language.setdefault(sample.language, Scores()).add(shipped)
            cv_model.add(score_output(sample.page, _page_text(sample, model.keep)))
            cv_heuristic.add(score_output(sample.page, _page_text(sample, None)))
        held = ", ".join(f"{name} {sum(f1s) / len(f1s):.4f}" for name, f1s in cv_truth.items() if f1s)
        progress(
            f"fold {fold}/{folds} (threshold {model.threshold}): shipped F1 {cv_shipped.f1:.4f}, "
            f"without veto {cv_model.f1:.4f}, heuristic {cv_heuristic.f1:.4f} so far"
            + (f"; token F1 {held}" if held else "")
        )
    spec = _tuned(samples, groups)
    threshold = spec["threshold"]
    spec = _fit(samples)  # the shipped model learns from every site, with the tuned threshold
    spec["threshold"] = threshold
    report = TrainingReport(
        folds=folds,
        pages=len({s.page.path for s in samples}),
        lines=int(sum(len(s.labels) for s in samples)),
        cv_shipped=cv_shipped,
        cv_model=cv_model,
        cv_heuristic=cv_heuristic,
        seconds=time.perf_counter() - started,
        model_version=spec["version"],
        cv_by_language=by_language,
        cv_truth=cv_truth,
    )
    spec["training"] = report.as_dict()
    return spec, report
