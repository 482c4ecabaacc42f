"""Model `dynamic` from files: fit a curves/runs pair, save, predict (measured or never-grown media), evaluate."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from services.predictor.dynamic import DynamicConfig
from services.predictor.dynamic_files import FORMAT, evaluate_file, fit_file, load, predict_file, save
from services.predictor.errors import PredictorError
from simulators.dfba import BatchCulture

TIMES = np.linspace(0.5, 12.0, 8)
SMALL = DynamicConfig(epochs=60, members=2, hidden=16, lr=0.03, device="cpu")


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Eight dFBA batch cultures on glucose and succinate, written as docs/dynamic.md's two tables."""
    culture = BatchCulture("textbook")
    rng = np.random.default_rng(0)
    folder = tmp_path_factory.mktemp("curves")
    curves, runs = folder / "curves.csv", folder / "runs.csv"
    with curves.open("w", newline="") as c, runs.open("w", newline="") as r:
        points, media = csv.writer(c), csv.writer(r)
        points.writerow(["run_id", "time_h", "y:ln_od"])
        media.writerow(["run_id", "init:glc__D_e", "init:succ_e"])
        for i, (glc, succ) in enumerate(rng.uniform(0.0, 10.0, (8, 2))):
            od = culture.simulate({"glc__D_e": glc, "succ_e": succ}, TIMES).od(culture.kinetics)
            media.writerow([f"r{i}", f"{glc:.4f}", f"{succ:.4f}"])
            points.writerows([f"r{i}", f"{t:g}", f"{np.log(v):.6f}"] for t, v in zip(TIMES, od, strict=True))
    return curves, runs


def test_fit_save_predict_and_evaluate_round_trip(pair: tuple[Path, Path], tmp_path: Path) -> None:
    torch.set_num_threads(1)
    curves, runs = pair
    fitted = fit_file(curves, runs, tmp_path / "m.pt", SMALL)
    assert fitted["n_runs"] == 8 and fitted["substrates"] == ["glc__D_e", "succ_e"]
    report = evaluate_file(tmp_path / "m.pt", curves, runs)
    assert set(report) >= {"curve_r2_mean", "final_r2", "mu_max_r2", "coverage95", "n_runs"}
    assert report["n_runs"] == 8 and report["curve_r2_mean"] == pytest.approx(fitted["train_curve_r2_mean"])
    out = predict_file(tmp_path / "m.pt", runs, tmp_path / "p.csv", curves=curves)
    rows = list(csv.DictReader((tmp_path / "p.csv").open()))
    assert out["n_points"] == len(rows) == 8 * len(TIMES) and float(rows[0]["sd:ln_od"]) > 0
    model, times = load(tmp_path / "m.pt")
    assert np.allclose(times, TIMES) and model.substrates == ["glc__D_e", "succ_e"]


def test_media_never_grown_are_predicted_and_unknown_substrates_refused(pair: tuple[Path, Path],
                                                                       tmp_path: Path) -> None:
    curves, runs = pair
    fit_file(curves, runs, tmp_path / "m.pt", SMALL)
    new = tmp_path / "new.csv"
    new.write_text("run_id,init:glc__D_e\nfresh,4.0\n")
    out = predict_file(tmp_path / "m.pt", new, tmp_path / "p.csv", times=[1.0, 2.0, 4.0])
    assert out == {"model": "dynamic", "n_runs": 1, "n_points": 3, "out": str(tmp_path / "p.csv")}
    odd = tmp_path / "odd.csv"
    odd.write_text("run_id,init:xyl__D_e\nx,4.0\n")
    with pytest.raises(PredictorError, match="init:xyl__D_e is not a substrate"):
        predict_file(tmp_path / "m.pt", odd, tmp_path / "p.csv")


def test_cli_time_course_errors_are_one_line(pair: tuple[Path, Path], tmp_path: Path) -> None:
    curves, runs = pair

    def fluxlab(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "services.cli", "predictor", *args],
                              capture_output=True, text=True, timeout=120)
    wrong = fluxlab("fit", "--data", str(curves), "--runs", str(runs), "--model", "mlp", "--out", "x.pt")
    assert wrong.returncode == 2 and wrong.stderr.strip() == \
        "error: --runs: time courses go with --model dynamic, not 'mlp'"
    missing = fluxlab("evaluate", "--model", str(tmp_path / "none.pt"), "--data", str(curves), "--runs", str(runs),
                      "--json")
    assert missing.returncode == 2 and "is not a model file" in missing.stderr and "Traceback" not in missing.stderr
    assert missing.stdout == ""  # --json prints nothing but the error on stderr


def test_version_1_files_still_load_and_unknown_versions_are_refused(pair: tuple[Path, Path], tmp_path: Path) -> None:
    torch.set_num_threads(1)
    curves, runs = pair
    from dataclasses import asdict, replace

    from services.predictor.dynamic import DynamicModel
    from services.predictor.dynamic_eval import load_curves
    data = load_curves(curves, runs)
    old = DynamicModel(replace(SMALL, epochs=5, parametrisation="free")).fit(data.substrates, data.init, data.times,
                                                                             data.ln_od)
    save(old, tmp_path / "v2.pt", data.times)
    payload = torch.load(tmp_path / "v2.pt", weights_only=False)
    v1_config = {k: v for k, v in asdict(old.config).items()
                 if k not in ("parametrisation", "span", "slope_weight", "holdout", "eval_every")}
    torch.save({**payload, "format": "fluxlab-dynamic-v1", "config": v1_config}, tmp_path / "v1.pt")
    model, _ = load(tmp_path / "v1.pt")
    assert model.config.parametrisation == "free"
    assert np.allclose(model.predict(data.init, data.times).mean, old.predict(data.init, data.times).mean)
    assert payload["format"] == FORMAT
    torch.save({**payload, "format": "fluxlab-dynamic-v9"}, tmp_path / "v9.pt")
    with pytest.raises(PredictorError, match="is a fluxlab-dynamic-v9 file; this version reads"):
        load(tmp_path / "v9.pt")
