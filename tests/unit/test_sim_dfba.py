"""The dFBA batch culture: substrate depletion, overflow acetate, lag, death, sampled courses."""

from __future__ import annotations

import numpy as np
import pytest

from schemas import Design
from simulators.dfba import BatchCulture, BatchKinetics

TIMES = np.linspace(0.5, 16.0, 12)


@pytest.fixture(scope="module")
def culture() -> BatchCulture:
    return BatchCulture("textbook")


def test_glucose_is_consumed_acetate_overflows_then_growth_stops(culture: BatchCulture) -> None:
    curve = culture.simulate({"glc__D_e": 20.0}, TIMES)
    glc, ac = curve.concentrations["glc__D_e"], curve.concentrations["ac_e"]
    assert glc[0] > 19.0 and glc[-1] < 0.01
    assert ac.max() > 1.0  # overflow under the oxygen-transfer limit
    assert np.all(np.diff(glc) <= 1e-9)
    assert curve.biomass.max() > 20 * curve.biomass[0]
    assert abs(curve.growth[-1]) < 0.05


def test_lag_slows_the_start_and_death_lowers_the_plateau(culture: BatchCulture) -> None:
    base = culture.simulate({"glc__D_e": 10.0}, TIMES)
    lagged = BatchCulture(culture.organism, BatchKinetics(lag_h=4.0)).simulate({"glc__D_e": 10.0}, TIMES)
    dying = BatchCulture(culture.organism, BatchKinetics(death=0.1)).simulate({"glc__D_e": 10.0}, TIMES)
    assert lagged.biomass[2] < base.biomass[2]
    assert dying.biomass[-1] < 0.7 * base.biomass[-1]


def test_a_lethal_knockout_does_not_grow(culture: BatchCulture) -> None:
    curve = culture.simulate({"glc__D_e": 10.0}, TIMES, Design(knockouts=["PGK"]))
    assert curve.biomass[-1] <= curve.biomass[0]


def test_measure_yields_a_valid_measurement_with_noise(culture: BatchCulture) -> None:
    m = culture.measure("c", "r1", {"glc__D_e": 10.0, "succ_e": 5.0}, TIMES, np.random.default_rng(0))
    assert set(m.time_courses) == {"ln_od", "glc__D_e", "succ_e", "ac_e"}
    truth = np.log(culture.simulate({"glc__D_e": 10.0, "succ_e": 5.0}, TIMES).od(culture.kinetics))
    measured = np.array(m.time_courses["ln_od"].values)
    assert 0 < np.abs(measured - truth).max() < 0.3


def test_unknown_medium_component_is_refused(culture: BatchCulture) -> None:
    with pytest.raises(ValueError, match="no exchange for unobtainium_e"):
        culture.simulate({"unobtainium_e": 1.0}, TIMES)
