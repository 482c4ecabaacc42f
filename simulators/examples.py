"""Example campaigns used by the optimizer benchmark, the demo and the tests."""

from __future__ import annotations

import math

from schemas.campaign import (
    CampaignSpec,
    ExpressionParam,
    Objective,
    OrganismSpec,
    RangeParam,
    SearchSpace,
    Sense,
    SimulatorSpec,
)

SUCCINATE_KNOCKOUT_CANDIDATES: dict[str, str] = {
    "b1380": "ldhA", "b1241": "adhE", "b2297": "pta", "b2296": "ackA", "b0903": "pflB", "b0723": "sdhA",
    "b1612": "fumA", "b3236": "mdh", "b1101": "ptsG", "b1676": "pykF", "b1854": "pykA", "b1852": "zwf",
    "b4025": "pgi", "b4015": "aceA", "b4014": "aceB", "b2463": "maeB", "b1479": "maeA", "b0726": "sucA",
    "b0728": "sucC", "b1136": "icd", "b4154": "frdA", "b1602": "pntA", "b3962": "udhA", "b0733": "cydA",
    "b1702": "ppsA",
}
"""25 E. coli central carbon genes (b-number -> name) that are classic succinate-engineering targets."""

SUCCINATE_EXPRESSION_GENES: dict[str, str] = {"b3956": "ppc", "b0720": "gltA", "b1136": "icd"}
EXPRESSION_LEVELS = [0.25, 0.5, 1.0, 2.0, 4.0]


def succinate_core_spec(seed: int = 0, budget: int = 48, batch_size: int = 8) -> CampaignSpec:
    """Maximise succinate secretion (EX_succ_e) in E. coli core: <= 3 of 25 knockouts, 3 expression genes,
    growth >= 20 % of wild type."""
    return CampaignSpec(
        id=f"succ-core-{seed}", name="succinate, E. coli core", organism=OrganismSpec(model="textbook"),
        objective=Objective(target="EX_succ_e", sense=Sense.MAXIMIZE, growth_floor=0.2),
        search_space=SearchSpace(
            knockout_candidates=list(SUCCINATE_KNOCKOUT_CANDIDATES), max_knockouts=3,
            expression=[ExpressionParam(gene=g, min_fold=0.25, max_fold=4.0, levels=EXPRESSION_LEVELS)
                        for g in SUCCINATE_EXPRESSION_GENES],
        ),
        budget=budget, batch_size=batch_size, seed=seed,
        simulator=SimulatorSpec(kind="cell", profile="default", noise=0.05),
    )


def sin_cos_spec(seed: int = 0, budget: int = 30, batch_size: int = 5) -> CampaignSpec:
    """Maximise sin(x0) + cos(x1) on [0, 2 pi]^2 (optimum 2)."""
    return CampaignSpec(
        id=f"sin-cos-{seed}", name="sin(x0) + cos(x1)",
        objective=Objective(target="y", sense=Sense.MAXIMIZE, growth_floor=0.0),
        search_space=SearchSpace(parameters=[RangeParam(name=p, low=0.0, high=2 * math.pi) for p in ("x0", "x1")]),
        budget=budget, batch_size=batch_size, seed=seed,
        simulator=SimulatorSpec(kind="function", expression="sin(x0) + cos(x1)", noise=0.01),
    )


def hartmann6_spec(seed: int = 0, budget: int = 60, batch_size: int = 6) -> CampaignSpec:
    """Minimise the Hartmann 6-D function on [0, 1]^6 (optimum -3.32237)."""
    return CampaignSpec(
        id=f"hartmann6-{seed}", name="Hartmann 6-D",
        objective=Objective(target="y", sense=Sense.MINIMIZE, growth_floor=0.0),
        search_space=SearchSpace(parameters=[RangeParam(name=f"x{i}", low=0.0, high=1.0) for i in range(6)]),
        budget=budget, batch_size=batch_size, seed=seed,
        simulator=SimulatorSpec(kind="function", expression="hartmann6", noise=0.01),
    )
