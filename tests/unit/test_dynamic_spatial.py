"""The dynamic model's learned kinetics on a grid: reduces to the batch integrator, diffuses, bands."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from services.domain.diffusion import Grid
from services.predictor.curve_metrics import band_coverage, profile_r2
from services.predictor.dynamic import DynamicConfig, DynamicModel, _BatchedLinear, _rates
from services.predictor.dynamic_spatial import SpatialSetup, predict_profiles, spatial_rates

SUBSTRATES = ["glc__D_e", "succ_e"]
TIMES = np.linspace(1.0, 10.0, 6)
GRID = Grid(cells=6, length_mm=4.0)


def _fit(members: int) -> DynamicModel:
    rng = np.random.default_rng(0)
    init = rng.uniform(0.5, 3.0, (8, 2))
    ln_od = -3.0 + np.log1p(np.outer(init.sum(1), 1 - np.exp(-TIMES / 4.0)))
    return DynamicModel(DynamicConfig(members=members, epochs=5, hidden=8, seed=0)).fit(SUBSTRATES, init, TIMES,
                                                                                          ln_od)


@pytest.fixture(scope="module")
def model() -> DynamicModel:
    return _fit(members=2)


def _setup(model: DynamicModel, inoculum: np.ndarray) -> SpatialSetup:
    return SpatialSetup(GRID, {"glc__D_e": 2.4, "succ_e": 2.8}, 0.01, inoculum)


def test_spatial_rates_are_the_batch_rates() -> None:
    torch.manual_seed(0)
    p = {"lag": torch.rand(1, 3, 1), "width": torch.rand(1, 3, 1) + 0.2, "vmax": torch.rand(1, 3, 2),
         "km": torch.rand(1, 1, 2), "kr": torch.rand(1, 1, 1), "yield": torch.rand(1, 1, 2), "kd": torch.rand(1, 3, 1)}
    ln_x, s, r = torch.randn(1, 3, 1).clamp(max=1.5), torch.rand(1, 3, 2) * 5, torch.rand(1, 3, 1)
    for batch, spatial in zip(_rates(p, 1.3, ln_x, s, r), spatial_rates(p, 1.3, ln_x.exp(), s, r), strict=True):
        assert torch.allclose(batch, spatial, atol=1e-6)


def test_without_transport_a_uniform_plate_is_the_batch_culture() -> None:
    single = _fit(members=1)
    assert single.net is not None
    x0 = float(single.net.ln_x0.detach().exp())
    init = np.array([[1.0, 0.5], [0.0, 2.0]])
    prof = predict_profiles(single, init, _setup(single, np.full(GRID.cells, x0)), TIMES, diffusion=False)
    batch = single.predict(init, TIMES)
    assert np.allclose(np.log(prof.od[:, :, 0]), batch.mean, atol=1e-4)
    assert np.allclose(prof.od[:, :, 0], prof.od[:, :, -1])


def test_a_relative_inoculum_sits_on_each_members_batch_inoculum(model: DynamicModel) -> None:
    assert model.net is not None
    x0 = model.net.ln_x0.detach().exp().numpy().ravel()
    ratio = np.linspace(3.0, 0.5, GRID.cells)
    setup = SpatialSetup(GRID, {"glc__D_e": 2.4, "succ_e": 2.8}, 0.01, ratio, relative_inoculum=True)
    prof = predict_profiles(model, np.array([[1.0, 1.0]]), setup, np.array([1e-3]), diffusion=False)
    assert np.allclose(prof.members[:, 0, 0], x0[:, None] * ratio, rtol=1e-2)


def test_a_colony_grows_at_its_centre_and_bands_hold_the_mean(model: DynamicModel) -> None:
    inoculum = 0.1 * np.exp(-GRID.positions_mm**2)
    init = np.array([[2.0, 1.0]])
    prof = predict_profiles(model, init, _setup(model, inoculum), TIMES)
    assert prof.od.shape == (1, len(TIMES), GRID.cells) and prof.substrates.shape == (1, len(TIMES), GRID.cells, 2)
    assert prof.od[0, -1, 0] > prof.od[0, -1, -1]
    assert np.all(prof.lower <= prof.od * 1.0001) and np.all(prof.od <= prof.upper * 1.0001)
    still = predict_profiles(model, init, _setup(model, inoculum), TIMES, diffusion=False)
    assert not np.allclose(prof.substrates, still.substrates)


def test_a_dense_colony_grows_only_on_the_substrate_it_holds() -> None:
    fast = _fit(members=1)
    assert fast.net is not None
    with torch.no_grad():  # fast uptake, no lag, no death, yield 0.5 OD/mM: one explicit step would overshoot
        last = fast.net.encoder[-1]
        assert isinstance(last, _BatchedLinear)
        last.weight.zero_()
        last.bias.zero_()  # every medium at the global constants
        fast.net.log_vmax.fill_(np.log(20.0))
        fast.net.log_lag.fill_(np.log(0.0025))
        fast.net.log_width.fill_(np.log(0.157))
        fast.net.log_kd.fill_(np.log(1e-7))
        fast.net.log_yield.fill_(np.log(0.5))
    dense = np.full(GRID.cells, 50.0)
    prof = predict_profiles(fast, np.array([[0.5, 0.0]]), _setup(fast, dense), TIMES, diffusion=False)
    assert np.all(prof.od[0, -1] - dense <= 1.05 * 0.5 * 0.5)
    assert np.all(prof.od[0, -1] - dense > 0.5 * 0.5 * 0.5)
    assert np.all(prof.substrates >= 0.0)


def test_bad_inputs_name_the_field(model: DynamicModel) -> None:
    with pytest.raises(ValueError, match="inoculum_od"):
        SpatialSetup(GRID, {}, 0.0, np.ones(3))
    with pytest.raises(ValueError, match="init"):
        predict_profiles(model, np.ones((1, 3)), _setup(model, np.ones(GRID.cells)), TIMES)
    with pytest.raises(ValueError, match="diffusivity: no diffusion coefficient for succ_e"):
        predict_profiles(model, np.ones((1, 2)), SpatialSetup(GRID, {"glc__D_e": 1.0}, 0.0, np.ones(GRID.cells)), TIMES)


def test_profile_metrics() -> None:
    true = np.array([[[0.0, 1.0, 2.0], [1.0, 1.0, 1.0]]])
    assert profile_r2(true, true)[0] == pytest.approx(1.0)
    assert profile_r2(true, -true)[0] == 0.0
    assert band_coverage(true, true - 0.1, true + 0.1, true > 0.5) == 1.0
