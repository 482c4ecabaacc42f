"""`fluxlab predictor curves-cv`: cross-validate model `dynamic` on a time-course CSV pair."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import typer

from services.predictor.errors import PredictorError


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    return value


def curves_cv(
    data: Path = typer.Option(..., "--data", help="Curves CSV: run_id, time_h, y:ln_od, sd:ln_od (docs/dynamic.md)."),
    runs: Path = typer.Option(..., "--runs", help="Runs CSV: run_id, init:<metabolite id> (mM), design columns."),
    folds: int = typer.Option(5, "--folds"),
    seed: int = typer.Option(0, "--seed"),
    epochs: int = typer.Option(600, "--epochs"),
    members: int = typer.Option(4, "--members", help="Deep-ensemble members."),
    threads: int = typer.Option(1, "--threads", help="torch threads."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """k-fold CV of the dynamic model: curve_r2_mean, final_r2, mu_max_r2, coverage95, n_runs (+ peers)."""
    import torch

    from services.cli import UserError
    from services.predictor.dynamic import DynamicConfig
    from services.predictor.dynamic_eval import cross_validate, load_curves

    torch.set_num_threads(max(1, threads))
    if epochs < 1 or members < 1:
        raise UserError("--epochs and --members must be at least 1")
    try:
        result = _finite(cross_validate(load_curves(data, runs), folds, seed,
                                        DynamicConfig(epochs=epochs, members=members)))
    except PredictorError as exc:
        raise UserError(str(exc)) from None
    if as_json:
        print(json.dumps(result))
        return
    print(f"dynamic on {data.name}: {int(result['n_runs'])} runs, {folds} folds")
    for key in ("curve_r2_mean", "final_r2", "mu_max_r2", "coverage95"):
        print(f"  {key} = {result[key]}")


def register(app: typer.Typer) -> None:
    """Add `curves-cv` to the predictor command group."""
    app.command("curves-cv")(curves_cv)
