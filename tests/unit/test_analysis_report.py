"""The campaign report carries the batch-adjusted effects table."""

from __future__ import annotations

import json
from pathlib import Path

from factories import campaign_spec

from schemas import Design, Measurement, Value
from services.analysis.analyze import AnalysisOptions, analyze
from services.analysis.frame import observations
from services.analysis.views import effects_table
from services.report.build import build_report
from services.report.records import CampaignRecords
from simulators.screening import ScreenConfig, simulate_screen


def test_report_has_the_effects_table_sorted_by_adjusted_effect(tmp_path: Path) -> None:
    screen = simulate_screen(ScreenConfig(n_batches=8), seed=1, campaign_id="c1")
    records = CampaignRecords(campaign_spec("c1"), measurements=[m.model_dump(mode="json")
                                                                 for m in screen.measurements])
    full = build_report(tmp_path, records)
    page = (tmp_path / "report.html").read_text()
    assert "Batch-adjusted effects" in page and "MH RR" in page
    lines = json.loads((tmp_path / "summary.json").read_text())["batch_adjusted_effects"]
    assert lines == full["batch_adjusted_effects"] and len(lines) == len(screen.true_rr)
    assert all(" batches; crude " in line for line in lines)


def test_effects_table_explains_why_it_is_empty() -> None:
    table = effects_table(campaign_spec("c1"), [])
    assert table.unavailable == "No run has been measured yet: there is nothing to analyse."


def _run(i: int, knockouts: list[str], succinate: float, batch: str) -> dict[str, object]:
    return Measurement(id=f"m{i}", campaign_id="c1", run_id=f"run-{i}", design=Design(knockouts=knockouts),
                       growth_rate=Value(value=0.5), products={"EX_succ_e": Value(value=succinate)},
                       batch_id=batch).model_dump(mode="json")


def _sdha_with_zwf() -> list[dict[str, object]]:
    """12 runs in 2 batches, 6 hits; ΔsdhA (b0723) and Δzwf (b1852) always together, as in a demo campaign:
    the GLMs cannot tell them apart (the Poisson fit's robust errors raised "Singular matrix")."""
    runs = []
    for batch in ("b1", "b2"):
        for knockouts, succinate in (([], 0.1), (["b0723", "b1852"], 0.1), (["b0723", "b1852", "b2297"], 3.0),
                                     (["b0723", "b1852", "b1380"], 3.0), (["b1380"], 0.1), (["b2297"], 2.0)):
            runs.append(_run(len(runs), knockouts, succinate, batch))
    return runs


def test_interventions_that_always_occur_together_still_give_the_mantel_haenszel_table() -> None:
    records = _sdha_with_zwf()
    measurements = [Measurement.model_validate(r) for r in records]
    result = analyze(observations(measurements, "EX_succ_e"), AnalysisOptions())  # raised "Singular matrix"
    assert result.log_binomial is not None and result.log_binomial.model == "none"
    assert result.log_binomial.notes == ["the GLMs cannot separate the interventions: some always occur together "
                                         "(or only in one batch), so their effects cannot be told apart"]
    table = effects_table(campaign_spec("c1"), records)
    assert table.unavailable is None and len(table.rows) == 4
    assert [r["intervention"] for r in table.rows if r["intervention"].startswith("ΔsdhA")] == ["ΔsdhA (b0723)"]


def test_more_glm_parameters_than_runs_are_not_fitted() -> None:
    genes = ["b0723", "b1852", "b1380", "b2297", "b0903", "b1602", "b4154", "b1101"]
    records = [_run(i, genes[i:i + 3], 3.0 if i % 2 else 0.1, f"b{i // 3}") for i in range(6)]
    result = analyze(observations([Measurement.model_validate(r) for r in records], "EX_succ_e"),
                     AnalysisOptions(threshold=1.0))  # 6 runs, 1 + 8 knockouts + 1 batch parameters
    assert result.log_binomial is not None and result.log_binomial.model == "none"
    assert result.log_binomial.notes[0].startswith("the GLMs need at least as many runs as parameters: 6 runs")


def test_effects_table_says_in_words_why_the_data_cannot_be_adjusted() -> None:
    spec = campaign_spec("c1")
    runs = _sdha_with_zwf()
    one_batch = [{**r, "batch_id": "b1"} for r in runs]
    assert effects_table(spec, one_batch).unavailable == (
        "All 12 runs are in one batch, so there is no batch effect to adjust for: spread the designs over at "
        "least two batches, with the wild type in each.")
    mostly_hits = [r if r["id"] == "m0" else _run(int(str(r["id"])[1:]), ["b0723"], 5.0, str(r["batch_id"]))
                   for r in runs]
    assert effects_table(spec, mostly_hits).unavailable == (
        "Only 1 of the 12 runs is not a hit (a hit is a run with EX_succ_e above 1.1 times the wild type measured "
        "beside it): batch-adjusted effects need at least 3 hits and 3 non-hits, spread over the batches.")
    no_hits = [{**r, "products": {"EX_succ_e": {"value": 0.1}}} for r in runs]
    assert effects_table(spec, no_hits).unavailable is not None
    assert effects_table(spec, no_hits).unavailable.startswith("None of the 12 runs are hits")
    no_wild_type = [r for r in runs if r["design"]["knockouts"]]
    assert effects_table(spec, no_wild_type).unavailable == (
        "No wild-type (unmodified) strain was measured, so there is no reference value for calling a run a hit.")


def test_the_report_shows_the_sentence_and_no_raw_error(tmp_path: Path) -> None:
    records = CampaignRecords(campaign_spec("c1"), measurements=[{**r, "batch_id": "b1"} for r in _sdha_with_zwf()])
    build_report(tmp_path, records)
    page = (tmp_path / "report.html").read_text()
    assert "All 12 runs are in one batch, so there is no batch effect to adjust for" in page
    assert "not available" not in page and "Singular" not in page


def test_a_wild_type_set_aside_as_an_outlier_is_not_reported_as_never_measured() -> None:
    genes = ["b0723", "b1852", "b1380", "b2297", "b0903", "b1602", "b4154"]
    records = []
    for batch in ("b1", "b2"):
        records.append(_run(len(records), [], 0.02, batch))  # the wild type: far below every engineered strain
        records += [_run(len(records), [g], 3.0 + 0.05 * k, batch) for k, g in enumerate(genes)]
    assert effects_table(campaign_spec("c1"), records).unavailable == (
        "Every wild-type (unmodified) run was set aside by the cleaning (a QC flag, or an outlier among the other "
        "runs of its batch), so there is no reference value for calling a run a hit.")
