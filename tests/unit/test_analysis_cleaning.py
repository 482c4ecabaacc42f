"""Cleaning policies: QC, missing readouts, on-plate normalisation, robust outliers, all with reasons."""

from __future__ import annotations

import numpy as np
import pytest

from schemas import Design, Measurement, Value
from services.analysis.cleaning import CleaningPolicy, clean
from services.analysis.frame import AnalysisError, intervention_labels, observations


def _m(run: str, value: float | None, batch: str = "b1", ko: tuple[str, ...] = ("sdhA",),
       qc: tuple[str, ...] = ()) -> Measurement:
    values = {} if value is None else {"EX_succ_e": Value(value=value)}
    return Measurement(campaign_id="c", run_id=run, design=Design(knockouts=list(ko)), values=values,
                       products={} if value is not None else {"EX_ac_e": Value(value=1.0)},
                       batch_id=batch, plate_id="p1", qc_flags=list(qc))


def _batch(batch: str, offset: float, n: int = 8) -> list[Measurement]:
    rng = np.random.default_rng(len(batch))
    runs = [_m(f"{batch}-wt{i}", offset * (1 + 0.01 * i), batch, ko=()) for i in range(2)]
    runs += [_m(f"{batch}-{i}", offset * float(rng.uniform(0.5, 0.9)), batch) for i in range(n)]
    return runs


def test_intervention_labels_cover_knockouts_expression_and_medium() -> None:
    design = Design(knockouts=["sdhA"], expression={"pgi": 2.0, "zwf": 0.5, "pta": 1.0}, medium={"EX_o2_e": 0.0})
    assert intervention_labels(design) == ["ΔsdhA", "pgi↑", "zwf↓", "medium:EX_o2_e"]


def test_normalisation_cancels_a_multiplicative_batch_offset() -> None:
    good, bad = _batch("b1", 2.0), _batch("b2", 0.5)
    runs = [*good, *bad, _m("x-good", 2.0 * 0.7, "b1"), _m("x-bad", 0.5 * 0.7, "b2")]
    cleaned = clean(observations(runs, "EX_succ_e"))
    table = cleaned.table.set_index("run_id")
    assert cleaned.normalised
    assert table.loc["x-good", "norm"] == pytest.approx(0.7 / 1.005, rel=1e-9)
    assert table.loc["x-bad", "norm"] == pytest.approx(0.7 / 1.005, rel=1e-9)


def test_qc_flags_exclude_with_the_reason_but_no_growth_is_an_outcome() -> None:
    runs = [*_batch("b1", 1.0), _m("bad", 1.0, qc=("contamination",)), _m("dead", 0.0, qc=("no_growth",))]
    cleaned = clean(observations(runs, "EX_succ_e"))
    reasons = {f.run_id: f.reason for f in cleaned.flags}
    assert reasons["bad"] == "qc: contamination"
    assert "dead" in set(cleaned.table["run_id"]) and "bad" not in set(cleaned.table["run_id"])


def test_missing_readout_policy_exclude_or_count_as_non_hit() -> None:
    runs = [*_batch("b1", 1.0), _m("gap", None)]
    excluded = clean(observations(runs, "EX_succ_e"))
    assert "gap" not in set(excluded.table["run_id"])
    assert any(f.run_id == "gap" and f.reason == "missing readout: excluded" for f in excluded.flags)
    kept = clean(observations(runs, "EX_succ_e"), CleaningPolicy(missing="non_hit"))
    assert "gap" in set(kept.table["run_id"])
    assert any(f.run_id == "gap" and not f.excluded for f in kept.flags)


def test_gross_outlier_is_flagged_with_its_robust_z_and_batch() -> None:
    runs = [*_batch("b1", 1.0, n=12), _m("spike", 25.0)]
    cleaned = clean(observations(runs, "EX_succ_e"))
    flag = next(f for f in cleaned.flags if f.run_id == "spike")
    assert flag.reason.startswith("outlier: robust z +") and "batch_id b1" in flag.reason
    kept = clean(observations(runs, "EX_succ_e"), CleaningPolicy(exclude_outliers=False))
    assert "spike" in set(kept.table["run_id"]) and any(f.run_id == "spike" for f in kept.flags)


def test_batch_without_a_control_is_normalised_against_all_controls_and_flagged() -> None:
    runs = [*_batch("b1", 1.0), _m("orphan", 0.8, batch="b9")]
    cleaned = clean(observations(runs, "EX_succ_e"))
    flag = next(f for f in cleaned.flags if f.run_id == "orphan")
    assert "b9 has no control" in flag.reason and not flag.excluded


def test_no_control_at_all_leaves_values_raw_with_a_note() -> None:
    runs = [_m(f"r{i}", 1.0 + i / 10) for i in range(6)]
    cleaned = clean(observations(runs, "EX_succ_e"))
    assert not cleaned.normalised and cleaned.notes


def test_unusable_input_names_the_field() -> None:
    with pytest.raises(AnalysisError, match="readout"):
        observations([_m("a", 1.0)], "growth")
    with pytest.raises(AnalysisError, match="design"):
        observations([_m("a", 1.0, ko=())], "EX_succ_e")
