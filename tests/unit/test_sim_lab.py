"""The simulated lab: determinism, noise statistics, failures, wire validity."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest

from schemas.design import Design
from schemas.measurement import Measurement
from schemas.work import WorkOrder
from simulators.functions import FunctionSimulator
from simulators.lab import Lab, NoiseConfig, RunFailure
from simulators.truecell import TrueCell

WHEN = datetime(2025, 1, 1, tzinfo=UTC)
SDHA = Design(knockouts=["b0723"])


@pytest.fixture(scope="session")
def cell() -> TrueCell:
    return TrueCell("textbook", "default")


def _measure(lab: Lab, design: Design, run_id: str) -> Measurement:
    result = lab.run(design, "c1", run_id, measured_at=WHEN)
    assert isinstance(result, Measurement), result
    return result


def test_same_seed_same_measurement(cell: TrueCell) -> None:
    noise = NoiseConfig(dropout_rate=0.1, outlier_rate=0.05)
    first = [_measure(Lab(cell, noise, seed=3), SDHA, "r1")]
    again = [_measure(Lab(cell, noise, seed=3), SDHA, "r1")]
    other = _measure(Lab(cell, noise, seed=4), SDHA, "r1")
    assert first[0] == again[0]
    assert other.growth_rate != first[0].growth_rate


def test_measurement_contents(cell: TrueCell) -> None:
    m = _measure(Lab(cell, NoiseConfig(), seed=1), SDHA, "r1")
    assert 20 <= len(m.fluxes) <= 40 and "PGI" in m.fluxes and "EX_glc__D_e" in m.fluxes
    assert m.growth_rate is not None and m.growth_rate.sd > 0
    truth = cell.respond(SDHA)
    assert m.readout("EX_succ_e") == pytest.approx(truth.exchange["EX_succ_e"], rel=0.3)
    molar_mass = cell.organism.cobra_model.metabolites.get_by_id("succ_e").formula_weight  # g/mol
    assert m.titers["succ_e"].value == pytest.approx(m.products["EX_succ_e"].value * molar_mass * 24 / 1000)
    assert m.omics["transcriptomics"]["b0723"] == -8.0
    assert len(m.omics["metabolomics"]) >= 8
    assert m.batch_id and m.plate_id and m.well == "A01" and m.station == "sim1"
    assert Measurement.from_bytes(m.to_bytes()) == m


def test_growth_cv_matches_configuration(cell: TrueCell) -> None:
    lab = Lab(cell, NoiseConfig(cv=0.1, abs_sd=0.0, batch_cv=0.0), seed=0)
    values = np.array([_measure(lab, Design(), f"r{i}").growth_rate.value for i in range(500)])  # type: ignore[union-attr]
    cv = values.std() / values.mean()
    assert 0.08 <= cv <= 0.12
    assert values.mean() == pytest.approx(cell.wild_type.growth, rel=0.03)


def test_batches_share_an_offset(cell: TrueCell) -> None:
    lab = Lab(cell, NoiseConfig(cv=0.0, abs_sd=0.0, batch_cv=0.2, batch_every=4), seed=0)
    runs = [_measure(lab, Design(), f"r{i}") for i in range(8)]
    assert len({m.batch_id for m in runs}) == 2
    growth = [m.growth_rate.value for m in runs]  # type: ignore[union-attr]
    assert len(set(np.round(growth[:4], 12))) == 1 and growth[0] != growth[4]


def test_dropout_and_outlier_rates(cell: TrueCell) -> None:
    lab = Lab(cell, NoiseConfig(dropout_rate=0.2, outlier_rate=0.1, abs_sd=0.0, batch_cv=0.0, cv=0.01), seed=0)
    truth = cell.respond(SDHA)
    present, total, outliers = 0, 0, 0
    for i in range(60):
        m = _measure(lab, SDHA, f"r{i}")
        present += len(m.fluxes)
        total += 38
        for rid, v in m.fluxes.items():
            true = truth.flux(rid)
            if abs(true) > 0.1 and not 0.8 < v.value / true < 1.25:
                outliers += 1
    assert present / total == pytest.approx(0.8, abs=0.04)
    assert outliers / present == pytest.approx(0.1, abs=0.04)


def test_failure_rate_and_reasons(cell: TrueCell) -> None:
    lab = Lab(cell, NoiseConfig(failure_rate=0.3), seed=0)
    results = [lab.run(Design(), "c1", f"r{i}") for i in range(300)]
    failures = [r for r in results if isinstance(r, RunFailure)]
    assert len(failures) / 300 == pytest.approx(0.3, abs=0.07)
    assert all(f.reason and f.run_id.startswith("r") for f in failures)
    assert failures[0].to_message("sim1").reason == failures[0].reason


def test_bad_work_orders_fail_with_a_reason(cell: TrueCell) -> None:
    lab = Lab(cell, seed=0)
    result = lab.run(Design(knockouts=["b9999"]), "c1", "r1")
    assert isinstance(result, RunFailure) and "b9999" in result.reason and "knockouts[0]" in result.reason
    result = lab.run(Design(), "c1", "r2", readouts=["NOT_A_REACTION"])
    assert isinstance(result, RunFailure) and "NOT_A_REACTION" in result.reason


def test_lethal_design_reports_no_growth(cell: TrueCell) -> None:
    m = _measure(Lab(cell, seed=0), Design(knockouts=["PGK"]), "r1")
    assert m.fluxes == {} and "no_growth" in m.qc_flags
    assert m.growth_rate is not None and m.growth_rate.value < 0.05


def test_run_order_and_readouts(cell: TrueCell) -> None:
    order = WorkOrder(campaign_id="c1", run_id="run-7", proposal_id="p1", design=SDHA, queue="robot",
                      station="sim1", readouts=["EX_co2_e"])
    m = Lab(cell, seed=0).run_order(order, measured_at=WHEN)
    assert isinstance(m, Measurement) and m.run_id == "run-7" and "EX_co2_e" in m.fluxes


def test_function_lab() -> None:
    lab = Lab(FunctionSimulator("sin(x0) + cos(x1)", ["x0", "x1"]), NoiseConfig(cv=0.0), seed=0)
    m = lab.run(Design(parameters={"x0": 1.5707963, "x1": 0.0}), "c1", "r1")
    assert isinstance(m, Measurement) and m.readout("y") == pytest.approx(2.0, abs=1e-6)
    failure = lab.run(Design(parameters={"x0": 1.0}), "c1", "r2")
    assert isinstance(failure, RunFailure) and "x1" in failure.reason


def test_lab_for_campaign() -> None:
    from simulators.examples import sin_cos_spec, succinate_core_spec

    lab = Lab.for_campaign(succinate_core_spec())
    assert isinstance(lab.cell, TrueCell) and lab.noise.cv == 0.05
    m = lab.run(Design(knockouts=["b0723"]), "c1", "r1")
    assert isinstance(m, Measurement) and m.readout("EX_succ_e") is not None
    f = Lab.for_campaign(sin_cos_spec()).run(Design(parameters={"x0": 1.0, "x1": 2.0}), "c2", "r1")
    assert isinstance(f, Measurement) and f.readout("y") is not None
