"""`fluxlab predictor ...`: cross-validation on a dataset CSV and the AMN converter."""

from __future__ import annotations

import contextlib
import json
import math
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import typer

from services.predictor.errors import PredictorError

app = typer.Typer(help="Predictor tools: cross-validation on tabular data, dataset converters.", no_args_is_help=True)


def _fail(message: str) -> None:
    print(f"error: {message}", file=sys.stderr)
    raise typer.Exit(code=2)


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


@app.command("cv")
def cv(
    data: Path = typer.Option(..., "--data", help="Dataset CSV (see docs/predictor.md)."),
    folds: int = typer.Option(5, "--folds", help="Number of folds."),
    model: str = typer.Option("hybrid", "--model", help="hybrid, mlp, fusion, gnn, or dynamic (time courses: "
                              "--runs)."),
    organism: str | None = typer.Option(None, "--organism", help="Organism model (hybrid, gnn default: textbook)."),
    runs: Path | None = typer.Option(None, "--runs", help="Runs table of a time-course pair (--model dynamic)."),
    seed: int = typer.Option(0, "--seed"),
    threshold: float | None = typer.Option(None, "--threshold", help="Growth threshold for ROC-AUC (default median)."),
    ensemble: int = typer.Option(5, "--ensemble", help="Ensemble members."),
    threads: int = typer.Option(1, "--threads", help="torch threads (small nets: 1 is usually fastest)."),
    group_by: str | None = typer.Option(None, "--group-by", help="Keep strata in one fold: ko, expr, medium or "
                                        "a group: column name (default: the group: columns, else random folds)."),
    baselines: bool = typer.Option(False, "--baselines", help="Also run the gradient-boosting baselines (with "
                                   "and without the interventions) on the same folds (needs scikit-learn)."),
    outside_ids: str = typer.Option("error", "--outside-ids", help="Ids the organism model lacks: error (default) "
                                    "or raw (plain tabular inputs, not in the network prior; listed on stderr)."),
    prior: str | None = typer.Option(None, "--prior", help="Mechanistic prior of hybrid (and gnn on a per-design "
                                     "prior): moma (default) or pfba (genome scale: several times faster)."),
    hidden: str | None = typer.Option(None, "--hidden", help="Hidden widths, comma-separated (e.g. 128,128; "
                                      "default: the kind's own)."),
    dropout: float | None = typer.Option(None, "--dropout", help="Dropout rate (default: the kind's own)."),
    tune: bool = typer.Option(False, "--tune", help="Choose the network size per fold by inner 3-fold CV on that "
                              "fold's training rows only (3 sizes x 3 inner folds per fold: slow; docs/predictor.md)."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Cross-validate a model on a dataset CSV: Q² per target and overall, ROC-AUC on growth, coverage."""
    import torch

    from services.predictor.tabular import run_cv

    torch.set_num_threads(max(1, threads))
    if model == "dynamic" or runs is not None:
        _dynamic_only(model, runs)
        assert runs is not None
        from services.predictor.dynamic_cli import curves_cv

        curves_cv(data=data, runs=runs, folds=folds, seed=seed, epochs=300, members=4, threads=threads,
                  as_json=as_json)
        return
    if model not in ("hybrid", "mlp", "fusion", "gnn"):
        _fail(f"--model: unknown model kind '{model}' (choose hybrid, mlp, fusion, gnn or dynamic)")
    options = _prior_option(prior)
    try:
        with _fold_progress(model, folds) as progress:
            result = _finite(run_cv(data, folds=folds, model=model, organism=organism, seed=seed,
                                    threshold=threshold, ensemble=ensemble, group_by=group_by, baselines=baselines,
                                    progress=progress, outside_ids=outside_ids, tune=tune,
                                    **_net_options(hidden, dropout), **options))
    except PredictorError as exc:
        _fail(str(exc))
        return
    if as_json:
        print(json.dumps(result))
        return
    print(f"{result['model']} on {data.name}: {result['n_rows']} rows, {folds} folds, Q² = {result['q2']:.3f}")
    for name, q2 in result["q2_per_target"].items():
        print(f"  {name}: Q² = {q2 if q2 is None else round(q2, 3)}")
    if result["roc_auc"] is not None:
        print(f"  ROC-AUC (growth > {result['threshold']:.3g}) = {result['roc_auc']:.3f}")
    print(f"  coverage95 = {result['coverage95']}, unseen rows {result['unseen_rows']:.0%} "
          f"(their coverage95 = {result['coverage95_unseen']})")
    for i, fold in enumerate(result.get("tuned") or [], start=1):
        print(f"  fold {i}: tuned choice {fold['chosen']}")
    for name, res in (result.get("baselines") or {}).items():
        print(f"  baseline {name}: Q² = {res['q2']}, ROC-AUC = {res['roc_auc']}")


def _prior_option(prior: str | None) -> dict[str, Any]:
    """The model option of `--prior` (nothing when not given); an unknown prior is one error line."""
    from services.predictor.prior import PRIOR_METHODS

    if prior is None:
        return {}
    if prior not in PRIOR_METHODS:
        _fail(f"--prior: unknown prior '{prior}' (choose {' or '.join(PRIOR_METHODS)})")
    return {"prior": prior}


@contextlib.contextmanager
def _fold_progress(model: str, folds: int) -> Iterator[Callable[[int, int], None]]:
    """A progress bar of finished folds with the elapsed time, on stderr (stdout stays one JSON document with
    --json); a line per fold where stderr is not a terminal."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    console = Console(stderr=True)
    if not console.is_terminal:
        yield lambda done, total: print(f"cv: fold {done}/{total} done", file=sys.stderr, flush=True)
        return
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console, transient=False) as bar:
        task = bar.add_task(f"cv {model}: folds", total=folds)
        yield lambda done, total: bar.update(task, completed=done, total=total)


def _net_options(hidden: str | None, dropout: float | None) -> dict[str, Any]:
    """`--hidden 128,128` and `--dropout 0.1` as DeepModel options (absent: the kind's defaults)."""
    out: dict[str, Any] = {}
    if hidden is not None:
        try:
            widths = tuple(int(w) for w in hidden.split(",") if w.strip())
        except ValueError:
            widths = ()
        if not widths or min(widths) < 1:
            _fail(f"--hidden: expected comma-separated positive widths, got {hidden!r}")
        out["hidden"] = widths
    if dropout is not None:
        if not 0.0 <= dropout < 1.0:
            _fail(f"--dropout: expected 0 <= dropout < 1, got {dropout}")
        out["dropout"] = dropout
    return out



@app.command("convert-amn")
def convert_amn_cmd(src: Path = typer.Argument(..., help="AMN growth CSV."),
                    dst: Path = typer.Argument(..., help="Output dataset CSV.")) -> None:
    """Convert the AMN library's 280-media E. coli growth table to the dataset CSV format."""
    from services.predictor.amn import convert_amn

    try:
        n = convert_amn(src, dst)
    except PredictorError as exc:
        _fail(str(exc))
        return
    print(f"wrote {n} rows to {dst}")


def _emit(result: dict[str, Any], as_json: bool, lines: list[str]) -> None:
    if as_json:
        print(json.dumps(_finite(result)))
    else:
        print("\n".join(lines))


def _report(call: Callable[[], dict[str, Any]], as_json: bool, line: Callable[[dict[str, Any]], str]) -> None:
    """Run a file command: its result as JSON or one line; a PredictorError as one error line, exit 2."""
    try:
        result = call()
    except PredictorError as exc:
        _fail(str(exc))
        return
    _emit(result, as_json, [line(result)])


@app.command("fit")
def fit(
    data: Path = typer.Option(..., "--data", help="Dataset CSV to train on (see docs/predictor.md)."),
    model: str = typer.Option("mlp", "--model", help="hybrid, mlp, fusion, gnn, or dynamic (time courses: --runs)."),
    organism: str | None = typer.Option(None, "--organism", help="Organism model: checks ids, hybrid prior."),
    runs: Path | None = typer.Option(None, "--runs", help="Runs table of a time-course pair (--model dynamic)."),
    out: Path = typer.Option(..., "--out", help="Model file to write (.pt)."),
    ensemble: int = typer.Option(5, "--ensemble", help="Ensemble members."),
    seed: int = typer.Option(0, "--seed"),
    outside_ids: str = typer.Option("error", "--outside-ids", help="Ids the organism model lacks: error (default) "
                                    "or raw (plain tabular inputs, not in the network prior; listed on stderr)."),
    prior: str | None = typer.Option(None, "--prior", help="Mechanistic prior of hybrid (and gnn on a per-design "
                                     "prior): moma (default) or pfba (genome scale: several times faster)."),
    hidden: str | None = typer.Option(None, "--hidden", help="Hidden widths, comma-separated (e.g. 128,128; "
                                      "default: the kind's own)."),
    dropout: float | None = typer.Option(None, "--dropout", help="Dropout rate (default: the kind's own)."),
    tune: bool = typer.Option(False, "--tune", help="Choose the network size by inner 3-fold CV on the file's rows."),
    products: str | None = typer.Option(None, "--products", help="Model dynamic: comma-separated metabolites with "
                                        "a y: course to predict as products (e.g. succ_e)."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Train a model on historical data in a CSV and save it."""
    import torch

    from services.predictor.files import fit_file

    torch.set_num_threads(1)
    if model == "dynamic" or runs is not None:
        _dynamic_only(model, runs)
        _dynamic_fit(data, runs, out, seed, as_json, [p.strip() for p in (products or "").split(",") if p.strip()])
        return
    _report(lambda: fit_file(data, out, model=model, organism=organism, ensemble=ensemble, seed=seed,
                             outside_ids=outside_ids, tune=tune, **_net_options(hidden, dropout),
                             **_prior_option(prior)), as_json,
            lambda r: f"{model} trained on {r['n_rows']} rows in {r['train_s']:.1f} s -> {out}")


@app.command("predict")
def predict(
    model: Path = typer.Option(..., "--model", help="Model file written by `predictor fit`."),
    data: Path | None = typer.Option(None, "--data", help="CSV of designs (y: columns optional); with --runs, "
                                     "an optional curves table giving the runs and times to predict."),
    out: Path = typer.Option(..., "--out", help="Predictions CSV to write: id, mean:<t>, sd:<t>, unseen."),
    runs: Path | None = typer.Option(None, "--runs", help="Runs table (model dynamic): predict its runs' curves."),
    times: str | None = typer.Option(None, "--times", help="Model dynamic without --data: comma-separated hours "
                                     "(default: the times it was fitted on)."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Predict every row of a CSV; rows with interventions the training data never had are marked unseen."""
    from services.predictor.files import predict_file

    if runs is not None:
        _dynamic_predict(model, runs, out, data, times, as_json)
        return
    if data is None:
        _fail("--data: a CSV of designs is required (or --runs for a dynamic model)")
        return
    _report(lambda: predict_file(model, data, out), as_json,
            lambda r: f"wrote {r['n_rows']} predictions to {out} ({r['unseen_rows']} unseen)")


@app.command("evaluate")
def evaluate(
    model: Path = typer.Option(..., "--model", help="Model file written by `predictor fit`."),
    data: Path = typer.Option(..., "--data", help="Dataset CSV with measured y: columns (with --runs: curves)."),
    threshold: float | None = typer.Option(None, "--threshold", help="Growth threshold for ROC-AUC (default median)."),
    runs: Path | None = typer.Option(None, "--runs", help="Runs table of a time-course pair (model dynamic)."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Score a saved model on measured rows: Q², ROC-AUC on growth, 68/95 % coverage (dynamic: curve metrics)."""
    from services.predictor.files import evaluate_file

    if runs is not None:
        _dynamic_evaluate(model, data, runs, as_json)
        return
    _report(lambda: evaluate_file(model, data, threshold), as_json,
            lambda r: f"{r['n_rows']} rows: Q² = {r['q2']:.3f}, ROC-AUC = {r['roc_auc']}, "
                      f"coverage95 = {r['coverage95']:.3f}")


def _dynamic_only(model: str, runs: Path | None) -> None:
    if model != "dynamic":
        _fail(f"--runs: time courses go with --model dynamic, not '{model}'")
    if runs is None:
        _fail("--runs: model dynamic needs the runs table of the curves (docs/dynamic.md)")


def _dynamic_fit(data: Path, runs: Path | None, out: Path, seed: int, as_json: bool,
                 products: list[str] | None = None) -> None:
    from services.predictor.dynamic import DynamicConfig
    from services.predictor.dynamic_files import fit_file as fit_curves

    assert runs is not None
    _report(lambda: fit_curves(data, runs, out, DynamicConfig(seed=seed), products), as_json,
            lambda r: f"dynamic fitted on {r['n_runs']} curves in {r['fit_s']:.1f} s -> {out}")


def _dynamic_predict(model: Path, runs: Path, out: Path, data: Path | None, times: str | None,
                     as_json: bool) -> None:
    from services.predictor.dynamic_files import predict_file as predict_curves

    try:
        hours = [float(t) for t in times.split(",") if t.strip()] if times else None
    except ValueError:
        _fail(f"--times: expected comma-separated hours, got {times!r}")
        return
    _report(lambda: predict_curves(model, runs, out, curves=data, times=hours), as_json,
            lambda r: f"wrote {r['n_points']} points of {r['n_runs']} curves to {out}")


def _dynamic_evaluate(model: Path, data: Path, runs: Path, as_json: bool) -> None:
    from services.predictor.dynamic_files import evaluate_file as evaluate_curves

    _report(lambda: evaluate_curves(model, data, runs), as_json,
            lambda r: f"{int(r['n_runs'])} curves: curve_r2_mean = {r['curve_r2_mean']:.3f}, final_r2 = "
                      f"{r['final_r2']:.3f}, mu_max_r2 = {r['mu_max_r2']:.3f}, coverage95 = {r['coverage95']:.3f}")


from services.predictor.dynamic_cli import register as _register_dynamic  # noqa: E402

_register_dynamic(app)
