"""Predictor benchmark: accuracy, calibration and speed on the simulated true cell.

Data: random designs of the succinate example's search space (<= 3 of 25 knockouts, 3 expression
genes at 0.25-4x) on E. coli core, measured by the simulated lab (true cell = budget-limited
MOMA with hidden regulation, 5 % CV + 0.01 absolute noise, batch offsets). 75 % train, 25 % held out.

JSON keys:
  heldout_r2       {model: mean R² over the 38 measured 13C-MFA fluxes of held-out designs (noisy measurements)}
  heldout_r2_truth the same against the noise-free true-cell fluxes of those designs (noise cannot be learned)
  heldout_r2_variance_weighted  {model: 1 - sum SSE / sum SST over the 38 flux columns, each centred on its
                   own held-out mean (large-variance fluxes weigh more; noise-dominated near-constant ones less)}
  noise_ceiling_r2 mean R² over the fluxes of the noise-free truth as predictor of the noisy held-out values: the
                   best any model can reach on `heldout_r2` (noise_ceiling_r2_variance_weighted likewise)
  heldout_detail   {model: {"growth": R², "<objective>": R², "coverage68", "coverage95", "train_s"}}
  prior_r2         the same R² for the pFBA prior alone (the organism model's pFBA flux of each design, no
                   learning), as the issue defines it; prior_r2_truth against the noise-free truth
  hybrid_prior_r2  the same for the hybrid's own mechanistic part alone (linear MOMA around the wild type
                   anchored to the measured wild-type runs, lowered enzyme levels capping fluxes at capacities
                   estimated from the measurements: calibrated on the training data, so not "no learning");
                   hybrid_prior_r2_truth too
  models           hybrid (anchored, capacity-capped MOMA prior), mlp, fusion, gnn (graph network; on E. coli core
                   it corrects the hybrid's per-design prior, `graph_prior="auto"`); on request hybrid-pfba (pFBA
                   prior) and gnn-wildtype (the gnn correcting the wild-type flux, the genome-scale default)
  coverage95/68    share of held-out measured values (all outputs) inside the hybrid's 95 %/68 % interval
  mass_balance_violation  mean ||S v|| of the hybrid's predicted full flux vectors (mmol/gDW/h)
  retrain_s        hybrid, 5 members, 1,000 samples: train + serialise, median of repeats (priors cached,
                   as in the service where each design's prior is computed once when it arrives)
  retrain_detail   {model: seconds} for every model, and the one-off prior time for 1,000 designs (pfba_prior_s,
                   moma_prior_s: the hybrid's MOMA, recomputed whenever the measured wild type or a fitted
                   capacity changes)
  predict_p50_ms / predict_p99_ms  {"1": ..., "1000": ...} hybrid predict latency for new designs
                   (includes their MOMA prior); predict_cached_p50_ms the same for designs seen before
  threads          torch threads used
  omics            with --omics, only this (and threads): {"seeds", "kinds": {model: {variant: {metric: {"median",
                   "per_seed"}}}}}, held-out R² and coverage95 trained with and without the measurements' omics
                   blocks, predicted with and without the held-out designs' own omics (benchmarks/predictor_omics.py)
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

import numpy as np


def _progress(message: str) -> None:
    from rich.console import Console

    Console(stderr=True).print(f"[dim]predictor bench:[/dim] {message}")


def _measure(n: int, seed: int) -> tuple[Any, list[Any], Any]:
    from schemas.measurement import Measurement
    from services.predictor.transfer import random_designs
    from simulators.examples import succinate_core_spec
    from simulators.lab import Lab, NoiseConfig
    from simulators.truecell import TrueCell

    spec = succinate_core_spec(seed)
    cell = TrueCell(spec.organism.model, "default")
    lab = Lab(cell, NoiseConfig(cv=0.05), seed=seed)
    designs = random_designs(spec.search_space, n, seed)
    runs = [lab.run(d, spec.id, f"run{i:05d}") for i, d in enumerate(designs)]
    return spec, [m for m in runs if isinstance(m, Measurement)], cell


def _truth(cell: Any, measurements: list[Any], names: list[str], flux_names: list[str]) -> np.ndarray:
    """Noise-free true-cell values (growth; fluxes of viable designs, as the lab reports them)."""
    y = np.full((len(measurements), len(names)), np.nan)
    for i, m in enumerate(measurements):
        state = cell.respond(m.design)
        for j, name in enumerate(names):
            if name == "growth":
                y[i, j] = state.growth
            elif name in flux_names and state.status == "ok":
                y[i, j] = state.flux(name)
    return y


def _model(kind: str, organism: str, **options: Any) -> Any:
    from services.predictor.deepmodel import DeepModel

    if kind == "hybrid-pfba":
        return DeepModel("hybrid", organism, prior="pfba", **options)
    if kind == "gnn-wildtype":  # the gnn correcting the wild-type flux (what `auto` picks at genome scale)
        return DeepModel("gnn", organism, graph_prior="wildtype", **options)
    return DeepModel(kind, organism, **options)


def _r2_over(names: list[str], y: np.ndarray, pred: np.ndarray, keep: list[str]) -> float:
    from services.predictor.metrics import r2

    cols = [names.index(k) for k in keep if k in names]
    values = r2(y[:, cols], pred[:, cols])
    return float(np.nanmean(values))


def _r2_pooled(names: list[str], y: np.ndarray, pred: np.ndarray, keep: list[str]) -> float:
    """1 - sum of squared errors / sum of squares around each column's own mean, over all `keep` columns."""
    cols = [names.index(k) for k in keep if k in names]
    yk, pk = y[:, cols], pred[:, cols]
    ok = np.isfinite(yk) & np.isfinite(pk)
    centred = np.where(ok, yk - np.nanmean(np.where(ok, yk, np.nan), axis=0), 0.0)
    sse = float((np.where(ok, yk - pk, 0.0) ** 2).sum())
    return 1.0 - sse / float((centred ** 2).sum())


def _percentiles(samples: list[float]) -> tuple[float, float]:
    arr = np.asarray(samples) * 1000.0
    return float(np.percentile(arr, 50)), float(np.percentile(arr, 99))


def _latency(model: Any, designs: list[Any], batch: int, repeats: int, cold: bool) -> list[float]:
    """Predict times; `cold` empties the prior cache first, so the prior is computed as for new designs."""
    times = []
    for r in range(repeats):
        chunk = designs[(r * batch) % len(designs):][:batch] or designs[:batch]
        if cold:
            model.prior.clear_cache()
        t = time.perf_counter()
        model.predict(chunk)
        times.append(time.perf_counter() - t)
    return times


def run(quick: bool, seed: int, models: list[str], threads: int) -> dict[str, Any]:
    """Run the benchmark and return the figures."""
    import torch

    from services.predictor.deepmodel import DeepModel
    from services.predictor.features import targets_from_measurements
    from services.predictor.metrics import coverage
    from services.predictor.prior import mass_balance_violation

    torch.set_num_threads(threads)
    n = 400 if quick else 2000
    _progress(f"measuring {n} designs on the simulated true cell")
    spec, measurements, cell = _measure(n, seed)
    split = int(0.75 * len(measurements))
    train, test = measurements[:split], measurements[split:]
    table = targets_from_measurements(train)
    names = table.names
    flux_names = sorted({k for m in train for k in m.fluxes})
    y_test = targets_from_measurements(test, names).y
    y_truth = _truth(cell, test, names, flux_names)
    objective = spec.objective.target
    out: dict[str, Any] = {"n_train": len(train), "n_test": len(test), "n_outputs": len(names),
                           "heldout_r2": {}, "heldout_r2_truth": {}, "heldout_r2_variance_weighted": {},
                           "noise_ceiling_r2": _r2_over(names, y_test, y_truth, flux_names),
                           "noise_ceiling_r2_variance_weighted": _r2_pooled(names, y_test, y_truth, flux_names),
                           "heldout_detail": {}, "threads": threads,
                           "quick": quick}
    hybrid: DeepModel | None = None
    options = {"epochs": 60} if quick else {}
    for kind in models:
        _progress(f"training {kind} on {len(train)} measurements")
        model = _model(kind, spec.organism.model, **options)
        report = model.train_on_measurements(train)
        pred = model.predict([m.design for m in test])
        out["heldout_r2"][kind] = _r2_over(names, y_test, pred.mean, flux_names)
        out["heldout_r2_truth"][kind] = _r2_over(names, y_truth, pred.mean, flux_names)
        out["heldout_r2_variance_weighted"][kind] = _r2_pooled(names, y_test, pred.mean, flux_names)
        out["heldout_detail"][kind] = {
            "growth": _r2_over(names, y_test, pred.mean, ["growth"]),
            objective: _r2_over(names, y_test, pred.mean, [objective]),
            "coverage68": coverage(y_test, pred.mean, pred.sd, 1.0),
            "coverage95": coverage(y_test, pred.mean, pred.sd, 1.959964),
            "train_s": report["train_s"],
        }
        if kind == "hybrid":
            hybrid = model
    if hybrid is not None:
        prior = hybrid.prior.compute([m.design for m in test])
        idx = [hybrid.prior.flux_index(nm) for nm in names]
        prior_pred = np.stack([prior.flux[:, i] if i >= 0 else np.full(len(test), np.nan) for i in idx], axis=1)
        out["hybrid_prior_r2"] = _r2_over(names, y_test, prior_pred, flux_names)
        out["hybrid_prior_r2_truth"] = _r2_over(names, y_truth, prior_pred, flux_names)
        pfba = _model("hybrid", spec.organism.model, prior="pfba").prior.compute([m.design for m in test])
        pfba_pred = np.stack([pfba.flux[:, i] if i >= 0 else np.full(len(test), np.nan) for i in idx], axis=1)
        out["prior_r2"] = _r2_over(names, y_test, pfba_pred, flux_names)
        out["prior_r2_truth"] = _r2_over(names, y_truth, pfba_pred, flux_names)
        out["coverage95"] = out["heldout_detail"]["hybrid"]["coverage95"]
        out["coverage68"] = out["heldout_detail"]["hybrid"]["coverage68"]
        out["mass_balance_violation"] = mass_balance_violation(hybrid.organism,
                                                               hybrid.full_flux([m.design for m in test]))
    out.update(_speed(spec, measurements, models, seed, quick, options))
    return out


def _speed(spec: Any, measurements: list[Any], models: list[str], seed: int, quick: bool,
           options: dict[str, Any]) -> dict[str, Any]:
    from services.predictor.deepmodel import DeepModel
    from services.predictor.features import targets_from_measurements
    from services.predictor.transfer import random_designs

    sample = measurements[:1000]
    detail: dict[str, float] = {}
    fresh = random_designs(spec.search_space, 1000, seed + 1)
    for method, anchored in (("pfba", False), ("moma", True)):
        probe = DeepModel("hybrid", spec.organism.model, prior=method)
        if anchored:  # the hybrid's prior: MOMA around the measured wild type, with capacities fitted to the data
            table = targets_from_measurements(sample)
            probe.names = table.names
            probe.calibrate_prior([m.design for m in sample], table.y)
        probe.prior.clear_cache()
        t = time.perf_counter()
        probe.prior.compute([m.design for m in sample])
        detail[f"{method}_prior_s"] = time.perf_counter() - t
    repeats = 1 if quick else 3
    for kind in models:
        times = []
        for r in range(repeats):
            _progress(f"retrain {kind} on {len(sample)} samples ({r + 1}/{repeats})")
            model = _model(kind, spec.organism.model, seed=r, **options)
            t = time.perf_counter()
            model.train_on_measurements(sample)
            model.to_bytes()
            times.append(time.perf_counter() - t)
        detail[kind] = float(np.median(times))
    result: dict[str, Any] = {"retrain_s": detail.get("hybrid", detail[models[0]]), "retrain_detail": detail}
    model = DeepModel("hybrid", spec.organism.model, **options)
    model.train_on_measurements(sample)
    p50: dict[str, float] = {}
    p99: dict[str, float] = {}
    cached: dict[str, float] = {}
    for batch, reps in (("1", 20 if quick else 100), ("1000", 2 if quick else 7)):
        size = int(batch)
        _progress(f"predict latency, batch {size}")
        p50[batch], p99[batch] = _percentiles(_latency(model, fresh, size, reps, cold=True))
        cached[batch] = _percentiles(_latency(model, fresh, size, reps, cold=False))[0]
    result.update(predict_p50_ms=p50, predict_p99_ms=p99, predict_cached_p50_ms=cached)
    return result


def main(argv: list[str] | None = None) -> int:
    """`fluxlab bench predictor [--quick] [--json]`."""
    parser = argparse.ArgumentParser(prog="fluxlab bench predictor", description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--quick", action="store_true", help="small, fast smoke run")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--models", default="hybrid,mlp,fusion,gnn",
                        help="comma-separated: hybrid, mlp, fusion, gnn; also hybrid-pfba, gnn-wildtype")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (<= 2: the target machine has 2 cores)")
    parser.add_argument("--omics", action="store_true",
                        help="only the omics comparison (benchmarks/predictor_omics.py) of --models over --seeds")
    parser.add_argument("--seeds", default="0,1,2", help="--omics: comma-separated seeds (medians over them)")
    parser.add_argument("--no-ablation", action="store_true", help="--omics: skip the omics_dropout=False variant")
    args = parser.parse_args(argv)
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    if args.omics:
        import torch

        from benchmarks import predictor_omics

        torch.set_num_threads(args.threads)
        seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
        result = {"omics": predictor_omics.run(seeds, models, args.quick, not args.no_ablation),
                  "threads": args.threads}
    else:
        result = run(args.quick, args.seed, models, args.threads)
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key}: {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
