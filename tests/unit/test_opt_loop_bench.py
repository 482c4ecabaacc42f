"""The closed-loop benchmark's quick mode prints one JSON object with the promised keys."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("simulators.truecell", reason="simulator core not available")
pytest.importorskip("services.predictor.deepmodel", reason="predictor core not available")


@pytest.mark.slow
def test_loop_benchmark_quick_json(capsys: pytest.CaptureFixture[str]) -> None:
    from benchmarks.loop import main

    assert main(["--quick", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["true_optimum"] > 0
    for name in ("hybrid", "ga", "bo", "random"):
        entry = result["strategies"][name]
        assert set(entry) >= {"experiments_to_95", "best_fraction_by_batch", "batch_s"}
        assert all(0.0 <= f <= 1.0 + 1e-6 for f in entry["best_fraction_by_batch"])
    assert set(result["functions"]) == {"sin_cos", "hartmann6"}
    assert result["functions"]["sin_cos"]["true_optimum"] == pytest.approx(2.0)
