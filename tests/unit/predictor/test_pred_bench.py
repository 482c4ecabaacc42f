"""The predictor benchmark's quick mode prints one JSON object with the documented keys."""

from __future__ import annotations

import json

import pytest

from benchmarks.predictor import main


@pytest.mark.slow
def test_quick_benchmark_prints_one_json_object(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--quick", "--json", "--models", "hybrid,mlp"]) == 0
    out = json.loads(capsys.readouterr().out)
    for key in ("heldout_r2", "heldout_r2_truth", "prior_r2", "coverage95", "retrain_s", "predict_p50_ms",
                "predict_p99_ms", "mass_balance_violation"):
        assert key in out
    assert set(out["heldout_r2"]) == {"hybrid", "mlp"}
    assert set(out["predict_p50_ms"]) == {"1", "1000"}
    assert out["mass_balance_violation"] < 1e-3


@pytest.mark.slow
def test_quick_omics_comparison_reports_every_variant(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--omics", "--quick", "--json", "--models", "mlp", "--seeds", "0"]) == 0
    out = json.loads(capsys.readouterr().out)["omics"]
    variants = out["kinds"]["mlp"]
    assert set(variants) == {"designs", "omics_absent", "omics_present", "no_dropout_absent", "no_dropout_present",
                             "aux_targets"}
    for scores in variants.values():
        assert set(scores) == {"r2", "r2_truth", "coverage95", "train_s"}
        assert all(len(s["per_seed"]) == 1 and s["median"] == s["per_seed"][0] for s in scores.values())
    assert set(out["retrain_s"]["mlp"]) == {"designs", "omics"}
