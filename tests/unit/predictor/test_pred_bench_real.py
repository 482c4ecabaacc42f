"""`fluxlab bench predictor-real`: one JSON document; data sets absent are skipped with the reason."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks.predictor_real import DATA_DIR, main


def test_absent_data_is_skipped_with_the_reason(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--json", "--data-dir", str(tmp_path)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["datasets"] == {}
    assert set(out["skipped"]) == {"biolog_ko_dev", "amn_library_280media"}
    assert "not present at" in out["skipped"]["biolog_ko_dev"]


@pytest.mark.slow
@pytest.mark.timeout(900)
@pytest.mark.skipif(not (DATA_DIR / "biolog_ko_dev").is_dir(), reason=f"shared data not present at {DATA_DIR}")
def test_quick_run_has_random_and_grouped_folds_with_baselines(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--quick", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    biolog = out["datasets"]["biolog_ko_dev"]["folds"]
    assert set(biolog) == {"random", "ko"}
    for kind in ("random", "ko"):
        assert set(biolog[kind]) == {"mlp", "gbm", "gbm_media_only"}
        assert isinstance(biolog[kind]["mlp"]["q2"], float) and isinstance(biolog[kind]["gbm"]["roc_auc"], float)
    assert biolog["ko"]["mlp"]["unseen_rows"] == 1.0 and biolog["random"]["mlp"]["unseen_rows"] < 0.1
    assert out["datasets"]["amn_library_280media"]["folds"]["random"]["mlp"]["coverage95_unseen"] is None


def test_network_models_skip_a_data_set_with_ids_the_organism_lacks(tmp_path: Path) -> None:
    from benchmarks.predictor_real import _median, _one

    path = tmp_path / "d.csv"
    path.write_text("ko:not_a_gene,y:growth\n" + "".join(f"{i % 2},{0.1 * i}\n" for i in range(12)))
    rows = _one(path, "gnn", None, None, 0, True, False, "textbook")
    assert "not_a_gene" in rows["gnn"]["skipped"]
    assert _median([rows, rows]) == rows
