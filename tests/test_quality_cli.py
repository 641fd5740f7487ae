"""`scraper eval` and `scraper train-stripper` from the command line, on a small slice of the dev set."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from scraper._linemodel import FEATURES, LineModel
from tests.conftest import DATA, ROOT, Cli, need

EVAL_SET = ROOT.parent / "shared" / "eval" / "trafilatura-eval"
PORTAL_SET = ROOT.parent / "shared" / "eval" / "more-dev" / "cleanportaleval"


def _scraper(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run `scraper ARGS` (conftest's Cli: `eval` in this process, `train-stripper` in a process of its own)."""
    done = Cli(cwd=cwd, data=cwd / "data", db=f"sqlite:///{cwd / 'catalog.sqlite'}")(*args)
    return subprocess.CompletedProcess(list(args), done.code, done.out, done.err)


def test_eval_reports_every_mode_and_the_seeds(tmp_path: Path, shared_seeds: Path) -> None:
    need((EVAL_SET / "evaldata.json").is_file(), f"the evaluation set is not at {EVAL_SET}")
    args = ["eval", "--set", str(EVAL_SET), "--limit", "8", "--modes", "html,text-keep-all", "--format", "json"]
    done = _scraper(*args, "--seeds", str(shared_seeds), "--labels", str(DATA / "seed_labels.json"), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["corpus"]["pages"] == 8
    modes = {m["mode"]: m for m in report["modes"]}
    assert set(modes) == {"html", "text-keep-all"}
    assert modes["text-keep-all"]["recall"] >= modes["html"]["recall"]  # keeping every line finds every snippet
    assert modes["text-keep-all"]["precision"] < modes["html"]["precision"]
    assert 0.98 <= report["seeds"]["article_kept"] <= 1.0
    bad = _scraper("eval", "--modes", "nonsense", cwd=tmp_path)
    assert bad.returncode == 2 and "unknown mode" in bad.stderr


@pytest.mark.slow  # trains a model
def test_train_stripper_writes_a_loadable_cross_validated_model(tmp_path: Path) -> None:
    need((EVAL_SET / "evaldata.json").is_file(), f"the evaluation set is not at {EVAL_SET}")
    need((PORTAL_SET / "gt").is_dir(), f"the ground-truth set is not at {PORTAL_SET}")
    pytest.importorskip("lightgbm")
    out = tmp_path / "model.json"
    args = ["train-stripper", "--set", str(EVAL_SET), "--truth", str(PORTAL_SET), "--limit", "20", "--folds", "2"]
    done = _scraper(*args, "--out", str(out), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["folds"] == 2 and report["pages"] == 40  # 20 snippet-labeled pages, 20 with a true text
    for key in ("site_held_out_shipped", "site_held_out_model_without_veto", "site_held_out_heuristic"):
        assert 0.0 < report[key]["f1"] <= 1.0, key
    held = report["site_held_out_truth_sets"]["cleanportaleval"]
    assert held["pages"] == 20 and 0.0 < held["token_f1"] <= 1.0  # every truth page held out once
    model = LineModel.load(out)
    assert model.spec["features"] == list(FEATURES)
    assert model.version == report["model_version"]
    assert 0.1 <= model.threshold <= 0.7


def test_train_stripper_names_a_folder_that_is_no_ground_truth_set(tmp_path: Path) -> None:
    done = _scraper("train-stripper", "--truth", str(tmp_path), "--out", str(tmp_path / "m.json"), cwd=tmp_path)
    assert done.returncode == 2
    assert f"{tmp_path}: not a ground-truth set" in done.stderr
    assert not (tmp_path / "m.json").exists()


@pytest.mark.parametrize(
    ("labels", "says"),
    [
        (b"{bad", "evaldata.json: not UTF-8 JSON (Expecting property name enclosed in double quotes"),
        (b"\xff\xfe{}", "evaldata.json: not UTF-8 JSON ('utf-8' codec can't decode byte 0xff"),
        (b"[1, 2]", "evaldata.json: not an object of pages by URL (found a list)"),
        (b'{"https://a.example/": {"with": ["x"]}}', """page 'https://a.example/' names no file"""),
        (b'{"https://a.example/": {"file": "a", "with": "x"}}', '"with" and "without" must be lists of snippets'),
    ],
)
@pytest.mark.parametrize("command", ["eval", "train-idf"])
def test_a_malformed_evaluation_set_is_named_in_one_line(
    tmp_path: Path, labels: bytes, says: str, command: str
) -> None:
    (tmp_path / "set").mkdir()
    (tmp_path / "set" / "evaldata.json").write_bytes(labels)
    out = tmp_path / "idf.json"
    done = _scraper(
        command, "--set", str(tmp_path / "set"), *(["--out", str(out)] if command == "train-idf" else []), cwd=tmp_path
    )
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    [line] = done.stderr.splitlines()
    assert line.startswith(f"error: {tmp_path / 'set' / 'evaldata.json'}: ") and says in line, line
    assert not out.exists()
