"""The campaign report speaks the lab's language: gene names, units, 4 significant digits, growth floor."""

from __future__ import annotations

import re
from pathlib import Path

from factories import campaign_spec

from schemas import Design, Measurement, Value
from services.report.build import Truth, build_report
from services.report.envelope import envelope_of
from services.report.records import CampaignRecords


def _measurement(i: int, growth: float, succinate: float, qc: list[str] | None = None) -> dict[str, object]:
    return Measurement(id=f"m{i}", campaign_id="c1", run_id=f"run-{i}", design=Design(knockouts=["b1380", "b2297"]),
                       growth_rate=Value(value=growth), products={"EX_succ_e": Value(value=succinate)},
                       qc_flags=qc or []).model_dump(mode="json")


def _report(tmp_path: Path, measurements: list[dict[str, object]]) -> tuple[str, dict[str, object]]:
    records = CampaignRecords(campaign_spec("c1"), measurements=measurements)
    full = build_report(tmp_path, records, Truth(optimum=8.123456789, reference=0.0123456789))
    return (tmp_path / "report.html").read_text(), full


def test_report_names_genes_gives_units_and_warns_when_the_best_barely_grows(tmp_path: Path) -> None:
    floor = envelope_of(campaign_spec("c1"))
    assert floor is not None and 0.17 < floor.floor < 0.18  # 0.2 x 0.874 1/h wild type
    text, full = _report(tmp_path, [_measurement(0, 0.61, 3.2), _measurement(1, 0.15, 7.123456789)])
    assert "ΔldhA (b1380) Δpta (b2297)" in text
    assert "EX_succ_e (mmol/gDW/h)" in text and "growth (1/h)" in text
    assert "7.123" in text and "7.123456" not in text and "8.123456" not in text
    assert "Warning: the best design grows at 0.15 1/h, below the growth floor of 0.1748 1/h" in text
    assert full["warnings"] and abs(full["growth_floor_per_h"] - floor.floor) < 1e-9  # FBA's, no wild type measured
    assert "FBA" in str(full["growth_floor_source"])
    assert "QC" not in text  # no run has a QC flag: no empty column
    assert (tmp_path / "production_envelope.png").read_bytes().startswith(b"\x89PNG")
    assert re.search(r"growth floor</td><td>0\.1748 1/h", text)


def test_report_shows_qc_flags_when_there_are_some(tmp_path: Path) -> None:
    text, full = _report(tmp_path, [_measurement(0, 0.61, 3.2, ["no_growth"]), _measurement(1, 0.6, 7.1)])
    assert "QC flags" in text and "no_growth" in text and full["warnings"] == []


def test_round_colours_are_discrete_with_whole_round_ticks(tmp_path: Path) -> None:
    import matplotlib.pyplot as plt

    from services.report import plots
    from services.report.prospective import Pair

    pairs = [Pair(round=r, predicted=float(r), sd=0.1, measured=float(r) + 0.2) for r in (1, 2, 2, 3, 5)]
    captured: list[list[float]] = []
    original = plt.Figure.colorbar

    def spy(self: plt.Figure, mappable: object, **kwargs: object) -> object:
        bar = original(self, mappable, **kwargs)  # type: ignore[arg-type]
        captured.append([float(t) for t in bar.get_ticks()])
        return bar

    plt.Figure.colorbar = spy  # type: ignore[method-assign]
    try:
        plots.predicted_vs_measured(pairs, tmp_path / "p.png", "EX_succ_e")
    finally:
        plt.Figure.colorbar = original  # type: ignore[method-assign]
    assert captured == [[1.0, 2.0, 3.0, 5.0]]


def test_without_a_model_the_report_says_why_instead_of_drawing_empty_axes(tmp_path: Path) -> None:
    (tmp_path / "predicted_vs_measured.png").write_bytes(b"stale")  # from an earlier report in the same folder
    text, full = _report(tmp_path, [_measurement(i, 0.6, 3.0 + i) for i in range(5)])
    assert 'src="predicted_vs_measured.png"' not in text and 'src="model_metrics.png"' not in text
    assert not (tmp_path / "predicted_vs_measured.png").exists() and not (tmp_path / "model_metrics.png").exists()
    assert ("No predictions to compare: no model was trained during this campaign. The predictor trains once 3 "
            "runs are measured (5 were), and the campaign ended before its first model was ready.") in text
    assert "No model versions to show: no model was trained during this campaign." in text
    assert set(full["plots_missing"]) == {"predicted_vs_measured", "model_metrics"}

    few, _ = _report(tmp_path, [_measurement(0, 0.6, 3.0), _measurement(1, 0.6, 3.1)])
    assert "The predictor trains once 3 runs are measured; this campaign has 2." in few


def test_with_a_model_and_predictions_the_report_draws_both_plots(tmp_path: Path) -> None:
    spec = campaign_spec("c1")
    measurements = [_measurement(i, 0.6, 3.0 + i) for i in range(4)]
    proposals = [{"id": f"p{i}", "round": 2, "predicted": {"EX_succ_e": {"mean": 3.1 + i, "sd": 0.2}}}
                 for i in range(4)]
    orders = [{"run_id": f"run-{i}", "proposal_id": f"p{i}", "status": "measured"} for i in range(4)]
    models = [{"version": 1, "n_train": 4, "metrics": {"train_s": 1.0}}]
    records = CampaignRecords(spec, proposals, orders, measurements, [], models)
    full = build_report(tmp_path, records)
    text = (tmp_path / "report.html").read_text()
    assert full["plots_missing"] == {} and "No predictions to compare" not in text
    for name in ("predicted_vs_measured", "model_metrics"):
        assert f'src="{name}.png"' in text and (tmp_path / f"{name}.png").read_bytes().startswith(b"\x89PNG")

    proposals_before_the_model = [{**p, "predicted": {}} for p in proposals]
    records.proposals = proposals_before_the_model
    build_report(tmp_path, records)
    assert ("No predictions to compare: no design proposed after the first model was trained has been measured "
            "yet") in (tmp_path / "report.html").read_text()
