"""Builders of valid wire messages for tests and benchmarks' smoke runs."""

from __future__ import annotations

import numpy as np

from schemas import (
    CampaignEvent,
    CampaignEventKind,
    CampaignSpec,
    Design,
    ExecutorKind,
    ExpressionParam,
    Measurement,
    MediumParam,
    Objective,
    SearchSpace,
    Strategy,
    Value,
    WorkOrder,
)


def campaign_spec(campaign_id: str = "c1") -> CampaignSpec:
    """A small succinate campaign spec on E. coli core."""
    return CampaignSpec(
        id=campaign_id, name="test", objective=Objective(target="EX_succ_e"),
        search_space=SearchSpace(knockout_candidates=["b1380", "b2297", "b0903"], max_knockouts=2,
                                 expression=[ExpressionParam(gene="b3956")],
                                 medium=[MediumParam(exchange="EX_o2_e", max_uptake=20.0)]),
    )


def created(spec: CampaignSpec) -> CampaignEvent:
    """The 'created' event of a campaign."""
    return CampaignEvent(campaign_id=spec.id, kind=CampaignEventKind.CREATED, spec=spec)


def work_order(campaign_id: str, i: int, station: str = "s1") -> WorkOrder:
    """Work order number i (run id `run-<i>`)."""
    return WorkOrder(id=f"wo-{campaign_id}-{i}", campaign_id=campaign_id, run_id=f"run-{i}", proposal_id=f"p-{i}",
                     design=Design(knockouts=["b1380"]), queue=ExecutorKind.ROBOT, station=station)


def measurement(campaign_id: str, i: int, station: str = "s1") -> Measurement:
    """A measurement answering work order i."""
    return Measurement(
        id=f"m-{campaign_id}-{i}", campaign_id=campaign_id, run_id=f"run-{i}", design=Design(knockouts=["b1380"]),
        growth_rate=Value(value=0.5 + i * 1e-4, sd=0.01), products={"EX_succ_e": Value(value=1.0 + i * 1e-3, sd=0.05)},
        fluxes={"PGI": Value(value=4.9, sd=0.2), "PFK": Value(value=7.4, sd=0.3)}, station=station,
        batch_id=f"b{i // 96}", plate_id=f"p{i // 96}",
    )


GENES = [f"b{i:04d}" for i in range(8)]
"""Eight placeholder knockout candidates of the planner's cell-like specs."""


def cell_like_spec(strategy: Strategy = Strategy.HYBRID) -> CampaignSpec:
    """A cell-like spec over placeholder genes: knockouts, expression, a medium and forbidden pairs."""
    return CampaignSpec(
        objective=Objective(target="EX_succ_e", growth_floor=0.2),
        search_space=SearchSpace(
            knockout_candidates=GENES,
            max_knockouts=3,
            expression=[
                ExpressionParam(gene="x1", min_fold=0.25, max_fold=4.0),
                ExpressionParam(gene="x2", levels=[0.5, 2.0]),
            ],
            medium=[MediumParam(exchange="EX_glc__D_e", min_uptake=2.0, max_uptake=10.0)],
            forbidden=[["b0000", "b0001"], ["b0007", "b0003"]],
            max_interventions=5,
        ),
        strategy=strategy,
    )


def expand_2x2(tables: list[list[list[int]]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Expand 2x2 tables (rows exposed/unexposed, cols hit/not) into per-unit hit, exposed, stratum arrays."""
    hit: list[int] = []
    exposed: list[int] = []
    strata: list[int] = []
    for k, t in enumerate(tables):
        for (e, h), n in (((1, 1), t[0][0]), ((1, 0), t[0][1]), ((0, 1), t[1][0]), ((0, 0), t[1][1])):
            hit += [h] * n
            exposed += [e] * n
            strata += [k] * n
    return np.array(hit), np.array(exposed), np.array(strata)
