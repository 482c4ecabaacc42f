"""Model `dynamic`: the hybrid integrator learns batch curves of the dFBA true cell and gives bands."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from services.predictor.curve_metrics import curve_report
from services.predictor.dynamic import DynamicConfig, DynamicModel, _BatchedLinear, _Kinetics, integrate
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


def test_bounded_kinetics_stay_within_their_span_of_the_global_constants() -> None:
    torch.manual_seed(0)
    net = _Kinetics(3, 4, 2, 8, parametrisation="bounded", span=0.5)
    with torch.no_grad():
        for layer in net.encoder:
            if isinstance(layer, _BatchedLinear):
                layer.weight.normal_(0.0, 5.0)  # an encoder far from its start: outputs saturate
        p = net(torch.randn(3, 6, 4) * 10.0)
    for name, log_global in (("vmax", net.log_vmax), ("lag", net.log_lag), ("kd", net.log_kd)):
        ratio = (torch.log(p[name]) - log_global).detach()
        assert float(ratio.abs().max()) <= 0.5 + 1e-5, name
    assert float(p["vmax"].detach().std()) > 0  # the medium still moves them
    with pytest.raises(ValueError, match="parametrisation: expected"):
        _Kinetics(1, 4, 2, 8, parametrisation="other")


def test_bounded_kinetics_start_at_the_global_constants() -> None:
    net = _Kinetics(2, 4, 2, 8, parametrisation="bounded")
    p = net(torch.randn(2, 5, 4))
    assert torch.allclose(p["vmax"], net.log_vmax.exp().expand_as(p["vmax"]), rtol=0.05)


def test_each_member_holds_out_its_own_runs_and_keeps_its_best_epoch(curves: tuple[np.ndarray, np.ndarray]
                                                                      ) -> None:
    torch.set_num_threads(1)
    init, y = curves
    config = DynamicConfig(epochs=40, members=2, hidden=8, lr=0.03, device="cpu", holdout=0.3, dropout=0.0,
                           parametrisation="bounded", select_epoch=True)
    model = DynamicModel(config)
    train, val = model._holdout_weights(len(y))
    assert val is not None and torch.all(train + val == 1.0)
    assert [int(v) for v in val.sum((1, 2))] == [3, 3] and not torch.equal(val[0], val[1])
    assert DynamicModel(DynamicConfig(holdout=0.0))._holdout_weights(10)[1] is None
    model.fit(SUBSTRATES, init, TIMES, y)
    again = DynamicModel(config).fit(SUBSTRATES, init, TIMES, y)
    pred = model.predict(init, TIMES)
    assert np.allclose(pred.mean, again.predict(init, TIMES).mean)
    # the bands are sized by the members' error on the runs they held out, never below the training residuals
    held = val[..., 0].numpy().astype(bool)
    member_mse = float(((pred.members - y[None]) ** 2)[held].mean())
    spread = float(np.broadcast_to(pred.members.var(0), pred.members.shape)[held].mean())
    assert model.residual_var == pytest.approx(max(member_mse - spread, float(((y - pred.mean) ** 2).mean())),
                                               rel=1e-4)
    # only the member whose held-out loss improved has its parameters copied
    assert model.net is not None
    kept = {k: v.clone() for k, v in model.net.state_dict().items()}
    with torch.no_grad():
        model.net.ln_x0.add_(1.0)
    best = torch.tensor([0.5, 0.5])
    model._keep_best(torch.tensor([0.4, 0.6]), best, kept)
    assert torch.allclose(best, torch.tensor([0.4, 0.5]))
    assert torch.equal(kept["ln_x0"][0], model.net.ln_x0[0]) and not torch.equal(kept["ln_x0"][1], model.net.ln_x0[1])


def test_slope_term_weights_the_exponential_phase(curves: tuple[np.ndarray, np.ndarray]) -> None:
    torch.set_num_threads(1)
    init, y = curves
    base = DynamicConfig(epochs=30, members=1, hidden=8, lr=0.03, device="cpu", parametrisation="bounded")
    plain = DynamicModel(base).fit(SUBSTRATES, init, TIMES, y).predict(init, TIMES).mean
    sloped = DynamicModel(replace(base, slope_weight=5.0)).fit(SUBSTRATES, init, TIMES, y).predict(init, TIMES).mean
    assert not np.allclose(plain, sloped)
    slope_error = lambda pred: float(np.abs(np.diff(pred, axis=1) - np.diff(y, axis=1)).mean())  # noqa: E731
    assert slope_error(sloped) <= slope_error(plain) * 1.05
