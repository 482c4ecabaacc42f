"""Model `dynamic` on growth curves: real (dAMN's 186 measured media, 5-fold) and simulated (dFBA true cell).

Real: `../shared/data/damn_growth_curves`, 5-fold cross-validation over its media; only the training curves
and the compositions are inputs. The composition-only peers of the data's README run on the same folds in
the same run: the mean training curve, and a random forest on log(1 + mM) -> every time point.
Simulated: media drawn at random for E. coli core, curves from the dFBA true cell (simulators/dfba.py) with
lab noise; the model trains on noisy ln OD of the training media and is scored on held-out media against the
noise-free ln OD. Figures per seed and their medians (`--repeat` seeds).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sklearn.ensemble import RandomForestRegressor
from sklearn.model_selection import KFold

from benchmarks.common import emit, median, parser, progress_console
from services.predictor.curve_metrics import curve_report
from services.predictor.dynamic import DynamicConfig, DynamicModel
from services.tracker.timecourse_csv import load_time_courses
from simulators.dfba import BatchCulture

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "damn_growth_curves"
SIM_SUBSTRATES = ["glc__D_e", "fru_e", "succ_e", "ac_e", "pyr_e", "mal__L_e"]


def real_curves(data: Path = DATA) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray]:
    """Substrates, initial mM (runs x substrates), common times, ln OD (runs x T) of the measured media."""
    runs = [m for m in load_time_courses(data / "growth_curves.csv", data / "runs.csv", "damn") if m.time_courses]
    substrates = sorted(runs[0].initial_concentrations)
    times = np.array(runs[0].time_courses["ln_od"].times)
    if any(m.time_courses["ln_od"].times != list(times) for m in runs):
        raise ValueError("growth_curves.csv: runs are not sampled at common times")
    init = np.array([[m.initial_concentrations.get(s, 0.0) for s in substrates] for m in runs])
    return substrates, init, times, np.array([m.time_courses["ln_od"].values for m in runs])


def _peers(init: np.ndarray, y: np.ndarray, train: np.ndarray, test: np.ndarray, seed: int
           ) -> dict[str, np.ndarray]:
    forest = RandomForestRegressor(n_estimators=300, random_state=seed, n_jobs=1)
    forest.fit(np.log1p(init[train]), y[train])
    return {"mean_curve": np.repeat(y[train].mean(0, keepdims=True), len(test), 0),
            "random_forest": forest.predict(np.log1p(init[test]))}


def _cv(substrates: list[str], init: np.ndarray, times: np.ndarray, y: np.ndarray, folds: int, seed: int,
        config: DynamicConfig) -> dict[str, Any]:
    names = ["dynamic", "mean_curve", "random_forest"]
    mean = {n: np.zeros_like(y) for n in names}
    sd = np.zeros_like(y)
    fit_s = []
    for k, (train, test) in enumerate(KFold(folds, shuffle=True, random_state=seed).split(init)):
        start = time.perf_counter()
        model = DynamicModel(DynamicConfig(**{**config.__dict__, "seed": seed * 100 + k}))
        model.fit(substrates, init[train], times, y[train])
        fit_s.append(time.perf_counter() - start)
        pred = model.predict(init[test], times)
        mean["dynamic"][test], sd[test] = pred.mean, pred.sd
        for name, values in _peers(init, y, train, test, seed).items():
            mean[name][test] = values
        progress_console.log(f"seed {seed} fold {k}: fit {fit_s[-1]:.0f} s")
    out: dict[str, Any] = {"dynamic": curve_report(times, y, mean["dynamic"], sd)}
    out.update({n: curve_report(times, y, mean[n]) for n in names[1:]})
    out["fit_s_per_fold"] = median(fit_s)
    return out


def simulated(n_media: int, seed: int, config: DynamicConfig) -> dict[str, Any]:
    """Held-out media of the dFBA true cell: curve R² against the noise-free truth."""
    rng = np.random.default_rng(seed)
    culture = BatchCulture()
    times = np.linspace(0.5, 16.0, 16)
    init = np.zeros((n_media, len(SIM_SUBSTRATES)))
    for row in init:
        chosen = rng.choice(len(SIM_SUBSTRATES), rng.integers(1, 4), replace=False)
        row[chosen] = rng.uniform(1.0, 15.0, len(chosen))
    truth, noisy = [], []
    for row in init:
        medium = {s: float(c) for s, c in zip(SIM_SUBSTRATES, row, strict=True) if c > 0}
        curve = culture.simulate(medium, times)
        od, _ = culture.sample(curve, rng)
        truth.append(np.log(curve.od(culture.kinetics)))
        noisy.append(np.log(od))
    y_true, y_noisy = np.array(truth), np.array(noisy)
    test = np.arange(n_media) < n_media // 4
    model = DynamicModel(DynamicConfig(**{**config.__dict__, "seed": seed}))
    model.fit(SIM_SUBSTRATES, init[~test], times, y_noisy[~test])
    pred = model.predict(init[test], times)
    return {"dynamic": curve_report(times, y_true[test], pred.mean, pred.sd),
            "random_forest": curve_report(times, y_true[test], _peers(init, y_noisy, np.where(~test)[0],
                                                                      np.where(test)[0], seed)["random_forest"])}


def _medians(per_seed: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in per_seed[0].items():
        if isinstance(value, dict):
            out[key] = _medians([s[key] for s in per_seed])
        else:
            out[key] = median([float(s[key]) for s in per_seed])
    return out


def run(quick: bool, repeat: int, threads: int) -> dict[str, Any]:
    """Every figure of the benchmark."""
    torch.set_num_threads(max(1, threads))
    config = DynamicConfig(epochs=20 if quick else 300, members=2 if quick else 4)
    result: dict[str, Any] = {"config": {"epochs": config.epochs, "members": config.members, "threads": threads,
                                         "device": str(DynamicModel(config).device)}}
    seeds = list(range(1 if quick else repeat))
    sims = [simulated(16 if quick else 80, seed, config) for seed in seeds]
    result["simulated"] = {"median": _medians(sims), "per_seed": sims}
    if not DATA.is_dir():
        result["real"] = {"skipped": f"{DATA} is absent"}
        return result
    substrates, init, times, y = real_curves()
    if quick:
        init, y = init[:40], y[:40]
    reals = [_cv(substrates, init, times, y, 2 if quick else 5, seed, config) for seed in seeds]
    result["real"] = {"median": _medians(reals), "per_seed": reals, "n_media": len(y)}
    return result


def main(argv: list[str] | None = None) -> int:
    """`fluxlab bench dynamic [--quick] [--json] [--repeat N] [--threads N]`."""
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, default=1, help="torch threads")
    args = p.parse_args(argv)
    emit(run(args.quick, args.repeat, args.threads), args.json, "dynamic")
    return 0
