"""Model `dynamic` that sees the design and predicts products: encoder inputs, Luedeking-Piret product states,
v3 model files (v2 still read) and the CLI's design columns and `--products`."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
import torch

from schemas import Design
from services.predictor.dynamic import DynamicConfig, DynamicModel
from services.predictor.dynamic_design import DesignEncoding
from services.predictor.dynamic_files import FORMAT, fit_file, load, load_with_encoding, predict_file, save
from services.predictor.dynamic_products import ProductDynamicModel
from services.predictor.errors import PredictorError
from simulators.batch_runs import BatchRuns
from simulators.cells import make_cell

TIMES = np.arange(0.0, 17.0, 2.0)
SMALL = DynamicConfig(epochs=250, members=2, hidden=16, lr=0.03, device="cpu", seed=0)
DESIGNS = [Design(), Design(knockouts=["b0723"]), Design(knockouts=["b1380"]), Design(knockouts=["b0723", "b1380"]),
           Design(knockouts=["b2297"]), Design(knockouts=["b0723", "b2297"]), Design(expression={"b3956": 2.0}),
           Design(knockouts=["b0723"], expression={"b3956": 2.0})]


@pytest.fixture(scope="module")
def cultures() -> dict[str, np.ndarray]:
    """The lab's true cell grows each design twice on 20 mM glucose (succinate followed)."""
    runs = BatchRuns(make_cell("textbook"))
    rng = np.random.default_rng(0)
    ln_od, succ, truth = [], [], []
    for d in DESIGNS * 2:
        culture = runs.culture()
        coupled = runs.coupled(d, ["succ_e"], ["glc__D_e"])
        curve = culture.simulate({"glc__D_e": 20.0}, TIMES, runs.regulated(d), coupled)
        od, conc = culture.sample(curve, rng)
        ln_od.append(np.log(od))
        succ.append(conc["succ_e"])
        truth.append(curve.concentrations["succ_e"])
    return {"ln_od": np.array(ln_od), "succ": np.array(succ), "truth": np.array(truth)}


@pytest.fixture(scope="module")
def fitted(cultures: dict[str, np.ndarray]) -> tuple[ProductDynamicModel, DesignEncoding]:
    torch.set_num_threads(1)
    encoding = DesignEncoding.of(DESIGNS)
    x = encoding.features(DESIGNS * 2)
    model = ProductDynamicModel(SMALL, ["succ_e"])
    model.fit_with_products(["glc__D_e"], np.full((16, 1), 20.0), TIMES, cultures["ln_od"], cultures["succ"][..., None],
                            x)
    return model, encoding


def test_design_features_are_knockouts_and_log2_expression() -> None:
    encoding = DesignEncoding.of(DESIGNS)
    assert encoding.knockouts == ("b0723", "b1380", "b2297") and encoding.genes == ("b3956",)
    x = encoding.features([Design(knockouts=["b1380"], expression={"b3956": 0.5})])
    assert x.tolist() == [[0.0, 1.0, 0.0, -1.0]]
    with pytest.raises(ValueError, match=r"design\.knockouts: .b9999. is not a knockout"):
        encoding.features([Design(knockouts=["b9999"])])
    assert DesignEncoding.from_json(encoding.to_json()) == encoding


def test_two_designs_on_one_medium_get_their_own_product_curves(
        fitted: tuple[ProductDynamicModel, DesignEncoding], cultures: dict[str, np.ndarray]) -> None:
    model, encoding = fitted
    x = encoding.features(DESIGNS)
    mean, sd, members = model.predict_products(np.full((8, 1), 20.0), TIMES, x)
    assert mean.shape == sd.shape == (8, len(TIMES), 1) and members.shape == (2, 8, len(TIMES), 1)
    assert np.all(sd > 0)
    final = mean[:, -1, 0]
    truth = cultures["truth"][:8, -1]
    assert truth[1] > 1.0 and truth[0] < 0.1  # sdhA knocked out secretes succinate, the wild type none
    assert final[1] > final[0] + 0.5  # and the model sees the difference
    assert np.corrcoef(final, truth)[0, 1] > 0.8
    curves = model.predict(np.full((8, 1), 20.0), TIMES, x)
    assert np.ptp(curves.mean[:, -1]) > 0  # the growth curves differ by design too
    with pytest.raises(ValueError, match="design: expected 8 x 4 features"):
        model.predict(np.full((8, 1), 20.0), TIMES)


def test_a_model_file_keeps_design_inputs_and_products_and_v2_files_still_load(
        fitted: tuple[ProductDynamicModel, DesignEncoding], tmp_path: Path) -> None:
    model, encoding = fitted
    save(model, tmp_path / "m.pt", TIMES, encoding)
    again, times, enc = load_with_encoding(tmp_path / "m.pt")
    assert isinstance(again, ProductDynamicModel) and enc == encoding and np.allclose(times, TIMES)
    x = encoding.features(DESIGNS)
    a = model.predict_products(np.full((8, 1), 20.0), TIMES, x)
    b = again.predict_products(np.full((8, 1), 20.0), TIMES, x)
    assert np.allclose(a[0], b[0], atol=1e-5) and np.allclose(a[1], b[1], atol=1e-5)
    assert torch.load(tmp_path / "m.pt", weights_only=False)["format"] == FORMAT == "fluxlab-dynamic-v3"
    plain = DynamicModel(SMALL).fit(["glc__D_e"], np.array([[5.0], [10.0], [15.0], [20.0]]), TIMES[:5],
                                    np.array([np.linspace(-3, v, 5) for v in (-1.0, 0.0, 0.5, 1.0)]))
    save(plain, tmp_path / "plain.pt", TIMES[:5])
    payload = torch.load(tmp_path / "plain.pt", weights_only=False)
    v2 = {k: v for k, v in payload.items() if k not in ("design", "products", "product_residual_var")}
    torch.save({**v2, "format": "fluxlab-dynamic-v2"}, tmp_path / "v2.pt")
    old, _ = load(tmp_path / "v2.pt")
    assert type(old) is DynamicModel and old.n_design == 0
    init = np.array([[7.0]])
    assert np.allclose(old.predict(init, TIMES[:5]).mean, plain.predict(init, TIMES[:5]).mean)


def _write_pair(folder: Path, cultures: dict[str, np.ndarray]) -> tuple[Path, Path]:
    curves, runs = folder / "curves.csv", folder / "runs.csv"
    with curves.open("w", newline="") as c, runs.open("w", newline="") as r:
        points, table = csv.writer(c), csv.writer(r)
        points.writerow(["run_id", "time_h", "y:ln_od", "y:succ_e"])
        table.writerow(["run_id", "init:glc__D_e", "ko", "expr:b3956"])
        for i, d in enumerate(DESIGNS * 2):
            table.writerow([f"r{i}", "20", ";".join(d.knockouts), d.expression.get("b3956", "")])
            points.writerows([f"r{i}", f"{t:g}", f"{y:.5f}", f"{p:.5f}"]
                             for t, y, p in zip(TIMES, cultures["ln_od"][i], cultures["succ"][i], strict=True))
    return curves, runs


def test_fit_and_predict_read_the_design_columns_and_products(cultures: dict[str, np.ndarray],
                                                              tmp_path: Path) -> None:
    curves, runs = _write_pair(tmp_path, cultures)
    report = fit_file(curves, runs, tmp_path / "m.pt", DynamicConfig(epochs=30, members=2, hidden=8, device="cpu"),
                      ["succ_e"])
    assert report["design_inputs"] == 4 and report["products"] == ["succ_e"]
    out = predict_file(tmp_path / "m.pt", runs, tmp_path / "p.csv", times=[0.0, 8.0, 16.0])
    rows = list(csv.DictReader((tmp_path / "p.csv").open()))
    assert out["n_runs"] == 16 and len(rows) == 48 and float(rows[-1]["sd:succ_e"]) > 0
    assert set(rows[0]) == {"run_id", "time_h", "mean:ln_od", "sd:ln_od", "mean:succ_e", "sd:succ_e"}
    with pytest.raises(PredictorError, match="--products: 'lac__D_e' has no y:lac__D_e column"):
        fit_file(curves, runs, tmp_path / "x.pt", DynamicConfig(epochs=2, members=2, device="cpu"), ["lac__D_e"])
    strange = tmp_path / "strange.csv"
    strange.write_text("run_id,init:glc__D_e,ko\nz1,20,b9999\n")
    with pytest.raises(PredictorError, match=r"--runs: design\.knockouts: .b9999."):
        predict_file(tmp_path / "m.pt", strange, tmp_path / "q.csv")
