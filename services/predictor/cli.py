"""`fluxlab predictor ...`: cross-validation on a dataset CSV and the AMN converter."""

from __future__ import annotations

import json
import math
import sys
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
    return value


@app.command("cv")
def cv(
    data: Path = typer.Option(..., "--data", help="Dataset CSV (see docs/predictor.md)."),
    folds: int = typer.Option(5, "--folds", help="Number of folds."),
    model: str = typer.Option("hybrid", "--model", help="hybrid, mlp or fusion."),
    organism: str | None = typer.Option(None, "--organism", help="Organism model (hybrid default: textbook)."),
    seed: int = typer.Option(0, "--seed"),
    threshold: float | None = typer.Option(None, "--threshold", help="Growth threshold for ROC-AUC (default median)."),
    ensemble: int = typer.Option(5, "--ensemble", help="Ensemble members."),
    threads: int = typer.Option(1, "--threads", help="torch threads (small nets: 1 is usually fastest)."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Cross-validate a model on a dataset CSV: Q² per target and overall, ROC-AUC on growth."""
    import torch

    from services.predictor.tabular import run_cv

    torch.set_num_threads(max(1, threads))
    if model not in ("hybrid", "mlp", "fusion"):
        _fail(f"--model: unknown model kind '{model}' (choose hybrid, mlp or fusion)")
    try:
        result = _finite(run_cv(data, folds=folds, model=model, organism=organism, seed=seed, threshold=threshold,
                                ensemble=ensemble))
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


from services.predictor.dynamic_cli import register as _register_dynamic  # noqa: E402

_register_dynamic(app)
