"""Proposals publish the predictor's recalibrated intervals; the planner ranked by the model's own sd."""

from __future__ import annotations

from schemas import Design
from services.optimizer.context import PlannedProposal
from services.optimizer.service import published_intervals


def test_published_intervals_carry_the_recalibration_factor_per_output() -> None:
    planned = [PlannedProposal(Design(knockouts=["b0723"]), "hybrid:ga", 1.0, 2.0, 0.5, growth_mean=0.6,
                               growth_sd=0.1),
               PlannedProposal(Design(), "control", None, None, None)]
    out = published_intervals(planned, {"EX_succ_e": 3.0, "growth": 2.0}, "EX_succ_e")
    assert (out[0].mean, out[0].sd, out[0].growth_sd) == (2.0, 1.5, 0.2)
    assert out[0].acquisition == 1.0  # the rank stays the one made on the model's own sd
    assert out[1].sd is None and out[1].growth_sd is None
    assert published_intervals(planned, {}, "EX_succ_e") is planned
