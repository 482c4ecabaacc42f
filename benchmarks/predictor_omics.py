"""Omics in the loop: held-out accuracy of the predictor trained with and without the lab's omics blocks.

Same simulated data as `benchmarks/predictor.py` (succinate search space on E. coli core, the simulated lab's
measurements with their "transcriptomics" and "metabolomics" blocks; 75 % train, 25 % held out), per seed
and model kind, on the same training rows and held-out designs:

  designs          trained on the designs only (`use_omics=False`, the service before omics were used)
  omics_absent     trained with omics (`use_omics=True`, modality dropout on), held-out designs predicted
                   without omics: what the optimizer sees for a proposal
  omics_present    the same model, held-out designs predicted with their own measured omics: a strain that
                   was run but whose fluxes are not analysed yet
  no_dropout_absent / no_dropout_present  the ablation: trained with omics, `omics_dropout=False`
  aux_targets      the alternative to omics inputs: designs only as inputs, the omics values as extra training
                   targets (auxiliary outputs, scored on the same fluxes only)

Per variant: `r2` (mean R² over the measured 13C-MFA fluxes, against the noisy held-out measurements, as
`heldout_r2`), `r2_truth` (against the noise-free true cell), `coverage95` (all measured outputs), `train_s`
(that training's wall time, the first variant's including the hybrid's prior of the training designs).
`retrain_s` {kind: {"designs", "omics"}}: train + `to_bytes` on the first seed's first 1,000 measurements
without and with their omics, priors cached (as `retrain_s` of the main benchmark), median of 3.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

VARIANTS = ("designs", "omics_absent", "omics_present", "no_dropout_absent", "no_dropout_present", "aux_targets")


def _progress(message: str) -> None:
    from rich.console import Console

    Console(stderr=True).print(f"[dim]predictor bench (omics):[/dim] {message}")


def _scores(names: list[str], flux_names: list[str], y: np.ndarray, truth: np.ndarray, pred: Any,
            train_s: float) -> dict[str, float]:
    from benchmarks.predictor import _r2_over
    from services.predictor.metrics import coverage

    return {"r2": _r2_over(names, y, pred.mean, flux_names), "r2_truth": _r2_over(names, truth, pred.mean, flux_names),
            "coverage95": coverage(y, pred.mean, pred.sd, 1.959964), "train_s": train_s}


def _with_omics_targets(train: list[Any], names: list[str]) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """The training targets with every omics feature appended as a target column (NaN where not measured)."""
    from services.predictor.features import targets_from_measurements

    table = targets_from_measurements(train, names)
    columns = sorted({f"omics.{b}:{f}" for m in train for b, feats in m.omics.items() for f in feats})
    index = {c: j for j, c in enumerate(columns)}
    extra = np.full((len(train), len(columns)), np.nan)
    for i, m in enumerate(train):
        for block, feats in m.omics.items():
            for feat, value in feats.items():
                extra[i, index[f"omics.{block}:{feat}"]] = value
    sd = np.hstack([table.sd, np.full_like(extra, np.nan)])
    return np.hstack([table.y, extra]), sd, [*names, *columns]


def one_seed(seed: int, kinds: list[str], quick: bool, ablation: bool = True) -> dict[str, dict[str, dict[str, float]]]:
    """{kind: {variant: scores}} on one seed's simulated data."""
    from benchmarks.predictor import _measure, _model, _truth
    from services.predictor.features import omics_from_measurements, targets_from_measurements

    n = 400 if quick else 2000
    _progress(f"seed {seed}: measuring {n} designs on the simulated true cell")
    spec, measurements, cell = _measure(n, seed)
    split = int(0.75 * len(measurements))
    train, test = measurements[:split], measurements[split:]
    names = targets_from_measurements(train).names
    flux_names = sorted({k for m in train for k in m.fluxes})
    y_test = targets_from_measurements(test, names).y
    truth = _truth(cell, test, names, flux_names)
    designs, omics = [m.design for m in test], omics_from_measurements(test)
    options: dict[str, Any] = {"epochs": 60} if quick else {}
    out: dict[str, dict[str, dict[str, float]]] = {}
    for kind in kinds:
        scores: dict[str, dict[str, float]] = {}
        runs = [("designs", False, True), ("omics", True, True)] + ([("no_dropout", True, False)] if ablation else [])
        for label, use_omics, dropout in runs:
            _progress(f"seed {seed}: {kind}, {label}, {len(train)} measurements")
            model = _model(kind, spec.organism.model, omics_dropout=dropout, **options)
            started = time.perf_counter()
            model.train_on_measurements(train, use_omics=use_omics)
            train_s = time.perf_counter() - started
            if not use_omics:
                scores["designs"] = _scores(names, flux_names, y_test, truth, model.predict(designs), train_s)
                continue
            scores[f"{label}_absent"] = _scores(names, flux_names, y_test, truth, model.predict(designs), train_s)
            scores[f"{label}_present"] = _scores(names, flux_names, y_test, truth, model.predict(designs, omics),
                                                 train_s)
        if ablation:
            _progress(f"seed {seed}: {kind}, omics as auxiliary targets")
            model = _model(kind, spec.organism.model, **options)
            y_aux, sd_aux, aux_names = _with_omics_targets(train, names)
            started = time.perf_counter()
            model.train([m.design for m in train], y_aux, names=aux_names, sd=sd_aux)
            train_s = time.perf_counter() - started
            pred = model.predict(designs)
            pred.mean, pred.sd = pred.mean[:, :len(names)], pred.sd[:, :len(names)]
            scores["aux_targets"] = _scores(names, flux_names, y_test, truth, pred, train_s)
        out[kind] = scores
    return out


def retrain_times(seed: int, kinds: list[str], quick: bool) -> dict[str, dict[str, float]]:
    """{kind: {"designs": s, "omics": s}}: train + serialise on 1,000 measurements, median of 3 (1 if quick)."""
    from benchmarks.predictor import _measure, _model

    spec, measurements, _ = _measure(400 if quick else 1000, seed)
    options: dict[str, Any] = {"epochs": 60} if quick else {}
    out: dict[str, dict[str, float]] = {}
    for kind in kinds:
        _model(kind, spec.organism.model, **options).train_on_measurements(measurements)  # priors cached, torch warm
        out[kind] = {}
        for label, use_omics in (("designs", False), ("omics", True)):
            times = []
            for r in range(1 if quick else 3):
                _progress(f"retrain {kind} ({label}) on {len(measurements)} measurements ({r + 1})")
                model = _model(kind, spec.organism.model, seed=r, **options)
                started = time.perf_counter()
                model.train_on_measurements(measurements, use_omics=use_omics)
                model.to_bytes()
                times.append(time.perf_counter() - started)
            out[kind][label] = float(np.median(times))
    return out


def run(seeds: list[int], kinds: list[str], quick: bool, ablation: bool = True) -> dict[str, Any]:
    """Medians over `seeds` of every kind's variants, with the per-seed values, and the retrain times."""
    per_seed = {seed: one_seed(seed, kinds, quick, ablation) for seed in seeds}
    out: dict[str, Any] = {"seeds": seeds, "quick": quick, "kinds": {},
                           "retrain_s": retrain_times(seeds[0], kinds, quick)}
    for kind in kinds:
        variants = [v for v in VARIANTS if v in per_seed[seeds[0]][kind]]
        out["kinds"][kind] = {
            v: {metric: {"median": float(np.median([per_seed[s][kind][v][metric] for s in seeds])),
                         "per_seed": [per_seed[s][kind][v][metric] for s in seeds]}
                for metric in per_seed[seeds[0]][kind][v]}
            for v in variants}
    return out
