"""The closed-loop benchmark's quick mode prints one JSON object with the promised keys."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("simulators.truecell", reason="simulator core not available")
pytest.importorskip("services.predictor.deepmodel", reason="predictor core not available")


@pytest.mark.slow
def test_loop_benchmark_quick_json(capsys: pytest.CaptureFixture[str]) -> None:
    from benchmarks.loop import main

    assert main(["--quick", "--json", "--landscapes", "kinetic,sin_cos,ackley10",
                 "--strategies", "hybrid,insilico,ax,random"]) == 0
    result = json.loads(capsys.readouterr().out)
    landscapes = result["landscapes"]
    assert set(landscapes) == {"kinetic", "sin_cos", "ackley10"}
    kinetic = landscapes["kinetic"]
    assert kinetic["true_optimum"] > 0 and kinetic["optimum_method"] == "exhaustive"
    assert set(kinetic["strategies"]) == {"hybrid", "insilico", "ax", "random"}
    for entry in kinetic["strategies"].values():
        assert set(entry) >= {"experiments_to_90", "experiments_to_95", "best_fraction_by_batch", "batch_s"}
        assert all(0.0 <= f <= 1.0 + 1e-6 for f in entry["best_fraction_by_batch"])
    prospective = kinetic["strategies"]["hybrid"]["prospective"]  # the second batch, planned with a model
    assert 0 < prospective["n_scored"] <= 8 and 0.0 <= prospective["coverage95_raw"] <= 1.0
    assert prospective["coverage95_calibrated"] >= prospective["coverage95_raw"]  # the factor only widens here
    assert "insilico" not in landscapes["sin_cos"]["strategies"]  # no organism model to rank by
    assert landscapes["sin_cos"]["true_optimum"] == pytest.approx(2.0)
    ackley = landscapes["ackley10"]
    assert ackley["score"] == "gap_closed" and ackley["batch_size"] == 16 and ackley["random_median"] < 0
    assert all(f <= 1.0 + 1e-6 for e in ackley["strategies"].values() for f in e["best_fraction_by_batch"])
