"""Prospective calls that say something: 'beats the incumbent by a margin', scored only where informative; the
report builder on records read from a real tracker database."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from campaign_story import story_events

from schemas import Design, Sense
from services.report import classify
from services.report.build import ReportOptions, Truth, build_report
from services.report.prospective import Pair
from services.report.records import CampaignNotFound, from_database
from services.report.replicates import ReplicateGroup
from services.runtime.subjects import Subjects
from services.tracker.repository import IncomingEvent, Repository


def _pairs(round_: int, rows: list[tuple[float, float]], sd: float = 0.2) -> list[Pair]:
    return [Pair(round=round_, predicted=mu, sd=sd, measured=y) for mu, y in rows]


def test_beats_the_incumbent_is_scored_per_round_and_pooled_where_both_outcomes_occur() -> None:
    round1 = _pairs(1, [(2.4, 2.5), (1.9, 1.2), (1.4, 2.2), (1.0, 1.0), (2.1, 2.0), (0.8, 0.9)])
    round2 = _pairs(2, [(2.8, 2.9), (1.5, 1.6), (0.9, 0.7), (1.3, 1.1)])
    call = classify.beats_incumbent(round1 + round2, {1: 1.5, 2: 2.5}, classify.Margin(0.2, 0.0, "given"),
                                    Sense.MAXIMIZE, "mmol/gDW/h")
    assert call["call"] == "beats the incumbent by 0.2 mmol/gDW/h"
    first, second = call["rounds"]
    assert first["bar"] == pytest.approx(1.7) and first["informative"]
    assert (first["precision"], first["recall"]) == (pytest.approx(2 / 3, abs=1e-4), pytest.approx(2 / 3, abs=1e-4))
    assert not second["informative"] and second["n_positive"] == 1 and "too few to judge" in second["why_not"]
    assert call["informative"] and call["n"] == 10 and call["n_positive"] == 4
    assert (call["precision"], call["recall"], call["f1"]) == (0.75, 0.75, 0.75)
    assert 0.5 < call["roc_auc"] <= 1.0
    assert classify.sentence(call).startswith("'beats the incumbent by 0.2 mmol/gDW/h' (n = 10, 4 positive): "
                                              "precision 0.75, recall 0.75, F1 0.75, ROC-AUC")


def test_a_perfect_ranking_has_an_auc_of_one_and_minimising_flips_the_bar() -> None:
    pairs = _pairs(1, [(0.5, 0.4), (0.6, 0.7), (2.0, 2.1), (2.5, 2.6)])
    call = classify.beats_incumbent(pairs, {1: 1.5}, classify.Margin(0.1, 0.0, "given"), Sense.MINIMIZE, "u")
    assert call["call"] == "undercuts the incumbent by 0.1 u"
    assert call["rounds"][0]["informative"] and call["rounds"][0]["roc_auc"] == 1.0
    assert call["rounds"][0]["precision"] == 1.0 and call["rounds"][0]["bar"] == pytest.approx(1.4)


def test_beating_a_wild_type_that_makes_nothing_is_not_informative_and_says_so() -> None:
    """The old 1.0 / 1.0 / 1.0: every design beats a reference of 0."""
    pairs = _pairs(1, [(1.0 + i / 10, 1.1 + i / 10) for i in range(8)])
    call = classify.hits_above(pairs, 0.05, Sense.MAXIMIZE, "mmol/gDW/h")
    assert not call["informative"] and call["precision"] is None and call["roc_auc"] is None
    assert call["why_not"] == ("8 of 8 designs were hits (≥ 0.05 mmol/gDW/h): with (almost) every design a positive "
                               "any call scores well, so the figures would say nothing")
    assert classify.sentence(call).startswith("'hit: ≥ 0.05 mmol/gDW/h': not informative: 8 of 8")
    nothing = classify.beats_incumbent(pairs, {}, classify.Margin(0.1, 0.0, "given"), Sense.MAXIMIZE, "u")
    assert not nothing["informative"] and "no incumbent" in nothing["rounds"][0]["why_not"]


def test_the_margin_is_the_measured_noise_when_designs_were_repeated() -> None:
    groups = [ReplicateGroup(Design(), (1.0, 1.2)), ReplicateGroup(Design(knockouts=["b1380"]), (2.0, 2.2, 2.1))]
    margin = classify.choose_margin(groups)
    assert margin.absolute == pytest.approx((0.04 / 3) ** 0.5) and "3 degrees of freedom" in margin.source
    one = classify.choose_margin(groups[:1])  # one degree of freedom: not an estimate to lean on
    assert one.absolute is None and one.of(2.0) == pytest.approx(0.1)
    assert classify.choose_margin(groups, given=0.3).absolute == 0.3


def _database(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'fluxlab.db'}"
    repo = Repository(url)
    subjects = Subjects("fluxlab")
    repo.ingest([IncomingEvent(m.id, subjects.event(kind, "c1"), m) for kind, m in story_events("c1")])
    repo.dispose()
    return url


def test_the_report_of_a_campaign_read_from_the_tracker_database(tmp_path: Path) -> None:
    records = from_database(_database(tmp_path), "c1")
    assert len(records.proposals) == 14 and len(records.measurements) == 14 and len(records.models) == 1
    full = build_report(tmp_path / "out", records)
    assert full["best_value"] == 2.9 and full["n_measurements"] == 14 and full["model_versions"] == 1
    assert full["true_optimum"] is None and full["best_true_value"] is None
    assert full["reference_value"] == 0.1 and full["reference_source"] == "measured wild type (median of 1 run(s))"
    call = full["prospective"]["beats_incumbent"]
    assert call["margin"] is None and "no replicates to measure the noise" in call["margin_source"]
    assert [r["incumbent"] for r in call["rounds"]] == [1.5, 2.5]
    assert call["informative"] and call["precision"] == 0.75 and call["recall"] == 0.75
    assert [r["round"] for r in full["prospective"]["by_round"]] == [1, 2]
    (replicate,) = full["replicates"]
    assert replicate["design_text"] == "Δb2297" and replicate["values"] == [1.5, 1.6]
    page = (tmp_path / "out" / "report.html").read_text()
    assert "true optimum" not in page and "not informative: only 1 of 4 designs" in page
    assert "Δpta (b2297)" in page and "<th>trained on</th>" in page
    assert json.loads((tmp_path / "out" / "summary.json").read_text())["prospective"]["beats_incumbent"]["f1"] == 0.75


def test_true_optimum_lines_appear_only_where_a_simulator_knows_them(tmp_path: Path) -> None:
    records = from_database(_database(tmp_path), "c1")
    full = build_report(tmp_path / "out", records, Truth(optimum=4.0, reference=0.0, value_of=lambda d: 2.7),
                        ReportOptions(margin=0.2, hit_threshold=1.0))
    assert full["best_true_value"] == 2.7 and full["best_true_fraction_of_optimum"] == pytest.approx(0.675)
    assert full["reference_source"] == "simulated wild type (noise-free)"
    assert full["prospective"]["beats_incumbent"]["margin"] == 0.2
    assert full["prospective"]["hits"]["informative"]
    page = (tmp_path / "out" / "report.html").read_text()
    assert "true optimum, noise-free simulated cell" in page and "true value of the best design" in page


def test_an_unknown_campaign_names_the_known_ones(tmp_path: Path) -> None:
    with pytest.raises(CampaignNotFound) as raised:
        from_database(_database(tmp_path), "c2")
    assert str(raised.value) == "campaign: unknown campaign 'c2' (known: c1)"


def test_two_objectives_get_the_pareto_front_drawn_and_listed(tmp_path: Path) -> None:
    records = from_database(_database(tmp_path), "c1")
    objective = records.spec.objective.model_copy(update={"second_target": "growth"})
    records.spec = records.spec.model_copy(update={"objective": objective})
    full = build_report(tmp_path / "out", records)
    assert full["pareto"] and full["plots_missing"].get("pareto") is None
    assert (tmp_path / "out" / "pareto.png").read_bytes().startswith(b"\x89PNG")
    page = (tmp_path / "out" / "report.html").read_text()
    assert "Pareto front (EX_succ_e and growth)" in page and 'src="pareto.png"' in page
    hv = full["hypervolume"]
    assert hv["reference"] is not None and len(hv["by_round"]) == len(hv["rounds"])
    assert all(a <= b for a, b in zip(hv["by_round"], hv["by_round"][1:], strict=False))  # one reference: it rises
    assert "Hypervolume of the measured front" in page
