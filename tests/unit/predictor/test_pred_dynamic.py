"""Model `dynamic`: the hybrid integrator learns batch curves of the dFBA true cell and gives bands."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from services.predictor.curve_metrics import curve_report
from services.predictor.dynamic import DynamicConfig, DynamicModel, integrate
from simulators.dfba import BatchCulture

SUBSTRATES = ["glc__D_e", "succ_e"]
TIMES = np.linspace(0.5, 12.0, 10)


@pytest.fixture(scope="module")
def curves() -> tuple[np.ndarray, np.ndarray]:
    culture = BatchCulture("textbook")
    rng = np.random.default_rng(0)
    init = rng.uniform(0.0, 10.0, (10, 2))
    y = np.array([np.log(culture.simulate(dict(zip(SUBSTRATES, row, strict=True)), TIMES).od(culture.kinetics))
                  for row in init])
    return init, y


def test_fit_learns_the_curves_and_gives_bands(curves: tuple[np.ndarray, np.ndarray]) -> None:
    torch.set_num_threads(1)
    init, y = curves
    model = DynamicModel(DynamicConfig(epochs=120, members=2, hidden=16, lr=0.03, device="cpu"))
    model.fit(SUBSTRATES, init, TIMES, y)
    pred = model.predict(init, TIMES)
    assert pred.mean.shape == y.shape and pred.members.shape == (2, *y.shape)
    assert np.all(pred.sd > 0) and np.all(np.isfinite(pred.mean))
    fitted = curve_report(TIMES, y, pred.mean, pred.sd)
    flat = curve_report(TIMES, y, np.repeat(y.mean(0, keepdims=True), len(y), 0))
    assert fitted["curve_r2_mean"] > max(0.6, flat["curve_r2_mean"])


def test_substrates_are_consumed_in_the_integrator() -> None:
    one = torch.ones(1, 1, 1)
    params = {"vmax": torch.full((1, 1, 1), 5.0), "lag": one * 0.5, "width": one * 0.2, "kd": one * 0.0,
              "r0": one * 10.0, "km": one * 0.1, "yield": one * 0.1, "kr": one * 0.01, "ln_x0": one * -2.0}
    out = integrate(params, torch.tensor([[[5.0]]]), np.array([1.0, 2.0, 20.0]))
    s = out["s"][0, 0, :, 0].numpy()
    assert s[0] > s[1] > s[2] >= 0.0 and s[2] < 0.05
    assert float(out["ln_x"][0, 0, -1]) > float(out["ln_x"][0, 0, 0])


def test_predict_refuses_wrong_columns(curves: tuple[np.ndarray, np.ndarray]) -> None:
    model = DynamicModel(DynamicConfig(epochs=2, members=1, hidden=4, device="cpu"))
    with pytest.raises(RuntimeError, match="not fitted"):
        model.predict(curves[0], TIMES)
    model.fit(SUBSTRATES, curves[0], TIMES, curves[1])
    with pytest.raises(ValueError, match="expected 2 substrate columns"):
        model.predict(np.zeros((1, 3)), TIMES)


def test_substrate_courses_enter_the_loss(curves: tuple[np.ndarray, np.ndarray]) -> None:
    torch.set_num_threads(1)
    init, y = curves
    untouched = np.repeat(init[:, None, :], len(TIMES), 1)  # courses saying the substrates are never consumed
    untouched[:, :, 1] = np.nan  # succinate not measured
    config = DynamicConfig(epochs=60, members=1, hidden=8, lr=0.05, device="cpu", concentration_weight=10.0)
    errors = {}
    for name, courses in (("with", untouched), ("without", None)):
        model = DynamicModel(config).fit(SUBSTRATES, init, TIMES, y, courses)
        errors[name] = float(np.abs(model.predict(init, TIMES).substrates[..., 0] - untouched[..., 0]).mean())
    assert errors["with"] < 0.5 * errors["without"]
    with pytest.raises(ValueError, match="concentrations: expected shape"):
        DynamicModel(config).fit(SUBSTRATES, init, TIMES, y, untouched[:, :3])
