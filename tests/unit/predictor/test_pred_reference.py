"""The MOMA prior's wild-type reference, anchored to measured wild-type runs."""

from __future__ import annotations

import numpy as np

from schemas.design import Design
from services.predictor.deepmodel import DeepModel
from services.predictor.prior import shared_prior
from services.predictor.reference import anchored_reference, is_wild_type


def _wild_type_data(organism, runs: int = 5):  # type: ignore[no-untyped-def]
    """Wild-type runs whose measured fluxes are another feasible state (pFBA without PGI), plus knockout runs."""
    other = shared_prior(organism, method="pfba").compute([Design(knockouts=["PGI"])]).flux[0]
    names = ["growth", "PGI", "PFK", "CS"]
    idx = [shared_prior(organism).flux_index(n) for n in names]
    designs = [Design()] * runs + [Design(knockouts=["b1852"])] * 3
    y = np.tile(other[idx], (len(designs), 1))
    y[runs:] = np.nan
    return designs, y, names, idx, other


def test_wild_type_is_the_unperturbed_design() -> None:
    assert is_wild_type(Design())
    assert not is_wild_type(Design(knockouts=["b1852"]))
    assert not is_wild_type(Design(expression={"b1852": 2.0}))


def test_reference_matches_measured_wild_type_and_is_mass_balanced(core_organism) -> None:  # type: ignore[no-untyped-def]
    designs, y, _, idx, measured = _wild_type_data(core_organism)
    ref = anchored_reference(core_organism, designs, y, idx)
    assert ref is not None
    assert np.allclose(ref[idx], measured[idx], atol=1e-6)
    assert np.linalg.norm(core_organism.S @ ref) < 1e-6


def test_too_few_wild_type_runs_means_no_anchor(core_organism) -> None:  # type: ignore[no-untyped-def]
    designs, y, _, idx, _ = _wild_type_data(core_organism, runs=2)
    assert anchored_reference(core_organism, designs, y, idx) is None


def test_hybrid_keeps_its_reference_through_serialisation(core_organism) -> None:  # type: ignore[no-untyped-def]
    designs, y, names, idx, measured = _wild_type_data(core_organism)
    model = DeepModel("hybrid", "textbook", ensemble=2, epochs=5)
    model.train(designs, y, names=names)
    assert model.reference is not None
    wild_type_prior = model.prior.compute([Design()]).flux[0]
    assert np.allclose(wild_type_prior[idx], measured[idx], atol=1e-4)
    again = DeepModel.from_bytes(model.to_bytes())
    assert again.reference is not None and np.array_equal(again.reference, model.reference)
    assert np.array_equal(again.predict(designs).mean, model.predict(designs).mean)
