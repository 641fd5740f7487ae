"""The line model: the portable JSON trees predict exactly what the trainer's own model predicts."""

from __future__ import annotations

import json

import numpy as np
import pytest

from scraper._linemodel import FEATURES, LineModel, line_features
from scraper.strip import analyse
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


def test_a_model_for_other_features_is_refused() -> None:
    with pytest.raises(ValueError, match="other features"):
        LineModel({"features": ["a", "b"], "version": "x", "threshold": 0.5, "trees": []})


def test_features_have_one_finite_row_per_line() -> None:
    text = (PROJECT_SEEDS / "text" / "ferry-strike.txt").read_text(encoding="utf-8")
    analysis = analyse(text)
    features = line_features(analysis)
    assert features.shape == (len(analysis.lines), len(FEATURES))
    assert np.isfinite(features).all()
    prose = FEATURES.index("prose")
    first_article = next(i for i, line in enumerate(analysis.lines) if line.text.startswith("Ferry services"))
    assert features[first_article, prose] == 1.0
    assert features[0, prose] == 0.0  # the masthead
    assert line_features(analyse("")).shape == (0, len(FEATURES))
