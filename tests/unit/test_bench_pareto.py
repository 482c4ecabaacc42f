"""The two-objective benchmark's quick mode prints one JSON object with the promised keys."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("services.predictor.deepmodel", reason="predictor core not available")


@pytest.mark.slow
def test_pareto_benchmark_quick_json(capsys: pytest.CaptureFixture[str]) -> None:
    from benchmarks.pareto import main

    assert main(["--quick", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["objectives"] == ["EX_succ_e", "growth"] and result["seeds"] == [0]
    assert result["reference_point"]["EX_succ_e_mmol_gDW_h"] == 0.0 and result["reference_point"]["growth_per_h"] > 0
    assert set(result["strategies"]) == {"random", "single", "pareto"}
    for entry in result["strategies"].values():
        assert entry["hv_median"] >= 0 and len(entry["hv_by_seed"]) == 1
        series = entry["hv_by_batch_median"]
        assert len(series) == 2 and series[0] <= series[1]  # the measured front only grows
        assert 0 <= entry["hv_fraction_median"] <= 1
    assert {"pareto_over_random", "pareto_over_single"} <= set(result["ratios"])
