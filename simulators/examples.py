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
    return _function_spec(f"sin-cos-{seed}", "sin(x0) + cos(x1)", Sense.MAXIMIZE,
                          [RangeParam(name=p, low=0.0, high=2 * math.pi) for p in ("x0", "x1")], "sin(x0) + cos(x1)",
                          seed, budget, batch_size)


def hartmann6_spec(seed: int = 0, budget: int = 60, batch_size: int = 6) -> CampaignSpec:
    """Minimise the Hartmann 6-D function on [0, 1]^6 (optimum -3.32237)."""
    return _function_spec(f"hartmann6-{seed}", "Hartmann 6-D", Sense.MINIMIZE,
                          [RangeParam(name=f"x{i}", low=0.0, high=1.0) for i in range(6)], "hartmann6",
                          seed, budget, batch_size)


def _function_spec(campaign_id: str, name: str, sense: Sense, parameters: list[RangeParam], expression: str,
                   seed: int, budget: int, batch_size: int) -> CampaignSpec:
    """A black-box function campaign (objective `y`, no growth floor) measured with 1 % noise."""
    return CampaignSpec(
        id=campaign_id, name=name,
        objective=Objective(target="y", sense=sense, growth_floor=0.0),
        search_space=SearchSpace(parameters=parameters),
        budget=budget, batch_size=batch_size, seed=seed,
        simulator=SimulatorSpec(kind="function", expression=expression, noise=0.01),
    )


KINETIC_PATHWAY_GENES: dict[str, str] = {"b3956": "ppc", "b3236": "mdh", "b1612": "fumA", "b4154": "frdA",
                                         "b4151": "frdD", "b3528": "dctA"}
"""The six designed genes of the "kinetic" truth's succinate pathway (simulators.kinetic)."""


def kinetic_pathway_spec(seed: int = 0, budget: int = 48, batch_size: int = 8) -> CampaignSpec:
    """Balance a six-enzyme succinate pathway by promoter strength (5 levels each, 15,625 designs), planned with
    E. coli core and measured on the "kinetic" truth; growth >= 20 % of wild type."""
    return CampaignSpec(
        id=f"succ-kinetic-{seed}", name="succinate pathway balancing, kinetic truth",
        organism=OrganismSpec(model="textbook"),
        objective=Objective(target="EX_succ_e", sense=Sense.MAXIMIZE, growth_floor=0.2),
        search_space=SearchSpace(
            max_knockouts=0,
            expression=[ExpressionParam(gene=g, min_fold=0.25, max_fold=4.0, levels=EXPRESSION_LEVELS)
                        for g in KINETIC_PATHWAY_GENES],
        ),
        budget=budget, batch_size=batch_size, seed=seed,
        simulator=SimulatorSpec(kind="cell", profile="kinetic", noise=0.05),
    )


def misregulated_spec(seed: int = 0, budget: int = 48, batch_size: int = 8) -> CampaignSpec:
    """The succinate campaign of `succinate_core_spec` measured on the "misregulated" truth."""
    return _succinate_on("misregulated", f"succ-misreg-{seed}", "succinate, misregulated truth", seed, budget,
                         batch_size)


def _succinate_on(profile: str, campaign_id: str, name: str, seed: int, budget: int, batch_size: int) -> CampaignSpec:
    """The campaign of `succinate_core_spec` measured on another truth (cell profile)."""
    spec = succinate_core_spec(seed=seed, budget=budget, batch_size=batch_size)
    assert spec.simulator is not None
    return spec.model_copy(update={
        "id": campaign_id, "name": name, "simulator": spec.simulator.model_copy(update={"profile": profile}),
    })


def function10_spec(name: str, seed: int = 0, budget: int = 132, batch_size: int = 16) -> CampaignSpec:
    """Maximise one of the built-in 10-D functions (ackley10, rastrigin10, levy10, rosenbrock10; maximum 0) on
    its usual box, as a pathway-balancing-sized continuous campaign (132 experiments in batches of 16)."""
    from simulators.functions import BUILTINS

    known = BUILTINS[name]
    return _function_spec(f"{name}-{seed}", f"{name} (negated)", Sense.MAXIMIZE,
                          [RangeParam(name=p, low=lo, high=hi) for p, (lo, hi) in known.bounds.items()], name,
                          seed, budget, batch_size)


def genome_spec(seed: int = 0, budget: int = 48, batch_size: int = 8) -> CampaignSpec:
    """The succinate campaign of `succinate_core_spec` (planned with E. coli core) measured on the "genome" truth,
    a true cell on iJO1366 (simulators.genome): the candidates' b-numbers exist in both models."""
    return _succinate_on("genome", f"succ-genome-{seed}", "succinate, iJO1366 truth", seed, budget, batch_size)
