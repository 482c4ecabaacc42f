"""Spatial part of `fluxlab bench dynamic`: a model fitted on mixed batch curves predicts colony profiles.

The dynamic model is fitted on noisy ln OD batch curves of simulated media (the dFBA true cell,
simulators/dfba.py); its learned kinetics then drive the spatial integrator
(services/predictor/dynamic_spatial.py) for colonies on agar simulated by dFBA at every grid point
(simulators/dfba_spatial.py). No spatial data is used in fitting. Scored against the noise-free truth:
`profile_r2_mean`, per (medium, time) R² over positions of the OD-equivalent density, clipped at 0, on
held-out media (not among the batch training media) and on training media (whose profiles are still
unseen); `substrate_profile_r2_mean` the same for every medium substrate's concentration; `coverage95` of
the bands over points with true OD >= 0.01. Peer in the same run on the same fit: the same kinetics with
the diffusion terms off (every cell an isolated well), which shows what transport carries; the model
fitted on ln OD alone (without the batch runs' substrate courses), which shows what they carry; and the
model told the inoculum in absolute OD rather than relative to the batch inoculum.
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

import numpy as np

from services.predictor.curve_metrics import band_coverage, curve_report, profile_r2
from services.predictor.dynamic import DynamicConfig, DynamicModel
from services.predictor.dynamic_spatial import ProfilePrediction, SpatialSetup, predict_profiles
from simulators.dfba import BatchCulture
from simulators.dfba_spatial import AgarPlate, SpatialCulture, SpatialProfiles

PROFILE_TIMES = np.array([4.0, 8.0, 12.0, 16.0])
BATCH_TIMES = np.linspace(0.5, 16.0, 16)
OD_MASK = 0.01


def random_media(n: int, substrates: list[str], rng: np.random.Generator) -> np.ndarray:
    """n media of 1-3 substrates at 1-15 mM each (the simulated batch part's distribution)."""
    init = np.zeros((n, len(substrates)))
    for row in init:
        chosen = rng.choice(len(substrates), rng.integers(1, 4), replace=False)
        row[chosen] = rng.uniform(1.0, 15.0, len(chosen))
    return init


def _medium(substrates: list[str], row: np.ndarray) -> dict[str, float]:
    return {s: float(c) for s, c in zip(substrates, row, strict=True) if c > 0}


def _score(truth: list[SpatialProfiles], pred: ProfilePrediction, substrates: list[str], rows: np.ndarray,
           gdw_per_od: float) -> dict[str, float]:
    true_od = np.array([p.od(gdw_per_od) for p in truth])
    sub_r2 = [float(profile_r2(p.concentrations[s][None], pred.substrates[i, :, :, j][None]).mean())
              for i, p in enumerate(truth) for j, s in enumerate(substrates) if rows[i, j] > 0]
    return {"profile_r2_mean": float(profile_r2(true_od, pred.od).mean()),
            "substrate_profile_r2_mean": float(np.mean(sub_r2)),
            "coverage95": band_coverage(true_od, pred.lower, pred.upper, true_od >= OD_MASK),
            "n_profiles": float(true_od.shape[0] * true_od.shape[1])}


def batch_data(init: np.ndarray, substrates: list[str], culture: BatchCulture, rng: np.random.Generator
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Noise-free ln OD, noisy ln OD (runs x T) and noisy substrate courses (runs x T x substrates, mM)."""
    truth, noisy, conc = [], [], np.full((len(init), len(BATCH_TIMES), len(substrates)), np.nan)
    for i, row in enumerate(init):
        curve = culture.simulate(_medium(substrates, row), BATCH_TIMES)
        od, measured = culture.sample(curve, rng)
        truth.append(np.log(curve.od(culture.kinetics)))
        noisy.append(np.log(od))
        for j, s in enumerate(substrates):
            if s in measured and row[j] > 0:
                conc[i, :, j] = measured[s]
    return np.array(truth), np.array(noisy), conc


def spatial(n_media: int, n_spatial: int, seed: int, config: DynamicConfig, substrates: list[str],
            plate: AgarPlate | None = None) -> dict[str, Any]:
    """Fit on batch curves of n_media - n_spatial media; score profiles of n_spatial held-out and seen media.

    `dynamic` is fitted on ln OD and the substrate courses of the batch runs and told the inoculum as a
    multiple of the batch inoculum; `dynamic_absolute_inoculum` the same model told the inoculum in OD;
    `dynamic_od_only` is fitted on ln OD alone; `no_diffusion` is `dynamic` without transport.
    """
    rng = np.random.default_rng(seed)
    culture = BatchCulture()
    plate = plate or AgarPlate()
    colony = SpatialCulture(culture, plate)
    init = random_media(n_media, substrates, rng)
    held_out = np.arange(n_media) < n_spatial
    seen = np.where(~held_out)[0][:n_spatial]
    truth_curves, noisy, conc = batch_data(init, substrates, culture, rng)
    models: dict[str, DynamicModel] = {}
    out: dict[str, Any] = {}
    for name, courses in (("dynamic", conc[~held_out]), ("dynamic_od_only", None)):
        start = time.perf_counter()
        models[name] = DynamicModel(replace(config, seed=seed)).fit(substrates, init[~held_out], BATCH_TIMES,
                                                                    noisy[~held_out], courses)
        out[f"{name}_fit_s"] = time.perf_counter() - start
        out[f"{name}_batch_held_out"] = curve_report(
            BATCH_TIMES, truth_curves[held_out], models[name].predict(init[held_out], BATCH_TIMES).mean)
    gdw = culture.kinetics.gdw_per_od
    absolute = SpatialSetup(plate.grid, {s: plate.diffusivity_of(s) for s in substrates},
                            plate.biomass_diffusivity, plate.inoculum() / gdw)
    relative = replace(absolute, inoculum_od=plate.inoculum() / culture.kinetics.inoculum_gdw,
                       relative_inoculum=True)
    sim_s = 0.0
    for name, rows in (("held_out_media", np.where(held_out)[0]), ("training_media", seen)):
        start = time.perf_counter()
        truth = [colony.simulate(_medium(substrates, init[i]), PROFILE_TIMES) for i in rows]
        sim_s += time.perf_counter() - start
        scores = {}
        for peer, model, setup, diffusion in (
                ("dynamic", models["dynamic"], relative, True),
                ("dynamic_absolute_inoculum", models["dynamic"], absolute, True),
                ("dynamic_od_only", models["dynamic_od_only"], relative, True),
                ("no_diffusion", models["dynamic"], relative, False)):
            pred = predict_profiles(model, init[rows], setup, PROFILE_TIMES, diffusion=diffusion)
            scores[peer] = _score(truth, pred, substrates, init[rows], gdw)
        out[name] = scores
    out["simulator"] = {"s_per_colony": sim_s / (2 * n_spatial),
                        "lp_solves_per_colony": colony.lp_solves / (2 * n_spatial),
                        "cells": plate.grid.cells, "geometry": plate.grid.geometry.value}
    return out
