"""Model `dynamic` from files: fit on a curves/runs CSV pair, save, predict curves with bands, evaluate.

The files are the time-course CSV pair of docs/dynamic.md (`run_id, time_h, y:ln_od, sd:ln_od` and
`run_id, init:<metabolite id>`). A model file holds the fitted kinetics network, its substrates (the
`init:` columns it was fitted on) and its configuration; it predicts any run whose initial medium uses
those substrates (absent ones are 0 mM), at the times of the file it is asked about.
"""

from __future__ import annotations

import csv
import io
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch

from services.predictor.curve_metrics import curve_report
from services.predictor.dynamic import DynamicConfig, DynamicModel
from services.predictor.dynamic_eval import CurveSet, load_curves
from services.predictor.errors import PredictorError
from services.tracker.csvio import CsvRowError
from services.tracker.timecourse_csv import read_time_courses

FORMAT = "fluxlab-dynamic-v2"
"""v2 adds the configuration's `parametrisation`, `span`, `slope_weight`, `holdout` and `eval_every`."""
FORMATS_READ = ("fluxlab-dynamic-v1", FORMAT)
"""Files of version 1 hold the encoder whose outputs are the kinetics (`parametrisation="free"`)."""


def save(model: DynamicModel, path: Path, times: np.ndarray | None = None) -> None:
    """Write a fitted dynamic model to `path` (with the sampling times it was fitted on, the default for predict)."""
    if model.net is None:
        raise PredictorError("model", "the dynamic model is not fitted")
    torch.save({"format": FORMAT, "config": asdict(model.config), "substrates": model.substrates,
                "times": [] if times is None else [float(t) for t in times],
                "residual_var": model.residual_var, "scale": model._scale,
                "state": {k: v.cpu() for k, v in model.net.state_dict().items()}}, path)


def load(path: Path) -> tuple[DynamicModel, np.ndarray]:
    """Read a model file written by `save`: the model and its fitting times (PredictorError when it is not one)."""
    try:
        payload = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as exc:
        raise PredictorError("--model", f"'{path}' is not a model file ({type(exc).__name__})") from None
    if not isinstance(payload, dict) or not str(payload.get("format", "")).startswith("fluxlab-dynamic-"):
        raise PredictorError("--model", f"'{path}' is not a dynamic model file (fit one with --model dynamic)")
    if payload["format"] not in FORMATS_READ:
        raise PredictorError("--model", f"'{path}' is a {payload['format']} file; this version reads "
                                        f"{', '.join(FORMATS_READ)} (refit it with --model dynamic)")
    config = dict(payload["config"])
    if payload["format"] == "fluxlab-dynamic-v1":
        config["parametrisation"] = "free"
    model = DynamicModel(DynamicConfig(**config))
    model.substrates = list(payload["substrates"])
    model.residual_var, model._scale = float(payload["residual_var"]), float(payload["scale"])
    model.net = model._network(len(model.substrates))
    model.net.load_state_dict(payload["state"])
    model.net.eval()
    return model, np.asarray(payload.get("times") or [], dtype=float)


def _aligned(model: DynamicModel, media: list[dict[str, float]]) -> np.ndarray:
    """Initial concentrations (one dict per run) in the model's substrate order; unknown substrates are an error."""
    for medium in media:
        unknown = sorted(s for s, mM in medium.items() if mM > 0 and s not in model.substrates)
        if unknown:
            raise PredictorError("--runs", f"init:{unknown[0]} is not a substrate the model was fitted on "
                                           f"(it knows {', '.join(model.substrates)})")
    return np.array([[medium.get(s, 0.0) for s in model.substrates] for medium in media]).reshape(len(media), -1)


def _media(data: CurveSet) -> list[dict[str, float]]:
    return [dict(zip(data.substrates, map(float, row), strict=True)) for row in data.init]


def _runs_only(runs: Path) -> tuple[list[str], list[dict[str, float]]]:
    """Run ids and initial media of a runs table read alone (no curves: runs never measured)."""
    try:
        items = read_time_courses("run_id,time_h,y:ln_od\n", runs.read_text(), "predict")
    except (CsvRowError, OSError) as exc:
        raise PredictorError("--runs", str(exc)) from None
    return [m.run_id for m in items], [dict(m.initial_concentrations) for m in items]


def fit_file(curves: Path, runs: Path, out: Path, config: DynamicConfig | None = None) -> dict[str, Any]:
    """Fit on every run of the CSV pair, save to `out`; returns n_runs, substrates, fit_s and the training fit."""
    data = load_curves(curves, runs)
    started = time.perf_counter()
    model = DynamicModel(config).fit(data.substrates, data.init, data.times, data.ln_od)
    fit_s = time.perf_counter() - started
    save(model, out, data.times)
    fitted = model.predict(data.init, data.times)
    report = curve_report(data.times, data.ln_od, fitted.mean, fitted.sd)
    return {"model": "dynamic", "n_runs": len(data.run_ids), "substrates": data.substrates, "fit_s": fit_s,
            "train_curve_r2_mean": report["curve_r2_mean"], "out": str(out)}


def predict_file(model_path: Path, runs: Path, out: Path, curves: Path | None = None,
                 times: list[float] | None = None) -> dict[str, Any]:
    """Predicted ln OD (mean, sd band) per run, written as `run_id, time_h, mean:ln_od, sd:ln_od`.

    Runs and times: those of a curves file when given, else every run of the runs table at `times` (default:
    the times the model was fitted on) - media never grown included.
    """
    model, fitted_times = load(model_path)
    if curves is not None:
        data = load_curves(curves, runs)
        run_ids, media, at = data.run_ids, _media(data), data.times
    else:
        run_ids, media = _runs_only(runs)
        at = np.asarray(times if times else fitted_times, dtype=float)
        if at.size == 0 or np.any(np.diff(at) <= 0) or at[0] < 0:
            raise PredictorError("--times", "need increasing times >= 0 (h)")
    pred = model.predict(_aligned(model, media), at)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["run_id", "time_h", "mean:ln_od", "sd:ln_od"])
    for i, run_id in enumerate(run_ids):
        for j, t in enumerate(at):
            writer.writerow([run_id, f"{t:g}", f"{pred.mean[i, j]:.6g}", f"{pred.sd[i, j]:.6g}"])
    out.write_text(buffer.getvalue())
    return {"model": "dynamic", "n_runs": len(run_ids), "n_points": int(pred.mean.size), "out": str(out)}


def evaluate_file(model_path: Path, curves: Path, runs: Path) -> dict[str, Any]:
    """Score a saved model on measured curves: curve_r2_mean, final_r2, mu_max_r2, coverage95, n_runs."""
    model, _ = load(model_path)
    data = load_curves(curves, runs)
    pred = model.predict(_aligned(model, _media(data)), data.times)
    return {"model": "dynamic", **curve_report(data.times, data.ln_od, pred.mean, pred.sd)}
