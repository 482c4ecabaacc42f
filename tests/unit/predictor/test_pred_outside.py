"""Ids outside the organism model in a data file: an error by default, plain tabular inputs with `raw`."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from schemas.design import Design
from services.predictor.cli import app
from services.predictor.deepmodel import DeepModel
from services.predictor.outside import outside_ids, without_outside
from services.predictor.prior import load_organism_model
from services.predictor.tabular import TabularError, load_dataset, run_cv


def _csv(path: Path) -> Path:
    """textbook knockouts plus one made-up knockout and one made-up medium component (effect on growth)."""
    rng = np.random.default_rng(0)
    lines = ["ko:PGI,ko:PFK,ko:ko_made_up,medium:EX_made_up_e,y:growth"]
    for _ in range(40):
        pgi, pfk, fake, med = (int(v) for v in rng.integers(0, 2, size=4))
        growth = 0.8 - 0.2 * pgi - 0.1 * pfk - 0.3 * fake + 0.02 * med + rng.normal(0, 0.01)
        lines.append(f"{pgi},{pfk},{fake},{med},{growth:.4f}")
    path.write_text("\n".join(lines) + "\n")
    return path


def test_outside_ids_are_found_and_stripped_for_the_network() -> None:
    org = load_organism_model("textbook")
    designs = [Design(knockouts=["PGI", "xx"], medium={"EX_glc__D_e": 10.0, "EX_yy_e": 1.0}),
               Design(expression={"zz": 2.0})]
    found = outside_ids(designs, org)
    assert found == ["expr:zz", "ko:xx", "medium:EX_yy_e"]
    seen = without_outside(designs[0], found)
    assert seen.knockouts == ["PGI"] and seen.medium == {"EX_glc__D_e": 10.0}
    assert without_outside(designs[0], []) is designs[0]


def test_default_is_an_error_naming_the_field(tmp_path: Path) -> None:
    path = _csv(tmp_path / "d.csv")
    with pytest.raises(TabularError, match=r"row \d+, design\.(knockouts\[\d\]|medium\.EX_made_up_e)"):
        run_cv(path, folds=2, model="hybrid", organism="textbook", ensemble=1, epochs=5)
    with pytest.raises(TabularError, match="outside_ids: unknown mode"):
        run_cv(path, folds=2, model="mlp", outside_ids="drop")


def test_raw_keeps_them_as_tabular_inputs_outside_the_prior(tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    path = _csv(tmp_path / "d.csv")
    out = run_cv(path, folds=2, model="hybrid", organism="textbook", ensemble=2, epochs=60, outside_ids="raw",
                 prior="pfba")
    assert out["outside_ids"] == ["ko:ko_made_up", "medium:EX_made_up_e"]
    err = capsys.readouterr().err
    assert err.count("warning: 2 ids outside the organism model") == 1 and "ko:ko_made_up" in err
    assert np.isfinite(out["q2"])
    data = load_dataset(path)
    model = DeepModel("hybrid", "textbook", ensemble=1, epochs=30, prior="pfba", outside_ids=out["outside_ids"])
    model.train(data.designs, data.y, names=data.names)
    assert model.features is not None and "ko:ko_made_up" in model.features.columns  # a plain input column
    blob = DeepModel.from_bytes(model.to_bytes())
    d = Design(knockouts=["PGI", "ko_made_up"])
    assert np.allclose(blob.predict([d]).mean, model.predict([d]).mean)
    # the prior sees the design without the outside id: the same prior as PGI alone
    prior = model.prior.compute(model.network_designs([d, Design(knockouts=["PGI"])]))
    assert np.allclose(prior.flux[0], prior.flux[1])


def test_cli_outside_ids_raw_prints_json_and_warns(tmp_path: Path) -> None:
    path = _csv(tmp_path / "d.csv")
    fail = CliRunner().invoke(app, ["cv", "--data", str(path), "--folds", "2", "--model", "hybrid",
                                    "--organism", "textbook", "--json"])
    assert fail.exit_code == 2 and "ko_made_up" in fail.stderr + fail.stdout and "Traceback" not in fail.stdout
    out = tmp_path / "m.pt"
    res = CliRunner().invoke(app, ["fit", "--data", str(path), "--model", "mlp", "--organism", "textbook",
                                   "--outside-ids", "raw", "--ensemble", "1", "--out", str(out), "--json"])
    assert res.exit_code == 0, res.stdout + res.stderr
    assert json.loads(res.stdout)["outside_ids"] == ["ko:ko_made_up", "medium:EX_made_up_e"]
    assert "warning: 2 ids outside" in res.stderr


def test_cli_prior_option_reaches_the_model(tmp_path: Path) -> None:
    path = _csv(tmp_path / "d.csv")
    bad = CliRunner().invoke(app, ["fit", "--data", str(path), "--model", "hybrid", "--organism", "textbook",
                                   "--outside-ids", "raw", "--prior", "fva", "--out", str(tmp_path / "x.pt")])
    assert bad.exit_code == 2 and "--prior: unknown prior 'fva'" in bad.stderr and "Traceback" not in bad.stdout
    out = tmp_path / "m.pt"
    res = CliRunner().invoke(app, ["fit", "--data", str(path), "--model", "hybrid", "--organism", "textbook",
                                   "--outside-ids", "raw", "--prior", "pfba", "--ensemble", "1", "--out", str(out),
                                   "--json"])
    assert res.exit_code == 0, res.stdout + res.stderr
    assert DeepModel.from_bytes(out.read_bytes()).config.prior == "pfba"
