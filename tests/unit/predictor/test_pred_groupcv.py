"""Cross-validation that holds whole knockout groups out (strains never built), against the baselines."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from services.predictor.cli import app
from services.predictor.tabular import TabularError, intervention_groups, load_dataset, run_cv

BIOLOG = Path(__file__).resolve().parents[4] / "shared" / "data" / "biolog_ko_dev" / "biolog_ko_dev.csv"


def test_group_by_ko_holds_strains_out_and_runs_the_baselines_on_the_same_folds(
        tmp_path: Path, keio_like: Any) -> None:
    path = keio_like(tmp_path / "keio.csv")
    out = run_cv(path, folds=4, model="mlp", seed=0, ensemble=3, group_by="ko", baselines=True, epochs=200)
    assert out["grouped"] and out["group_by"] == "ko" and out["n_rows"] == 24 * 12
    assert out["unseen_rows"] == 1.0  # every test strain's knockout is absent from its training folds
    assert 0.85 <= out["coverage95_unseen"] <= 0.995
    assert out["q2"] > 0.3
    gbm, media = out["baselines"]["gbm"], out["baselines"]["gbm_media_only"]
    assert set(out["baselines"]) == {"gbm", "gbm_media_only"}
    assert np.isfinite(gbm["q2"]) and np.isfinite(media["q2"]) and gbm["roc_auc"] is not None
    random = run_cv(path, folds=4, model="mlp", seed=0, ensemble=3, epochs=200)
    assert random["unseen_rows"] == 0.0 and random["q2"] > out["q2"]


def test_intervention_groups_and_a_bad_group_column(tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    path.write_text("ko:a,ko:b,expr:e,medium:EX_x,group:plate,y:growth\n1,0,1,2,p1,0.1\n1,1,0,0,p2,0.2\n"
                    "0,0,0,1,p1,0.3\n")
    data = load_dataset(path)
    assert intervention_groups(data, "ko") == ["a", "a|b", "-"]
    assert intervention_groups(data, "expr") == ["e", "-", "-"]
    assert intervention_groups(data, "medium") == ["EX_x=2", "EX_x=0", "EX_x=1"]
    assert intervention_groups(data, "plate") == ["p1", "p2", "p1"]
    with pytest.raises(TabularError, match=r"group_by: no column 'group:batch'"):
        intervention_groups(data, "batch")
    fail = CliRunner().invoke(app, ["cv", "--data", str(path), "--folds", "2", "--model", "mlp",
                                    "--group-by", "batch", "--json"])
    assert fail.exit_code == 2 and "group_by" in fail.stderr and fail.stdout == ""


def test_cli_group_cv_prints_one_json_document(tmp_path: Path, keio_like: Any) -> None:
    path = keio_like(tmp_path / "keio.csv", n_genes=8, n_media=6)
    result = CliRunner().invoke(app, ["cv", "--data", str(path), "--folds", "3", "--model", "mlp", "--ensemble",
                                      "2", "--group-by", "ko", "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["group_by"] == "ko" and doc["unseen_rows"] == 1.0
    assert "fold 3/3" in result.stderr


@pytest.mark.slow
@pytest.mark.skipif(not BIOLOG.is_file(), reason=f"Biolog knockout data not present at {BIOLOG}")
def test_biolog_knockout_groups_held_out() -> None:
    # The full development set, 5 folds of whole knockout groups: every test strain is one never built.
    out = run_cv(BIOLOG, folds=5, model="mlp", seed=0, group_by="ko", threshold=0.165)
    assert out["unseen_rows"] == 1.0
    assert 0.90 <= out["coverage95"] <= 0.98  # the calibration band
    assert out["q2"] > 0.5 and out["roc_auc"] > 0.7
