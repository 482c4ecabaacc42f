"""`fluxlab predictor fit | predict | evaluate` on CSV files, with ids the training file never had."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import numpy as np
from typer.testing import CliRunner

from services.predictor.cli import app
from services.predictor.tabular import load_dataset


def _split(path: Path, tmp: Path) -> tuple[Path, Path]:
    """Training file = strains g0..g17, test file = the other strains (knockouts A never had)."""
    lines = path.read_text().splitlines()
    header = lines[0].split(",")
    ko = [i for i, c in enumerate(header) if c.startswith("ko:")]

    def strain(line: str) -> int:
        cells = line.split(",")
        return next(j for j, i in enumerate(ko) if cells[i] == "1")

    a, b = tmp / "a.csv", tmp / "b.csv"
    a.write_text("\n".join([lines[0], *(x for x in lines[1:] if strain(x) < 18)]) + "\n")
    b.write_text("\n".join([lines[0], *(x for x in lines[1:] if strain(x) >= 18)]) + "\n")
    return a, b


def test_fit_predict_evaluate_on_files_with_unseen_knockouts(tmp_path: Path, keio_like: Any) -> None:
    a, b = _split(keio_like(tmp_path / "all.csv"), tmp_path)
    runner = CliRunner()
    model = tmp_path / "model.pt"
    fit = runner.invoke(app, ["fit", "--data", str(a), "--model", "mlp", "--ensemble", "3", "--out", str(model),
                              "--json"])
    assert fit.exit_code == 0, fit.output
    assert json.loads(fit.stdout)["n_rows"] == 18 * 12 and model.is_file()
    out = tmp_path / "pred.csv"
    pred = runner.invoke(app, ["predict", "--model", str(model), "--data", str(b), "--out", str(out), "--json"])
    assert pred.exit_code == 0, pred.output
    assert json.loads(pred.stdout)["unseen_rows"] == 6 * 12
    rows = list(csv.DictReader(out.open()))
    assert list(rows[0]) == ["id", "mean:growth", "sd:growth", "unseen"]
    assert len(rows) == 72 and all(r["unseen"].startswith("ko:g") for r in rows)
    assert all(float(r["sd:growth"]) > 0 for r in rows)
    ev = runner.invoke(app, ["evaluate", "--model", str(model), "--data", str(b), "--threshold", "0.4", "--json"])
    assert ev.exit_code == 0, ev.output
    doc = json.loads(ev.stdout)
    assert set(doc) >= {"q2", "q2_per_target", "roc_auc", "coverage68", "coverage95", "n_rows"}
    assert doc["n_rows"] == 72 and doc["threshold"] == 0.4 and doc["unseen_rows"] == 1.0
    assert doc["q2"] > 0.3 and doc["roc_auc"] > 0.7
    assert 0.85 <= doc["coverage95"] <= 1.0
    truth = load_dataset(b).y[:, 0]
    means = np.array([float(r["mean:growth"]) for r in rows])
    assert np.corrcoef(truth, means)[0, 1] > 0.5


def test_file_commands_refuse_bad_input_by_field(tmp_path: Path, keio_like: Any) -> None:
    runner = CliRunner()
    missing = runner.invoke(app, ["predict", "--model", str(tmp_path / "none.pt"), "--data", str(tmp_path / "x.csv"),
                                  "--out", str(tmp_path / "p.csv")])
    assert missing.exit_code == 2 and "model: no such model file" in missing.stderr
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a model")
    bad = runner.invoke(app, ["evaluate", "--model", str(junk), "--data", str(tmp_path / "x.csv"), "--json"])
    assert bad.exit_code == 2 and "not a fluxlab model file" in bad.stderr and bad.stdout == ""
    kind = runner.invoke(app, ["fit", "--data", str(keio_like(tmp_path / "k.csv", 4, 4)), "--model", "svm",
                               "--out", str(tmp_path / "m.pt")])
    assert kind.exit_code == 2 and "model: unknown model kind 'svm'" in kind.stderr
    assert "Traceback" not in missing.output + bad.output + kind.output
