"""Dataset CSV loading, row-level errors, cross-validation and the `predictor` CLI."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from services.predictor.cli import app
from services.predictor.tabular import TabularError, load_dataset, presence_uptake, run_cv

SHARED = Path(os.environ.get("FLUXLAB_SHARED_DIR", Path(__file__).resolve().parents[4] / "shared"))
"""`shared/` lies beside the checkout (in development and in CI); a user's clone has none."""
AMN_CSV = SHARED / "data" / "amn_library_280media" / "ecoli_280media_growth_with_published_preds.csv"


def _write_dataset(path: Path, n: int = 80, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    lines = ["id,ko:g1,ko:g2,expr:e1,medium:EX_glc__D_e,group:batch,y:growth,sd:growth,y:flux:PGI"]
    for i in range(n):
        k1, k2 = rng.integers(0, 2, 2)
        e = rng.uniform(-1, 1)
        glc = int(rng.integers(0, 2))
        growth = 0.8 - 0.3 * k1 - 0.2 * k2 + 0.1 * e + 0.2 * glc + rng.normal(0, 0.02)
        pgi = "" if i % 5 == 0 else f"{5 - 2 * k1 + e:.4f}"
        lines.append(f"r{i},{k1},{k2},{e:.4f},{glc},b{i % 8},{growth:.4f},0.02,{pgi}")
    path.write_text("\n".join(lines) + "\n")
    return path


def test_load_dataset(tmp_path: Path) -> None:
    data = load_dataset(_write_dataset(tmp_path / "d.csv", n=10))
    assert data.names == ["growth", "PGI"]  # a typed target is predicted under its readout name
    assert data.y.shape == (10, 2) and np.isnan(data.y[0, 1])
    assert data.sd is not None and data.groups is not None and data.groups[3] == "b3"
    assert data.presence_columns == ["medium:EX_glc__D_e"]
    glc = [d.medium["EX_glc__D_e"] for d in data.designs]
    assert set(glc) <= {0.0, presence_uptake("EX_glc__D_e")} and presence_uptake("EX_glc__D_e") == 10.0


@pytest.mark.parametrize(("cell", "match"), [
    ("ko:g1=2", r"row 2, column 'ko:g1': expected 0 or 1"),
    ("y:growth=abc", r"row 2, column 'y:growth': expected a number"),
    ("medium:EX_glc__D_e=-1", r"row 2, column 'medium:EX_glc__D_e': uptake bound must be >= 0"),
])
def test_bad_cells_name_row_and_column(tmp_path: Path, cell: str, match: str) -> None:
    path = _write_dataset(tmp_path / "d.csv", n=4)
    col, value = cell.split("=")
    lines = path.read_text().splitlines()
    header = lines[0].split(",")
    row = lines[2].split(",")
    row[header.index(col)] = value
    lines[2] = ",".join(row)
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(TabularError, match=match):
        load_dataset(path)


def test_unknown_column_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("ko:a,weird,y:growth\n1,2,3\n")
    with pytest.raises(TabularError, match="column 'weird': unknown column"):
        load_dataset(path)


def test_cross_validation_on_a_small_csv(tmp_path: Path) -> None:
    path = _write_dataset(tmp_path / "d.csv")
    out = run_cv(path, folds=4, model="mlp", seed=0, ensemble=3, epochs=150, lr=1e-2)
    assert out["n_rows"] == 80 and out["grouped"] is True
    assert out["q2_per_target"]["growth"] > 0.8
    assert 0.8 < out["roc_auc"] <= 1.0
    assert out["threshold"] == pytest.approx(float(np.median(load_dataset(path).y[:, 0])))


def test_cli_cv_json_and_bad_input(tmp_path: Path) -> None:
    path = _write_dataset(tmp_path / "d.csv", n=40)
    runner = CliRunner()
    ok = runner.invoke(app, ["cv", "--data", str(path), "--folds", "3", "--model", "mlp", "--ensemble", "2",
                             "--json"])
    assert ok.exit_code == 0, ok.output
    assert json.loads(ok.stdout)["n_rows"] == 40
    bad = tmp_path / "bad.csv"
    bad.write_text("ko:a,y:growth\n3,1\n")
    fail = runner.invoke(app, ["cv", "--data", str(bad), "--json"])
    assert fail.exit_code == 2
    assert "row 1, column 'ko:a'" in fail.stderr and "Traceback" not in fail.output
    missing = runner.invoke(app, ["cv", "--data", str(tmp_path / "none.csv"), "--json"])
    assert missing.exit_code == 2 and "no such file" in missing.stderr


@pytest.mark.skipif(not AMN_CSV.is_file(), reason=f"AMN data not present at {AMN_CSV}")
def test_amn_conversion_and_cv(tmp_path: Path) -> None:
    dst = tmp_path / "amn.csv"
    result = CliRunner().invoke(app, ["convert-amn", str(AMN_CSV), str(dst)])
    assert result.exit_code == 0, result.output
    data = load_dataset(dst)
    assert data.y.shape == (280, 1) and data.sd is not None
    assert len(data.presence_columns) == 28
    out = run_cv(dst, folds=5, model="mlp", seed=0, ensemble=3, epochs=200)
    assert out["q2"] > 0.5
