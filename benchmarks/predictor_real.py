"""Predictor on real measured data (`../shared/data` beside the checkout): random and grouped folds.

`fluxlab bench predictor-real [--quick] [--json] [--models mlp] [--repeat 3]`

Data sets (each skipped with its reason when absent):
  biolog_ko_dev         11,600 rows, single-gene knockout strains x Biolog media, growth. Folds: `random`
                        (shuffled 5-fold) and `ko` (whole knockout groups held out: strains never seen).
  amn_library_280media  280 media, growth (converted with `fluxlab predictor convert-amn`). Folds: `random`.

JSON: {"data_dir", "quick", "seeds", "datasets": {name: {"rows", "folds": {fold kind: {model or baseline:
  {"q2", "roc_auc", "coverage95", "coverage95_unseen", "unseen_rows", "train_s"}}}}}, "skipped": {name: reason}}.
`hybrid` and `gnn` run on `--organism` (default iJO1366); where the data set holds ids that model lacks,
their entry is {"skipped": reason}.
Every figure is the median over `--repeat` seeds (`--quick`: one seed, a 1/16 subset of the Biolog rows,
3 folds, 2 members, 60 epochs, 50 boosting iterations: a smoke run, not figures); a figure that cannot be
computed (no unseen rows) is null. ROC-AUC scores growth >= 0.165 on the Biolog set (the source's threshold)
and growth above the median elsewhere. The baselines `gbm` (scikit-learn
HistGradientBoosting, 500 iterations, on the same columns) and `gbm_media_only` (medium columns only) run
in the same run on the same folds and seeds when scikit-learn is installed (a test dependency); without it
`baselines_quoted` carries the figures measured on this data set's README instead.
"""

from __future__ import annotations

import math
import os
import statistics
import tempfile
from pathlib import Path
from typing import Any

from benchmarks.common import emit, parser, progress_console

DATA_DIR = Path(os.environ.get("FLUXLAB_SHARED_DIR", Path(__file__).resolve().parents[2] / "shared")) / "data"
QUOTED = {"biolog_ko_dev": {"random": {"gbm": {"q2": 0.79, "roc_auc": 0.88}},
                            "ko": {"gbm": {"q2": 0.60, "roc_auc": 0.77},
                                   "gbm_media_only": {"q2": 0.61, "roc_auc": 0.77}}}}
"""The baseline figures of biolog_ko_dev/README.txt (full public set), used only without scikit-learn."""
NETWORK_MODELS = ("hybrid", "gnn")
"""Models that run on an organism model (`--organism`); a data set with ids it lacks skips them with the reason."""
KEYS = ("q2", "roc_auc", "coverage95", "coverage95_unseen", "unseen_rows", "train_s")


def _have_sklearn() -> bool:
    try:
        import sklearn  # noqa: F401
    except ImportError:
        return False
    return True


def _datasets(data_dir: Path, tmp: Path, quick: bool) -> tuple[dict[str, tuple[Path, list[str | None], float | None]],
                                                                  dict[str, str]]:
    """name -> (CSV, fold kinds, ROC threshold); and name -> why it was skipped."""
    found: dict[str, tuple[Path, list[str | None], float | None]] = {}
    skipped: dict[str, str] = {}
    biolog = data_dir / "biolog_ko_dev" / "biolog_ko_dev.csv"
    if biolog.is_file():
        if quick:  # every 16th row: all knockout groups, about 725 rows
            lines = biolog.read_text().splitlines()
            biolog = tmp / "biolog_quick.csv"
            biolog.write_text("\n".join(lines[:1] + lines[1::16]) + "\n")
        found["biolog_ko_dev"] = (biolog, [None, "ko"], 0.165)
    else:
        skipped["biolog_ko_dev"] = f"not present at {biolog}"
    amn = data_dir / "amn_library_280media" / "ecoli_280media_growth_with_published_preds.csv"
    if amn.is_file():
        from services.predictor.amn import convert_amn

        convert_amn(amn, tmp / "amn.csv")
        found["amn_library_280media"] = (tmp / "amn.csv", [None], None)
    else:
        skipped["amn_library_280media"] = f"not present at {amn}"
    return found, skipped


def _one(path: Path, model: str, group_by: str | None, threshold: float | None, seed: int, quick: bool,
         baselines: bool, organism: str | None = None) -> dict[str, dict[str, Any]]:
    from services.predictor.errors import PredictorError
    from services.predictor.tabular import run_cv

    options: dict[str, Any] = {"epochs": 60, "ensemble": 2, "baseline_iter": 50} if quick else {}
    try:
        out = run_cv(path, folds=3 if quick else 5, model=model, seed=seed, threshold=threshold, group_by=group_by,
                     baselines=baselines, organism=organism if model in NETWORK_MODELS else None, **options)
    except PredictorError as exc:  # e.g. ids the organism model lacks: the model cannot run on this data set
        return {model: {"skipped": str(exc)}}
    rows = {model: {k: out.get(k) for k in KEYS}}
    for name, res in (out.get("baselines") or {}).items():
        rows[name] = {k: res.get(k) for k in KEYS if k in res}
    return rows


def _median(runs: list[dict[str, dict[str, Any]]]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for name in runs[0]:
        if "skipped" in runs[0][name]:
            out[name] = dict(runs[0][name])
            continue
        out[name] = {}
        for key in runs[0][name]:
            values = [r[name][key] for r in runs
                      if isinstance(r[name].get(key), int | float) and math.isfinite(r[name][key])]
            out[name][key] = statistics.median(values) if values else None
    return out


def run(data_dir: Path, quick: bool, models: list[str], seeds: list[int],
        organism: str | None = "iJO1366") -> dict[str, Any]:
    """Every data set x fold kind x model (+ baselines), medians over seeds."""
    import torch

    torch.set_num_threads(1)
    baselines = _have_sklearn()
    result: dict[str, Any] = {"data_dir": str(data_dir), "quick": quick, "seeds": seeds, "datasets": {}}
    with tempfile.TemporaryDirectory() as tmp:
        found, result["skipped"] = _datasets(data_dir, Path(tmp), quick)
        for name, (path, kinds, threshold) in found.items():
            entry: dict[str, Any] = {"folds": {}}
            for group_by in kinds:
                label = group_by or "random"
                rows: dict[str, Any] = {}
                for i, model in enumerate(models):
                    progress_console.print(f"[dim]predictor-real:[/dim] {name} {label} {model}")
                    runs = [_one(path, model, group_by, threshold, s, quick, baselines and i == 0, organism)
                            for s in seeds]
                    rows.update(_median(runs))
                entry["folds"][label] = rows
            if not baselines and name in QUOTED:
                entry["baselines_quoted"] = QUOTED[name]
            result["datasets"][name] = entry
    return result


def main(argv: list[str] | None = None) -> int:
    """`fluxlab bench predictor-real [--quick] [--json] [--models mlp] [--repeat 3]`."""
    p = parser("Predictor on real data: random and knockout-grouped folds, with the baselines")
    p.add_argument("--models", default="mlp", help="comma-separated model kinds (mlp, fusion, hybrid, gnn)")
    p.add_argument("--organism", default="iJO1366", help="organism model of the network-aware models (hybrid, gnn)")
    p.add_argument("--data-dir", type=Path, default=DATA_DIR, help="folder with the shared data sets")
    args = p.parse_args(argv)
    repeat = 1 if args.quick else max(1, args.repeat)
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    emit(run(args.data_dir, args.quick, models, list(range(repeat)), args.organism), args.json, "predictor-real")
    return 0
