"""Cross-validation of model `dynamic` on growth curves, with the composition-only peers on the same folds."""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.ensemble import RandomForestRegressor
from sklearn.model_selection import KFold

from schemas import Design
from services.predictor.curve_metrics import curve_report
from services.predictor.dynamic import DynamicConfig, DynamicModel
from services.predictor.errors import PredictorError
from services.tracker.csvio import CsvRowError
from services.tracker.timecourse_csv import load_time_courses


@dataclass
class CurveSet:
    """Measured ln OD curves on common times with the initial medium of each run."""

    run_ids: list[str]
    substrates: list[str]
    init: np.ndarray
    times: np.ndarray
    ln_od: np.ndarray
    designs: list[Design] = field(default_factory=list)
    courses: dict[str, np.ndarray] = field(default_factory=dict)
    """Every other readout (runs x times, NaN where a run lacks it or samples it at other times)."""


def load_curves(curves: Path, runs: Path, readout: str = "ln_od") -> CurveSet:
    """Runs of the two CSV tables that have the readout, on common times (PredictorError otherwise)."""
    try:
        items = [m for m in load_time_courses(curves, runs, "curves") if readout in m.time_courses]
    except (CsvRowError, OSError) as exc:
        raise PredictorError("--data/--runs", str(exc)) from None
    if len(items) < 4:
        raise PredictorError("--data", f"need at least 4 runs with a y:{readout} curve, found {len(items)}")
    times = items[0].time_courses[readout].times
    for m in items:
        if m.time_courses[readout].times != times:
            raise PredictorError("--data", f"run {m.run_id} is not sampled at the same times as run {items[0].run_id}")
    substrates = sorted({k for m in items for k in m.initial_concentrations})
    if not substrates:
        raise PredictorError("--runs", "no init:<metabolite> column")
    init = np.array([[m.initial_concentrations.get(s, 0.0) for s in substrates] for m in items])
    y = np.array([m.time_courses[readout].values for m in items])
    names = sorted({r for m in items for r in m.time_courses} - {readout})
    courses = {r: np.array([m.time_courses[r].values if r in m.time_courses and m.time_courses[r].times == times
                            else [np.nan] * len(times) for m in items], dtype=float) for r in names}
    return CurveSet([m.run_id for m in items], substrates, init, np.array(times), y, [m.design for m in items],
                    courses)


def peer_predictions(data: CurveSet, train: np.ndarray, test: np.ndarray, seed: int) -> dict[str, np.ndarray]:
    """The data README's composition-only references: the mean training curve; a random forest on log(1+mM)."""
    forest = RandomForestRegressor(n_estimators=300, random_state=seed, n_jobs=1)
    forest.fit(np.log1p(data.init[train]), data.ln_od[train])
    return {"mean_curve": np.repeat(data.ln_od[train].mean(0, keepdims=True), len(test), 0),
            "random_forest": forest.predict(np.log1p(data.init[test]))}


def cross_validate(data: CurveSet, folds: int = 5, seed: int = 0, config: DynamicConfig | None = None,
                   peers: bool = True) -> dict[str, Any]:
    """k-fold over runs: the dynamic model's curve metrics (and the peers' on the same folds)."""
    config = config or DynamicConfig()
    if not 2 <= folds <= len(data.run_ids):
        raise PredictorError("--folds", f"must be between 2 and the number of runs ({len(data.run_ids)})")
    y = data.ln_od
    names = ["dynamic", *(("mean_curve", "random_forest") if peers else ())]
    mean = {n: np.zeros_like(y) for n in names}
    sd = np.zeros_like(y)
    fit_s = []
    for k, (train, test) in enumerate(KFold(folds, shuffle=True, random_state=seed).split(data.init)):
        start = time.perf_counter()
        model = DynamicModel(replace(config, seed=seed * 100 + k))
        model.fit(data.substrates, data.init[train], data.times, y[train])
        fit_s.append(time.perf_counter() - start)
        pred = model.predict(data.init[test], data.times)
        mean["dynamic"][test], sd[test] = pred.mean, pred.sd
        if peers:
            for name, values in peer_predictions(data, train, test, seed).items():
                mean[name][test] = values
    out: dict[str, Any] = {**curve_report(data.times, y, mean["dynamic"], sd), "model": "dynamic",
                           "folds": folds, "seed": seed, "fit_s_per_fold": float(np.median(fit_s))}
    if peers:
        out["peers"] = {n: curve_report(data.times, y, mean[n]) for n in names[1:]}
    return out
