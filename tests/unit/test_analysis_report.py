"""The campaign report carries the batch-adjusted effects table."""

from __future__ import annotations

import json
from pathlib import Path

from factories import campaign_spec

from services.analysis.views import effects_table
from services.report.build import write_report
from simulators.screening import ScreenConfig, simulate_screen


def test_report_has_the_effects_table_sorted_by_adjusted_effect(tmp_path: Path) -> None:
    screen = simulate_screen(ScreenConfig(n_batches=8), seed=1, campaign_id="c1")
    records = {"measurements": [m.model_dump(mode="json") for m in screen.measurements], "proposals": [],
               "work_orders": [], "models": []}
    summary = {"best_value": 1.0, "n_measurements": len(screen.measurements), "n_failed": 0, "n_rejected": 0,
               "model_versions": 0}
    full = write_report(tmp_path, campaign_spec("c1"), records, summary, None, None, 0.0)
    page = (tmp_path / "report.html").read_text()
    assert "Batch-adjusted effects" in page and "MH RR" in page
    lines = json.loads((tmp_path / "summary.json").read_text())["batch_adjusted_effects"]
    assert lines == full["batch_adjusted_effects"] and len(lines) == len(screen.true_rr)
    assert all(" batches; crude " in line for line in lines)


def test_effects_table_explains_why_it_is_empty() -> None:
    table = effects_table(campaign_spec("c1"), [])
    assert table.unavailable == "measurements: there are none to analyse"
