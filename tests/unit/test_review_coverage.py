"""The review dashboard's prospective coverage per round, with the predictor's sd factor in force."""

from __future__ import annotations

from factories import campaign_spec, measurement

from services.review.coverage import coverage_by_round


def test_coverage_by_round_joins_proposals_to_readings_and_names_the_sd_factor() -> None:
    spec = campaign_spec()
    measured = [measurement("c1", i) for i in range(4)]  # EX_succ_e 1.000 .. 1.003
    # round 1: mean 1.0 sd 0.01 covers all; round 2: mean 2.0 sd 0.1 covers none
    proposals = [{"id": f"p-{i}", "round": 1 + i // 2, "model_version": None if i < 2 else 3,
                  "predicted": {"EX_succ_e": {"mean": 1.0 if i < 2 else 2.0, "sd": 0.01 if i < 2 else 0.1}}}
                 for i in range(4)]
    orders = [{"run_id": f"run-{i}", "proposal_id": f"p-{i}"} for i in range(4)]
    models = [{"version": 3, "metrics": {"sd_scale_objective": 1.7}}]
    figures = coverage_by_round(spec, proposals, orders, measured, models)
    assert figures["n"] == 4 and figures["coverage95"] == 0.5
    first, second = figures["by_round"]
    assert (first["round"], first["coverage95"], first["sd_scale"], first["model_version"]) == (1, 1.0, None, None)
    assert (second["round"], second["coverage95"], second["sd_scale"], second["model_version"]) == (2, 0.0, 1.7, 3)
