"""`--tune`: network size chosen by inner CV on the training rows only (services/predictor/tuning.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from services.predictor import tuning
from services.predictor.cli import app
from services.predictor.errors import PredictorError
from services.predictor.files import evaluate_file, fit_file, predict_file
from services.predictor.tabular import load_dataset, run_cv
from services.predictor.tuning import TunedModel

FAST: dict[str, Any] = {"epochs": 120, "lr": 1e-2}
GRID: dict[str, dict[str, Any]] = {"useless": {"hidden": (1,), "epochs": 2}, "plain": {}}
"""A candidate that cannot learn (one hidden unit, two epochs) and one that can."""


def _write(path: Path, n: int = 60, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    lines = ["id,ko:g1,ko:g2,medium:EX_glc__D_e,y:growth"]
    for i in range(n):
        k1, k2, glc = (int(v) for v in rng.integers(0, 2, 3))
        growth = 0.8 - 0.3 * k1 - 0.2 * k2 + 0.3 * glc + rng.normal(0, 0.02)
        lines.append(f"r{i},{k1},{k2},{glc},{growth:.4f}")
    path.write_text("\n".join(lines) + "\n")
    return path


def test_inner_selection_never_sees_the_outer_test_fold(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tuning, "TUNE_GRID", GRID)
    seen: list[dict[str, set[int]]] = []
    inside = [False]  # the outer CV calls the same cross_validate: record only the inner ones
    inner_cv = tuning.metrics.cross_validate
    train, predict = TunedModel.train, TunedModel.predict

    def spy_train(self: TunedModel, X: Any, y: Any, **kw: Any) -> Any:
        seen.append({"train": {id(d) for d in X}, "inner": set(), "test": set()})
        inside[0] = True
        try:
            return train(self, X, y, **kw)
        finally:
            inside[0] = False

    def spy_inner(factory: Any, X: Any, y: Any, **kw: Any) -> Any:
        if inside[0]:
            seen[-1]["inner"] |= {id(d) for d in X}
        return inner_cv(factory, X, y, **kw)

    def spy_predict(self: TunedModel, X: Any, omics: Any = None) -> Any:
        seen[-1]["test"] |= {id(d) for d in X}
        return predict(self, X, omics)

    monkeypatch.setattr(TunedModel, "train", spy_train)
    monkeypatch.setattr(TunedModel, "predict", spy_predict)
    monkeypatch.setattr(tuning.metrics, "cross_validate", spy_inner)
    out = run_cv(_write(tmp_path / "d.csv"), folds=3, model="mlp", seed=0, ensemble=2, tune=True, **FAST)
    assert len(seen) == 3
    for fold in seen:
        assert fold["inner"] == fold["train"]  # the inner CV ran on exactly the outer training rows
        assert fold["test"] and not fold["test"] & fold["inner"]
    assert [f["chosen"] for f in out["tuned"]] == ["plain"] * 3
    assert all(set(f["inner_q2"]) == set(GRID) for f in out["tuned"])
    assert all(f["inner_q2"]["plain"] > f["inner_q2"]["useless"] for f in out["tuned"])
    assert out["q2"] > 0.8


def test_tuned_model_picks_the_best_inner_candidate_and_trains_it(tmp_path: Path) -> None:
    data = load_dataset(_write(tmp_path / "d.csv"))
    model = TunedModel("mlp", None, ensemble=2, seed=1, grid=GRID, **FAST)
    report = model.train(data.designs, data.y, names=data.names)
    assert model.chosen == "plain" and report["tuned"] == "plain"
    assert model.model is not None and model.model.config.hidden is None  # the kind's default width
    pred = model.predict(data.designs)
    assert pred.mean.shape == (len(data.designs), 1) and np.all(pred.sd > 0)


def test_tuned_model_refuses_too_few_rows_and_an_empty_grid(tmp_path: Path) -> None:
    data = load_dataset(_write(tmp_path / "d.csv", n=4))
    with pytest.raises(PredictorError, match="tune"):
        TunedModel("mlp", None, grid=GRID).train(data.designs, data.y, names=data.names)
    with pytest.raises(PredictorError, match="grid"):
        TunedModel("mlp", None, grid={})
    with pytest.raises(PredictorError, match="inner_folds"):
        TunedModel("mlp", None, inner_folds=1)


def test_fit_file_tune_saves_a_plain_model_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tuning, "TUNE_GRID", GRID)
    path = _write(tmp_path / "d.csv")
    out = tmp_path / "m.pt"
    summary = fit_file(path, out, model="mlp", ensemble=2, tune=True, **FAST)
    assert summary["tuned"] == "plain" and set(summary["inner_q2"]) == set(GRID)
    assert predict_file(out, path, tmp_path / "p.csv")["n_rows"] == 60
    assert evaluate_file(out, path)["q2"] > 0.8


def test_cli_cv_and_fit_tune(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tuning, "TUNE_GRID", GRID)
    path = _write(tmp_path / "d.csv", n=40)
    runner = CliRunner()
    cv = runner.invoke(app, ["cv", "--data", str(path), "--folds", "3", "--model", "mlp", "--ensemble", "2",
                             "--tune", "--json"])
    assert cv.exit_code == 0, cv.output
    assert len(json.loads(cv.stdout)["tuned"]) == 3
    plain = runner.invoke(app, ["cv", "--data", str(path), "--folds", "3", "--model", "mlp", "--ensemble", "2",
                                "--json"])
    assert "tuned" not in json.loads(plain.stdout)
    fit = runner.invoke(app, ["fit", "--data", str(path), "--model", "mlp", "--ensemble", "2", "--tune",
                              "--out", str(tmp_path / "m.pt"), "--json"])
    assert fit.exit_code == 0, fit.output
    assert json.loads(fit.stdout)["tuned"] in GRID


def test_cli_hidden_and_dropout_options(tmp_path: Path) -> None:
    path = _write(tmp_path / "d.csv", n=40)
    runner = CliRunner()
    out = tmp_path / "m.pt"
    fit = runner.invoke(app, ["fit", "--data", str(path), "--model", "mlp", "--ensemble", "2", "--hidden", "16,8",
                              "--dropout", "0.1", "--out", str(out), "--json"])
    assert fit.exit_code == 0, fit.output
    from services.predictor.deepmodel import DeepModel

    saved = DeepModel.load(out).config
    assert saved.hidden == (16, 8) and saved.dropout == 0.1
    bad = runner.invoke(app, ["cv", "--data", str(path), "--model", "mlp", "--hidden", "a,b", "--json"])
    assert bad.exit_code == 2 and "--hidden" in bad.stderr
    bad = runner.invoke(app, ["cv", "--data", str(path), "--model", "mlp", "--dropout", "1.5", "--json"])
    assert bad.exit_code == 2 and "--dropout" in bad.stderr
