"""Linear MOMA warm-started per strain: the same optima as solving each design on its own, in fewer pivots."""

from __future__ import annotations

import numpy as np
import pytest

from schemas.design import Design
from services.domain.organism import FastFBA
from services.predictor import moma as moma_module
from services.predictor.moma import LinearMoma
from services.predictor.prior import load_organism_model

STRAINS = [[], ["b0723"], ["b1380", "b2297"], ["b0903", "b4025"]]
GENES = ["b3956", "b0720", "b1136"]
LEVELS = [0.25, 0.5, 2.0, 4.0]


def _designs() -> list[Design]:
    rng = np.random.default_rng(3)
    return [Design(knockouts=STRAINS[int(rng.integers(len(STRAINS)))],
                   expression={g: float(rng.choice(LEVELS)) for g in GENES if rng.random() < 0.7})
            for _ in range(60)]


def _objective(moma: LinearMoma, design: Design, flux: np.ndarray) -> float:
    target = moma.reference(design).copy()
    for r, level in moma.organism.reaction_levels(moma.organism.gene_levels(design)).items():
        target[r] *= level
    return float(np.abs(flux - target).sum() + 1e-4 * np.abs(flux).sum())


def _solve_all(designs: list[Design]) -> tuple[LinearMoma, list[tuple[np.ndarray, bool]], int]:
    org = load_organism_model("textbook")
    moma = LinearMoma(org, FastFBA(org))
    pivots, out = 0, []
    for d in designs:
        lb, ub = org.design_bounds(d)
        out.append(moma.solve(d, lb, ub))
        pivots += moma._lp._highs.getInfo().simplex_iteration_count
    return moma, out, pivots


def test_strain_bases_give_each_designs_own_optimum_in_fewer_pivots(monkeypatch: pytest.MonkeyPatch) -> None:
    designs = _designs()
    moma, warm, pivots = _solve_all(designs)
    org = moma.organism
    for d, (flux, ok) in zip(designs, warm, strict=True):
        alone = LinearMoma(org, FastFBA(org))
        lb, ub = org.design_bounds(d)
        own, own_ok = alone.solve(d, lb, ub)
        assert ok == own_ok
        assert _objective(moma, d, flux) == pytest.approx(_objective(alone, d, own), rel=1e-7, abs=1e-7)
        assert np.abs(org.S @ flux).max() < 1e-6
    monkeypatch.setattr(moma_module, "STRAIN_BASES", 0)  # every basis dropped at once: the old warm start
    _, cold, cold_pivots = _solve_all(designs)
    assert pivots < cold_pivots
    assert [ok for _, ok in cold] == [ok for _, ok in warm]
