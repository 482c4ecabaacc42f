"""The simulator benchmark runs in quick mode and prints one JSON object."""

from __future__ import annotations

import json

import pytest

from benchmarks.simulator import main


def test_simulator_benchmark_quick(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--json", "--quick", "--repeat", "1"]) == 0
    result = json.loads(capsys.readouterr().out)
    for key in ("solves_per_s_core", "solves_per_s_ijo1366", "reference_solves_per_s_core", "speedup",
                "max_abs_objective_diff", "truecell_responses_per_s_core"):
        assert result[key] > 0 or key == "max_abs_objective_diff"
    assert result["max_abs_objective_diff"] <= 1e-6
