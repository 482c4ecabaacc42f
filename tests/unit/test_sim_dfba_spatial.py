"""The colony on agar: diffusion operator, dFBA per grid point, conservation, sampled profiles."""

from __future__ import annotations

import numpy as np
import pytest

from services.domain.diffusion import Geometry, Grid
from simulators.dfba import BatchCulture, BatchKinetics
from simulators.dfba_spatial import AgarPlate, SpatialCulture, profile_arrays

TIMES = np.array([3.0, 6.0])
SMALL = AgarPlate(grid=Grid(cells=8, length_mm=6.0), dt_h=0.2)


@pytest.fixture(scope="module")
def colony() -> SpatialCulture:
    return SpatialCulture(BatchCulture("textbook"), SMALL)


@pytest.mark.parametrize("geometry", [Geometry.PLANAR, Geometry.RADIAL])
def test_diffusion_conserves_mass_and_flattens(geometry: Geometry) -> None:
    grid = Grid(cells=10, length_mm=5.0, geometry=geometry)
    c = np.zeros(10)
    c[0] = 1.0
    step = grid.implicit_step(2.0, 0.5)
    after = c
    for _ in range(200):
        after = step @ after
    assert grid.total(after) == pytest.approx(grid.total(c), rel=1e-9)
    assert np.ptp(after) < 1e-3 * after.mean()
    assert np.allclose(grid.laplacian() @ np.ones(10), 0.0)


def test_grid_refuses_bad_sizes() -> None:
    with pytest.raises(ValueError, match="cells"):
        Grid(cells=1)
    with pytest.raises(ValueError, match="length_mm"):
        Grid(length_mm=0.0)


def test_colony_grows_depletes_its_centre_and_spreads(colony: SpatialCulture) -> None:
    p = colony.simulate({"glc__D_e": 10.0}, TIMES)
    x, glc = p.biomass, p.concentrations["glc__D_e"]
    assert x[-1, 0] > 10 * SMALL.inoculum()[0]
    assert glc[-1, 0] < glc[-1, -1] < 10.0  # depleted at the colony, diffusing in from the rim
    assert x[-1, -1] / x[-1, 0] > SMALL.inoculum()[-1] / SMALL.inoculum()[0]  # the colony spread outwards
    assert p.concentrations["ac_e"].max() > 0.1  # overflow under the oxygen cap, as in batch


def test_without_diffusion_each_cell_is_a_batch_culture() -> None:
    kinetics = BatchKinetics(dt_h=0.2)
    culture = BatchCulture("textbook", kinetics)
    plate = AgarPlate(grid=Grid(cells=3, length_mm=3.0), diffusivity={"glc__D_e": 0.0, "ac_e": 0.0},
                      biomass_diffusivity=0.0, inoculum_peak_gdw=kinetics.inoculum_gdw, inoculum_radius_mm=1e6,
                      dt_h=0.2)
    spatial = SpatialCulture(culture, plate).simulate({"glc__D_e": 8.0}, TIMES)
    batch = culture.simulate({"glc__D_e": 8.0}, TIMES)
    assert np.allclose(spatial.biomass[:, 0], batch.biomass, rtol=1e-3)
    assert np.allclose(spatial.concentrations["glc__D_e"][:, 1], batch.concentrations["glc__D_e"], atol=1e-3)


def test_glucose_is_conserved_between_uptake_and_diffusion(colony: SpatialCulture) -> None:
    free = SpatialCulture(colony.culture, AgarPlate(grid=SMALL.grid, inoculum_peak_gdw=0.0, dt_h=0.2))
    p = free.simulate({"glc__D_e": 5.0}, TIMES)
    assert np.allclose(p.concentrations["glc__D_e"], 5.0)


def test_far_field_cells_share_lp_solves(colony: SpatialCulture) -> None:
    before = colony.lp_solves
    colony.simulate({"glc__D_e": 10.0}, TIMES)
    steps = int(TIMES[-1] / SMALL.dt_h)
    assert colony.lp_solves - before < steps * SMALL.grid.cells


def test_measure_publishes_profiles_with_positions(colony: SpatialCulture) -> None:
    m = colony.measure("c", "r1", {"glc__D_e": 10.0}, TIMES, np.random.default_rng(0))
    positions, times, od = profile_arrays(m, "od")
    assert np.allclose(positions, SMALL.grid.positions_mm) and np.allclose(times, TIMES)
    truth = colony.simulate({"glc__D_e": 10.0}, TIMES).od(colony.culture.kinetics.gdw_per_od)
    assert od.shape == truth.shape and np.abs(od - truth).max() < 0.2 * truth.max()
    assert m.time_courses["glc__D_e[0]"].position_mm == pytest.approx(SMALL.grid.positions_mm[0])
    with pytest.raises(ValueError, match="no spatial profile of readout 'xyl__D_e'"):
        profile_arrays(m, "xyl__D_e")
