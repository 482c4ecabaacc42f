"""Model `dynamic` on growth curves: real (dAMN's 186 measured media, 5-fold) and simulated (dFBA true cell).

Real: `../shared/data/damn_growth_curves`, 5-fold cross-validation over its media; only the training curves
and the compositions are inputs. The composition-only peers of the data's README run on the same folds in
the same run: the mean training curve, and a random forest on log(1 + mM) -> every time point.
Simulated: media drawn at random for E. coli core, curves from the dFBA true cell (simulators/dfba.py) with
lab noise; the model trains on noisy ln OD of the training media (and, as `dynamic_with_substrate_courses`,
also on their noisy substrate courses) and is scored on held-out media against the noise-free ln OD.
Spatial (benchmarks/dynamic_spatial.py): the model fitted on simulated batch curves predicts colony profiles
on agar (dFBA at every grid point), scored against the noise-free profiles.
Figures per seed and their medians (`--repeat` seeds).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from benchmarks.common import emit, median, parser, progress_console
from services.predictor.curve_metrics import curve_report
from services.predictor.dynamic import DynamicConfig, DynamicModel
from services.predictor.dynamic_eval import CurveSet, cross_validate, load_curves, peer_predictions
from simulators.dfba import BatchCulture

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "damn_growth_curves"
SIM_SUBSTRATES = ["glc__D_e", "fru_e", "succ_e", "ac_e", "pyr_e", "mal__L_e"]


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
    conc = np.full((n_media, len(times), len(SIM_SUBSTRATES)), np.nan)
    for i, row in enumerate(init):
        medium = {s: float(c) for s, c in zip(SIM_SUBSTRATES, row, strict=True) if c > 0}
        curve = culture.simulate(medium, times)
        od, measured = culture.sample(curve, rng)
        truth.append(np.log(curve.od(culture.kinetics)))
        noisy.append(np.log(od))
        for j, s in enumerate(SIM_SUBSTRATES):
            if s in medium:
                conc[i, :, j] = measured[s]
    y_true, y_noisy = np.array(truth), np.array(noisy)
    test = np.arange(n_media) < n_media // 4
    model = DynamicModel(replace(config, seed=seed))
    model.fit(SIM_SUBSTRATES, init[~test], times, y_noisy[~test])
    pred = model.predict(init[test], times)
    with_courses = DynamicModel(replace(config, seed=seed))
    with_courses.fit(SIM_SUBSTRATES, init[~test], times, y_noisy[~test], conc[~test])
    pred_courses = with_courses.predict(init[test], times)
    noisy_set = CurveSet([str(i) for i in range(n_media)], SIM_SUBSTRATES, init, times, y_noisy)
    forest = peer_predictions(noisy_set, np.where(~test)[0], np.where(test)[0], seed)["random_forest"]
    return {"dynamic": curve_report(times, y_true[test], pred.mean, pred.sd),
            "dynamic_with_substrate_courses": curve_report(times, y_true[test], pred_courses.mean, pred_courses.sd),
            "random_forest": curve_report(times, y_true[test], forest)}


def _medians(per_seed: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in per_seed[0].items():
        if isinstance(value, str):
            out[key] = value
        elif isinstance(value, dict):
            out[key] = _medians([s[key] for s in per_seed])
        else:
            out[key] = median([float(s[key]) for s in per_seed])
    return out


def run(quick: bool, repeat: int, threads: int, parts: str = "all") -> dict[str, Any]:
    """Every figure of the benchmark."""
    torch.set_num_threads(max(1, threads))
    config = DynamicConfig(epochs=20 if quick else DynamicConfig().epochs, members=2 if quick else 4)
    result: dict[str, Any] = {"config": {"epochs": config.epochs, "members": config.members, "threads": threads,
                                         "device": str(DynamicModel(config).device)}}
    seeds = list(range(1 if quick else repeat))
    if parts in ("all", "simulated"):
        sims = [simulated(16 if quick else 80, seed, config) for seed in seeds]
        result["simulated"] = {"median": _medians(sims), "per_seed": sims}
    if parts in ("all", "spatial"):
        from benchmarks.dynamic_spatial import spatial

        spatials = [spatial(16 if quick else 80, 2 if quick else 6, seed, config, SIM_SUBSTRATES) for seed in seeds]
        result["spatial"] = {"median": _medians(spatials), "per_seed": spatials}
    if parts in ("simulated", "spatial"):
        return result
    if not DATA.is_dir():
        result["real"] = {"skipped": f"{DATA} is absent"}
        return result
    data = load_curves(DATA / "growth_curves.csv", DATA / "runs.csv")
    if quick:
        data = CurveSet(data.run_ids[:40], data.substrates, data.init[:40], data.times, data.ln_od[:40])
    reals = []
    for seed in seeds:
        reals.append(cross_validate(data, 2 if quick else 5, seed, config))
        progress_console.log(f"real curves, seed {seed}: curve R² {reals[-1]['curve_r2_mean']:.3f}")
    result["real"] = {"median": _medians(reals), "per_seed": reals}
    return result


def main(argv: list[str] | None = None) -> int:
    """`fluxlab bench dynamic [--quick] [--json] [--repeat N] [--threads N]`."""
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, default=1, help="torch threads")
    p.add_argument("--part", choices=["all", "real", "simulated", "spatial"], default="all")
    args = p.parse_args(argv)
    emit(run(args.quick, args.repeat, args.threads, args.part), args.json, "dynamic")
    return 0
