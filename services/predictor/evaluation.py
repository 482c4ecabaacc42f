"""Held-out figures of a trained DeepModel: R², MSE, interval coverage, chi², mass balance and bounds."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from services.predictor import metrics
from services.predictor.features import OmicsList
from services.predictor.prior import bounds_violation, mass_balance_violation

if TYPE_CHECKING:
    from services.predictor.deepmodel import DeepModel, Inputs


def held_out_metrics(model: DeepModel, X: Inputs, y: np.ndarray, *, sd: np.ndarray | None = None,
                     omics: OmicsList | None = None) -> dict[str, float]:
    """R² (per output and overall), MSE, 68/95 % coverage, chi² (with measurement `sd`) and, for the hybrid
    and the gnn on designs, how far the predicted full fluxes leave S·v = 0 (and the hybrid's bounds)."""
    pred = model.predict(X, omics)
    y = np.asarray(y, dtype=float)
    out = metrics.regression_report(y, pred.mean, model.names)
    out["coverage68"] = metrics.coverage(y, pred.mean, pred.sd, 1.0)
    out["coverage95"] = metrics.coverage(y, pred.mean, pred.sd, 1.959964)
    if sd is not None:
        chi = metrics.chi_squared(y, pred.mean, np.asarray(sd, dtype=float))
        out.update(chi2=chi["chi2"], reduced_chi2=chi["reduced_chi2"])
    if model.config.kind == "hybrid" and not isinstance(X, np.ndarray):
        flux = model.full_flux(list(X))
        out["mass_balance_violation"] = mass_balance_violation(model.organism, flux)
        out["bounds_violation"] = bounds_violation(model.prior.compute(model.network_designs(list(X))), flux)
    elif model.config.kind == "gnn" and not isinstance(X, np.ndarray):
        out["mass_balance_violation"] = mass_balance_violation(model.organism, model.full_flux(list(X)))
    return out
