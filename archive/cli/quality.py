"""`scraper eval` (score extraction on a labeled corpus), `train-stripper` and `train-idf` (the shipped models)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from archive.cli._common import format_option
from archive.errors import UsageError

if TYPE_CHECKING:
    from scraper.evaluation import EvalPage

__all__ = ["add_commands"]

MODELS = Path(__file__).resolve().parent.parent.parent / "scraper" / "models"
EVAL_SET_HELP = "labeled pages: evaldata.json + html/ (default $SCRAPER_EVAL_SET)"
# scraper.evaluation.MODES, named here so that --help need not load the extractors (a test keeps them equal).
MODE_NAMES = (
    "html",
    "trafilatura",
    "trafilatura-precision",
    "trafilatura-fast",
    "readability",
    "text",
    "text-html2text",
    "text-site-evidence",
    "text-keep-all",
    "html+comments",
    "trafilatura+comments",
    "text+comments",
)


def add_commands(sub: Any) -> None:
    """Register `eval`, `train-stripper` and `train-idf` on the CLI's subcommand parser."""
    evaluate = sub.add_parser("eval", help="score extraction quality on a labeled corpus")
    _set_option(evaluate, from_environment=False)  # $SCRAPER_EVAL_SET is read unless --truth is given
    _truth_option(evaluate, "scored by token F1")
    evaluate.add_argument(
        "--modes", default="html,text", help=f"comma-separated, of: {', '.join(MODE_NAMES)} (default html,text)"
    )
    evaluate.add_argument("--limit", type=int, help="score only the first N pages")
    evaluate.add_argument(
        "--min-site-pages", type=int, default=1, help="score only pages whose site has at least N pages in the set"
    )
    evaluate.add_argument("--seeds", type=Path, help="line-labeled text captures to score word by word")
    evaluate.add_argument("--labels", type=Path, help="the labels for --seeds (JSON)")
    format_option(evaluate, "table", "json")
    evaluate.set_defaults(func=_eval)

    trainer = sub.add_parser("train-stripper", help="train the text-capture line model (needs the train extra)")
    _set_option(trainer)
    _truth_option(trainer, "learned from too; its held-out pages scored by token F1")
    trainer.add_argument("--folds", type=int, default=5, help="site-held-out cross-validation folds")
    trainer.add_argument("--limit", type=int, help="use only the first N pages")
    trainer.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="processes that label pages")
    trainer.add_argument(
        "--out", type=Path, default=MODELS / "stripper-model.json", help="where to write the model JSON"
    )
    trainer.set_defaults(func=_train_stripper)

    idf = sub.add_parser("train-idf", help="count term frequencies of a page corpus for same-story scoring")
    _set_option(idf)
    idf.add_argument("--out", type=Path, default=MODELS / "term-frequencies.json", help="where to write the JSON")
    idf.set_defaults(func=_train_idf)


def _set_option(cmd: argparse.ArgumentParser, *, from_environment: bool = True) -> None:
    cmd.add_argument("--set", type=Path, default=_environment_set() if from_environment else None, help=EVAL_SET_HELP)


def _truth_option(cmd: argparse.ArgumentParser, use: str) -> None:
    cmd.add_argument(
        "--truth",
        type=Path,
        action="append",
        default=[],
        metavar="DIR",
        help=f"a ground-truth set, html/ID.html.gz beside gt/ID.txt, {use} (repeatable)",
    )


def _environment_set() -> Path | None:
    given = os.environ.get("SCRAPER_EVAL_SET")
    return Path(given) if given else None


def _truth_sets(args: argparse.Namespace) -> list[Path]:
    """Return the ground-truth sets the command names; UsageError names one that is not one."""
    for directory in args.truth:
        if not (directory / "html").is_dir() or not (directory / "gt").is_dir():
            raise UsageError(f"{directory}: not a ground-truth set (no html/ and gt/ folders there)")
    return list(args.truth)


def _eval_set(args: argparse.Namespace) -> Path:
    """Return the evaluation set the command names; UsageError when none is given or it is not one."""
    if args.set is None:
        raise UsageError("no evaluation set: give --set DIR or $SCRAPER_EVAL_SET (a folder with evaldata.json)")
    if not (args.set / "evaldata.json").is_file():
        raise UsageError(f"{args.set}: not an evaluation set (no evaldata.json there)")
    return Path(args.set)


def _labeled_pages(args: argparse.Namespace) -> list[EvalPage]:
    """Return the pages of the evaluation set the command names; UsageError names what is wrong with it."""
    from scraper.evaluation import load_eval_set

    try:
        return load_eval_set(_eval_set(args))
    except OSError as exc:
        raise UsageError(f"{exc.filename}: {exc.strerror}") from None
    except ValueError as exc:  # names the file and what is wrong with it
        raise UsageError(str(exc)) from None


def _eval(args: argparse.Namespace) -> int:
    from scraper.evaluation import MODES, evaluate, pages_of_sites, seed_report

    report: dict[str, Any] = {}
    modes = [m for m in args.modes.split(",") if m]
    unknown = [m for m in modes if m not in MODES]
    if unknown:
        raise UsageError(f"unknown mode(s) {', '.join(unknown)}; choose from {', '.join(MODES)}")
    truth = _truth_sets(args)
    if args.set is None and not truth:
        args.set = _environment_set()
    if modes and (args.set is not None or not truth):
        pages = pages_of_sites(_labeled_pages(args)[: args.limit], args.min_site_pages)
        report["corpus"] = {"set": str(args.set), "pages": len(pages)}
        report["modes"] = [r.as_dict() for r in evaluate(pages, modes)]
    if modes and truth:
        report["truth"] = [_truth_report(directory, modes, args.limit) for directory in truth]
    if args.seeds:
        report["seeds"] = seed_report(args.seeds, args.labels or args.seeds / "labels.json")
    if args.format == "json":
        print(json.dumps(report, indent=2, ensure_ascii=False))
        return 0
    for row in report.get("modes", []):
        print(
            f"{row['mode']:<22} P {row['precision']:.4f}  R {row['recall']:.4f}  F1 {row['f1']:.4f}  "
            f"{row['pages_per_second']:>6} pages/s  ({row['failures']} failed of {row['pages']})"
        )
    for found in report.get("truth", []):
        _print_truth(found)
    if "seeds" in report:
        seeds = report["seeds"]
        print(
            f"seeds: {seeds['article_kept']:.1%} of article words kept, "
            f"{seeds['boilerplate_dropped']:.1%} of boilerplate words dropped ({seeds['captures']} captures)"
        )
    return 0


def _truth_report(directory: Path, modes: list[str], limit: int | None) -> dict[str, Any]:
    """Return one ground-truth set's scores: token F1 and empty pages per mode, and the margins."""
    from scraper.evaluation import load_truth_set, margins, truth_scores

    pages = load_truth_set(directory)[:limit]
    scores = truth_scores(pages, modes)
    return {
        "set": str(directory),
        "name": directory.resolve().name,
        "pages": len(pages),
        "modes": [{"mode": mode, **found} for mode, found in scores.items()],
        "margins": margins(scores),
    }


def _print_truth(found: dict[str, Any]) -> None:
    print(f"{found['name']}: {found['pages']} pages, token F1 against the ground truth")
    for row in found["modes"]:
        print(
            f"  {row['mode']:<22} F1 {row['token_f1']:.4f}  {row['empty']:>4} empty ({row['failures']} failed)  "
            f"{row['pages_per_second']:>6} pages/s"
        )
    for name, margin in found["margins"].items():
        print(f"  {name:<38} {margin:+.4f}")


def _train_stripper(args: argparse.Namespace) -> int:
    from scraper.evaluation import load_truth_set
    from scraper.training import TruthSet, train

    truth = [TruthSet(d.resolve().name, load_truth_set(d)[: args.limit]) for d in _truth_sets(args)]
    pages = _labeled_pages(args)[: args.limit] if args.set is not None or not truth else []
    spec, report = train(
        pages,
        truth=truth,
        folds=args.folds,
        jobs=max(1, args.jobs),
        progress=lambda message: print(message, file=sys.stderr),
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(spec, separators=(",", ":")), encoding="utf-8")
    print(json.dumps(report.as_dict(), indent=2))
    print(f"model {spec['version']} (threshold {spec['threshold']}) written to {args.out}", file=sys.stderr)
    return 0


def _train_idf(args: argparse.Namespace) -> int:
    from scraper.evaluation import extracted_texts
    from scraper.similarity import background_frequencies

    background = background_frequencies(extracted_texts(_labeled_pages(args)))
    args.out.write_text(json.dumps(background, ensure_ascii=False, separators=(",", ":")), encoding="utf-8")
    print(f"{len(background['terms'])} terms of {background['documents']} documents written to {args.out}")  # type: ignore[arg-type]
    return 0
