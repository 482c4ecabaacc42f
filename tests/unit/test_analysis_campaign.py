"""The campaign's `[analysis]` section: a control in every batch, a predictor trained on normalised values,
and a best-so-far that honours the cleaning."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from factories import cell_like_spec

from schemas import AnalysisSpec, Design, Measurement, Value
from services.analysis.cleaning import set_aside_runs
from services.analysis.normalise import normalise_measurements
from services.optimizer.context import History, PlannedProposal
from services.optimizer.ledger import CampaignLedger
from services.optimizer.planner import CONTROL, plan_batch
from services.optimizer.service import OptimizerService
from services.predictor.trainset import training_data
from services.review.charts import dashboard_data
from services.runtime.settings import Settings
from services.tracker.queries import best_measured


def _run(i: int, design: Design, value: float, batch: str, qc: list[str] | None = None) -> Measurement:
    return Measurement(id=f"m{i}", campaign_id="c1", run_id=f"r{i}", design=design, batch_id=batch,
                       values={"EX_succ_e": Value(value=value, sd=0.1 * value)},
                       growth_rate=Value(value=0.5 * value), qc_flags=qc or [])


def _plan(control_per_batch: bool, history: History, n: int = 6) -> list[str]:
    spec = cell_like_spec().model_copy(update={"analysis": AnalysisSpec(control_per_batch=control_per_batch)})
    planned = plan_batch(spec, history, None, n, np.random.default_rng(0))
    return [p.strategy for p in planned if p.design == Design()]


def test_first_batch_has_the_control_either_way() -> None:
    assert _plan(False, History()) == [CONTROL]
    assert _plan(True, History()) == [CONTROL]


def test_control_per_batch_repeats_the_wild_type_in_later_batches() -> None:
    measured = History(measured=[(Design(), 1.0), (Design(knockouts=["b0001"]), 2.0)])
    assert _plan(False, measured) == []
    assert _plan(True, measured) == [CONTROL]
    assert _plan(True, measured, n=1) == [], "a round of one design stays a design"
    pending = History(measured=measured.measured, pending=[Design()])
    assert _plan(True, pending) == [], "one control pending is enough"


def test_normalisation_cancels_a_multiplicative_batch_offset() -> None:
    mutant = Design(knockouts=["sdhA"])
    runs = [_run(0, Design(), 1.0, "b1"), _run(1, mutant, 3.0, "b1"),
            _run(2, Design(), 2.0, "b2"), _run(3, mutant, 6.0, "b2"), _run(4, mutant, 5.0, "b3")]
    result = normalise_measurements(runs)
    values = [m.readout("EX_succ_e") for m in result.measurements]
    assert values == pytest.approx([1.5, 4.5, 1.5, 4.5, 5.0])
    assert [m.readout("growth") for m in result.measurements] == pytest.approx([0.75, 2.25, 0.75, 2.25, 2.5])
    assert result.measurements[1].values["EX_succ_e"].sd == pytest.approx(0.45)
    assert result.raw_groups == ["b3"]


def test_a_control_with_failed_qc_does_not_normalise() -> None:
    runs = [_run(0, Design(), 1.0, "b1"), _run(1, Design(), 9.0, "b1", qc=["contaminated"]),
            _run(2, Design(), 2.0, "b2")]
    assert normalise_measurements(runs).factors[("b1", "EX_succ_e")] == pytest.approx(1.5)


def test_predictor_trains_on_normalised_values_only_when_asked() -> None:
    runs = [_run(0, Design(), 1.0, "b1"), _run(1, Design(), 2.0, "b2")]
    spec = cell_like_spec()
    assert training_data(spec, runs) is runs
    on = spec.model_copy(update={"analysis": AnalysisSpec(normalise=True)})
    assert [m.readout("EX_succ_e") for m in training_data(on, runs)] == pytest.approx([1.5, 1.5])


def test_best_so_far_skips_an_outlier_control_and_failed_qc_but_keeps_a_high_mutant() -> None:
    controls = [_run(i, Design(), 1.0 + 0.02 * i, f"b{i}") for i in range(6)]
    outlier = _run(6, Design(), 25.0, "b6")
    failed = _run(7, Design(knockouts=["b0001"]), 30.0, "b6", qc=["contaminated"])
    mutants = [_run(8 + i, Design(knockouts=[f"b000{i}"]), v, f"b{i}") for i, v in enumerate([0.5, 0.4, 4.0])]
    items = [*controls, outlier, failed, *mutants]
    assert set_aside_runs(items, "EX_succ_e") == {"r6", "r7"}
    value, design = best_measured(cell_like_spec(), items)
    assert value == pytest.approx(4.0) and design == Design(knockouts=["b0002"])


def test_dashboard_best_so_far_line_ignores_what_is_set_aside() -> None:
    controls = [_run(i, Design(), 1.0 + 0.02 * i, f"b{i}") for i in range(6)]
    items = [*controls, _run(6, Design(), 25.0, "b6"), _run(7, Design(knockouts=["b0001"]), 2.0, "b6")]
    data = dashboard_data(cell_like_spec(), [m.model_dump(mode="json") for m in items], [], [], [])
    assert data.set_aside == [6]
    assert data.measured[6] == 25.0 and data.best_so_far[-2:] == pytest.approx([1.1, 2.0])


def test_each_batch_control_is_its_own_proposal(tmp_path: Path) -> None:
    """Proposal ids are the design's digest (idempotent); a control repeated per batch adds the round."""
    service = OptimizerService(Settings(data_dir=tmp_path))
    control = PlannedProposal(design=Design(), strategy=CONTROL, acquisition=None, mean=None, sd=None)
    for per_batch, distinct in ((False, 1), (True, 2)):
        spec = cell_like_spec().model_copy(update={"analysis": AnalysisSpec(control_per_batch=per_batch)})
        ledger = CampaignLedger(spec)
        ids = {service._proposal("c1", round_, control, ledger).id for round_ in (1, 2)}
        assert len(ids) == distinct
