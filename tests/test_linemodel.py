"""The line model: the portable JSON trees predict exactly what the trainer's own model predicts."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from scraper._linemodel import (
    FEATURES,
    LEXICON_FEATURES,
    LineModel,
    base_features,
    lexicon_features,
    line_features,
    line_tokens,
)
from scraper.strip import _STRONG_RE, _WEAK_RE, Analysis, analyse
from scraper.training import _export
from tests.conftest import PROJECT_SEEDS


def test_exported_trees_predict_what_lightgbm_predicts() -> None:
    lgb = pytest.importorskip("lightgbm")
    rng = np.random.default_rng(3)
    x = rng.normal(size=(3000, len(FEATURES)))
    y = ((x[:, 0] + 0.5 * x[:, 5] - x[:, 12] * x[:, 3]) > 0).astype(int)
    booster = lgb.train(
        {"objective": "binary", "num_leaves": 15, "verbose": -1, "deterministic": True, "num_threads": 1, "seed": 1},
        lgb.Dataset(x, label=y),
        num_boost_round=40,
    )
    spec = json.loads(json.dumps(_export(booster.dump_model())))  # through JSON text, as shipped
    model = LineModel(spec)
    probe = rng.normal(size=(500, len(FEATURES)))
    np.testing.assert_allclose(model.probabilities(probe), booster.predict(probe), rtol=1e-9, atol=1e-12)


def test_the_shipped_forest_walked_at_once_matches_walking_each_tree_by_hand() -> None:
    """Trees of uneven depth (the shipped ones go 1 to 19 levels) walked together, checked row by row."""
    from scraper._linemodel import default_model

    model = default_model()
    assert model is not None
    probe = np.random.default_rng(5).normal(scale=3.0, size=(40, len(FEATURES)))
    for row, found in zip(probe, model.probabilities(probe), strict=True):
        raw = model.base
        for tree in model.trees:
            node = 0
            while not tree.leaf[node]:
                node = tree.left[node] if row[tree.feature[node]] <= tree.threshold[node] else tree.right[node]
            raw += tree.value[node]
        assert found == 1.0 / (1.0 + np.exp(-raw))


def test_a_model_for_other_features_is_refused() -> None:
    with pytest.raises(ValueError, match="other features"):
        LineModel({"features": ["a", "b"], "version": "x", "threshold": 0.5, "trees": []})


def test_features_have_one_finite_row_per_line() -> None:
    text = (PROJECT_SEEDS / "text" / "ferry-strike.txt").read_text(encoding="utf-8")
    analysis = analyse(text)
    features = line_features(analysis, {"ferry": 1.0})
    assert features.shape == (len(analysis.lines), len(FEATURES))
    assert np.isfinite(features).all()
    prose = FEATURES.index("prose")
    first_article = next(i for i, line in enumerate(analysis.lines) if line.text.startswith("Ferry services"))
    assert features[first_article, prose] == 1.0
    assert features[0, prose] == 0.0  # the masthead
    assert line_features(analyse(""), {}).shape == (0, len(FEATURES))


def test_lexicon_features_average_known_words_and_their_neighbours() -> None:
    lexicon = {"share": -2.0, "council": 1.0, "harbour": 0.5}
    rows = lexicon_features([["share", "this"], ["the", "council", "harbour"], []], lexicon)
    assert rows.shape == (3, len(LEXICON_FEATURES))
    mean, low, high, known, around = (
        LEXICON_FEATURES.index(n) for n in ("lex_mean", "lex_min", "lex_max", "lex_known", "lex_mean_1")
    )
    np.testing.assert_allclose(rows[0, [mean, low, high, known]], [-2.0, -2.0, -2.0, 0.5])
    np.testing.assert_allclose(rows[1, [mean, low, high, known]], [0.75, 0.5, 1.0, 2 / 3])
    assert (rows[2, :4] == 0).all()  # a line with no known word
    np.testing.assert_allclose(rows[1, around], (-2.0 + 0.75 + 0.0) / 3)
    assert line_tokens(analyse("Share THIS share\n\n東京の天気")) == [
        ["share", "this"],
        ["東京の天気", "東", "京", "の", "天", "気"],
    ]


def test_the_lexicon_keeps_only_words_many_sites_use() -> None:
    from scraper.evaluation import EvalPage
    from scraper.training import _LEXICON_MIN_SITES, _Sample, build_lexicon

    def sample(site: int, lines: list[list[str]], labels: list[int]) -> _Sample:
        page = EvalPage(f"https://site{site}.example/a", PROJECT_SEEDS, (), ())
        return _Sample(page, "inscriptis", "", np.zeros((len(lines), 1)), np.array(labels), "en", lines, page.site)

    many = [
        sample(i, [["subscribe"], ["river", "flooded"], ["disputed"]], [0, 1, -1]) for i in range(_LEXICON_MIN_SITES)
    ]
    few = [sample(100 + i, [["zorbleton"]], [1]) for i in range(_LEXICON_MIN_SITES - 1)]
    lexicon = build_lexicon(many + few)
    assert lexicon["subscribe"] < 0 < lexicon["river"] == lexicon["flooded"]
    assert "zorbleton" not in lexicon  # seen on too few sites to be general
    assert "disputed" not in lexicon  # only on lines the extractors disagreed on


def _base_features_the_slow_way(analysis: Analysis) -> np.ndarray:
    """The neighbourhood features by their definitions: each phrase count searched again, each window averaged."""
    lines, n = analysis.lines, len(analysis.lines)
    scores = np.array(analysis.scores())
    prose = np.array([float(line.prose) for line in lines])
    stopwords = base_features(analysis)[:, FEATURES.index("stopword_share")]
    rows = []
    for i, line in enumerate(lines):
        window = [slice(max(0, i - w), i + w + 1) for w in (1, 3, 10)]
        rows.append(
            [
                float(len(_STRONG_RE.findall(line.text))),
                float(len(_WEAK_RE.findall(line.text))),
                float(np.clip(scores[i], -50, 50)),
                math.log1p(lines[i - 1].words) if i > 0 else 0.0,
                math.log1p(lines[i + 1].words) if i + 1 < n else 0.0,
                *(float(prose[s].mean()) for s in window),
                *(float(np.clip(scores[s], -50, 50).mean()) for s in window),
                *(float(stopwords[s].mean()) for s in window),
                float(min([abs(j - i) for j, other in enumerate(lines) if other.prose] + [50])),
            ]
        )
    return np.array(rows).reshape(n, -1)


_NEIGHBOURHOOD = (
    "strong_hits",
    "weak_hits",
    "score",
    "prev_words_log",
    "next_words_log",
    *(f"{name}_{w}" for name in ("prose_share", "mean_score", "stopword_mean") for w in (1, 3, 10)),
    "dist_to_prose",
)


@pytest.mark.parametrize("capture", sorted((PROJECT_SEEDS / "text").glob("*.txt")), ids=lambda p: p.name)
def test_neighbourhood_features_are_bit_for_bit_their_definitions(capture: Path) -> None:
    """Counts kept from the line's first reading, running-sum windows and distances found for all lines at once
    give the very floats the model saw."""
    text = capture.read_text(encoding="utf-8")
    # Furniture, repeats and one very long run of short lines, where windows reach past both ends.
    text += "\n\nShare this\nAdvertisement\n© 2026 All rights reserved\n" + "menu\n" * 30
    analysis = analyse(text)
    found = base_features(analysis)[:, [FEATURES.index(name) for name in _NEIGHBOURHOOD]]
    expected = _base_features_the_slow_way(analysis)
    assert found.shape == expected.shape and len(analysis.lines) > 40
    assert found.tobytes() == expected.tobytes()  # equal floats, not close ones: no tree may split differently
    assert found[:, 0].any() and found[:, 1].any()  # the capture has furniture phrases to count
    assert 0 < found[:, -1].max() <= 50 and found[:, -1].min() == 0  # prose lines, and lines far from them
