"""Capacity caps of the MOMA prior: lowered enzyme levels cap fluxes; capacities estimated from measurements."""

from __future__ import annotations

import io

import numpy as np
import torch

from schemas.design import Design
from services.predictor.capacity import capacity_from_ratios, estimate_capacities
from services.predictor.deepmodel import DeepModel
from services.predictor.prior import MechanisticPrior

PPC_GENE = "b3956"


def _ppc_runs(core_organism, capacity: float, n: int = 40, seed: int = 0):  # type: ignore[no-untyped-def]
    """Runs lowering ppc (0.25 or 0.5) whose measured PPC flux sits at level x capacity (5 % noise)."""
    rng = np.random.default_rng(seed)
    levels = rng.choice([0.25, 0.5], size=n)
    designs = [Design(expression={PPC_GENE: float(f)}) for f in levels]
    names = ["growth", "PPC"]
    y = np.column_stack([np.full(n, 0.7), levels * capacity * (1 + 0.05 * rng.standard_normal(n))])
    idx = [core_organism.biomass_index, core_organism.reaction_index("PPC")]
    return designs, y, names, idx


def test_a_binding_pile_sets_the_capacity() -> None:
    rng = np.random.default_rng(0)
    binding = 3.0 * (1 + 0.04 * rng.standard_normal(40))
    free = rng.uniform(0.5, 2.0, 20)
    assert abs(capacity_from_ratios(np.concatenate([binding, free]), default=10.0) - 3.0) < 0.1


def test_without_a_pile_the_default_stays_unless_the_data_exceed_it() -> None:
    spread = np.linspace(0.1, 2.0, 40)
    assert capacity_from_ratios(spread, default=5.0) == 5.0
    assert capacity_from_ratios(spread, default=1.0) == float(np.quantile(spread, 0.9))


def test_few_runs_keep_the_default() -> None:
    assert capacity_from_ratios(np.array([1.0, 1.0, 1.0]), default=4.0) == 4.0


def test_moma_prior_caps_a_lowered_enzyme_level(core_organism) -> None:  # type: ignore[no-untyped-def]
    design = Design(expression={PPC_GENE: 0.25})
    r = core_organism.reaction_index("PPC")
    capped = MechanisticPrior(core_organism, method="moma", capacities={"PPC": 0.4}).compute([design])
    assert capped.feasible[0] and abs(capped.flux[0, r]) <= 0.25 * 0.4 + 1e-6
    assert np.linalg.norm(core_organism.S @ capped.flux[0]) < 1e-6
    free = MechanisticPrior(core_organism, method="moma", headroom=None).compute([design])
    assert abs(free.flux[0, r]) > 0.25 * 0.4 + 1e-3


def test_capacities_are_estimated_from_measured_fluxes(core_organism) -> None:  # type: ignore[no-untyped-def]
    designs, y, _, idx = _ppc_runs(core_organism, capacity=2.5)
    reference = MechanisticPrior(core_organism, method="moma").wild_type_reference()
    capacities = estimate_capacities(core_organism, designs, y, idx, reference, headroom=3.0)
    assert set(capacities) == {"PPC"}
    assert abs(capacities["PPC"] - 2.5) < 0.1


def test_hybrid_keeps_its_capacities_and_older_models_load_without_caps(core_organism) -> None:  # type: ignore[no-untyped-def]
    designs, y, names, _ = _ppc_runs(core_organism, capacity=2.5)
    model = DeepModel("hybrid", "textbook", ensemble=2, epochs=5)
    model.train(designs, y, names=names)
    assert set(model.capacities) == {"PPC"}
    again = DeepModel.from_bytes(model.to_bytes())
    assert again.capacities == model.capacities
    assert np.array_equal(again.predict(designs).mean, model.predict(designs).mean)
    payload = torch.load(io.BytesIO(model.to_bytes()), weights_only=True)
    for key in ("capacity_headroom", "fit_capacities"):
        del payload["config"][key]
    del payload["capacities"]
    buf = io.BytesIO()
    torch.save(payload, buf)
    older = DeepModel.from_bytes(buf.getvalue())
    assert older.config.capacity_headroom is None and older.capacities == {}
