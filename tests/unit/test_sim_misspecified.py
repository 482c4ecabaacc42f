"""Truths the planning model does not describe: the kinetic pathway cell and the misregulated profile."""

from __future__ import annotations

import numpy as np
import pytest

from schemas import Design
from simulators.cells import make_cell, truth_version
from simulators.functions import BUILTINS
from simulators.kinetic import PATHWAY, KineticCell, _steady_state
from simulators.profiles import SUCCINATE_GENES, get_profile

PATHWAY_GENES = ["b3956", "b3236", "b1612", "b4154", "b4151", "b3528"]


def test_steady_state_balances_every_step() -> None:
    vmax, km, ki = np.array([3.0, 2.0, 4.0, 1.0]), np.array([0.5, 0.3, 0.8, 0.4]), np.array([2.0, 1.0, 3.0, 1.5])
    flux, pools = _steady_state(vmax, km, ki, source=1.0, export=2.0)
    assert 0.0 < flux < vmax.min()
    first = vmax[0] * 1.0 / (km[0] + 1.0) / (1.0 + pools[0] / ki[0])
    rates = [first] + [vmax[i] * pools[i - 1] / (km[i] + pools[i - 1]) / (1.0 + pools[i] / ki[i])
                       for i in range(1, len(vmax))]
    assert rates == pytest.approx([flux] * len(vmax), rel=1e-6)
    assert pools[-1] == pytest.approx(flux / 2.0)


def test_kinetic_flux_saturates_and_burden_costs() -> None:
    km, ki = np.array([0.5, 0.3, 0.8]), np.array([2.0, 1.0, 3.0])
    fluxes = [_steady_state(np.array([3.0, v, 4.0]), km, ki, 1.0, 2.0)[0] for v in (1.0, 2.0, 3.0, 4.0, 5.0, 6.0)]
    gains = np.diff(fluxes)
    assert np.all(gains > 0) and np.all(gains[1:] < gains[:-1])  # diminishing returns per unit of one enzyme
    cell = KineticCell()
    _, growth_one, _ = cell.pathway({"b4151": 4.0})
    _, growth_more, _ = cell.pathway({"b4151": 4.0, "b3236": 4.0, "b3528": 4.0})
    assert growth_more < growth_one  # over-expressing steps that are not short is a burden


def test_kinetic_cell_reverses_the_linear_intuition() -> None:
    cell = make_cell("textbook", "kinetic")
    assert isinstance(cell, KineticCell)
    all_up = cell.respond(Design(expression={g: 4.0 for g in PATHWAY_GENES})).exchange["EX_succ_e"]
    balanced = cell.respond(Design(expression={"b3956": 0.25, "b1612": 2.0, "b4154": 2.0, "b4151": 4.0,
                                               "b3528": 2.0})).exchange["EX_succ_e"]
    assert balanced > 10 * all_up
    state = cell.respond(Design(expression={"b4151": 4.0}))
    assert state.status == "ok" and state.flux("EX_succ_e") == state.exchange["EX_succ_e"]
    assert {g for step in PATHWAY for g in step} >= set(PATHWAY_GENES)
    assert truth_version("kinetic") and truth_version("default") is None


def test_misregulated_profile_hits_the_campaign_genes_hard() -> None:
    cell = make_cell("textbook", "misregulated")
    effects = cell.effects
    assert len(effects) == 36
    assert all(abs(np.log(e.factor)) >= 1.0 - 1e-9 for e in effects)
    targeted = [e for e in effects if e.target in SUCCINATE_GENES]
    assert len(targeted) >= len(effects) // 2
    assert get_profile("misregulated").targets_preferred and not get_profile("default").targets_preferred


@pytest.mark.parametrize("name", ["ackley10", "rastrigin10", "levy10", "rosenbrock10"])
def test_ten_d_functions_peak_at_zero(name: str) -> None:
    known = BUILTINS[name]
    assert callable(known.expression) and len(known.bounds) == 10
    assert known.expression(known.argopt) == pytest.approx(0.0, abs=1e-9)
    rng = np.random.default_rng(0)
    for _ in range(20):
        point = {k: float(rng.uniform(lo, hi)) for k, (lo, hi) in known.bounds.items()}
        assert known.expression(point) < 0.0
