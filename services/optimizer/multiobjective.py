"""Two objectives (`objective.second_target`): NSGA-II (DEAP) over the model, the batch by expected hypervolume gain.

Why NSGA-II in DEAP rather than Ax's qNEHVI: the ensemble (the predictor service, over NATS) is the model the
campaign plans with, and its designs are knockout sets with expression levels; Ax would fit GPs of its own to
the measurements and optimise a continuous relaxation, several seconds per batch on two cores. NSGA-II runs the
GA's own operators (`services.optimizer.ga`) on two fitnesses, the optimistic bound (mean + beta sd, sign-adjusted)
of each objective, with the growth-floor filter as a constraint (an infeasible design gets the worst fitness).

A quarter of the batch (`ParetoConfig.target_share`, once something is measured) goes to the default planner
for the target alone (the hybrid's GP, local and GA picks: the front's first-objective end, where a campaign's
headline design lies). The rest is chosen greedily from the NSGA-II archive, one-step moves around the
measured Pareto set and random designs: each pick maximises the expected hypervolume improvement over the
measured front (and the picks before it), by Monte-Carlo over the model's sd (independent normal draws per
objective), and its predicted mean then joins the front (the "Kriging believer"), so the next pick goes
elsewhere along it. The acquisition's reference point is the
measured front's nadir less a tenth of its range (the candidates' before anything is measured).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
from deap import base, creator, tools

from schemas import CampaignSpec, Design, Sense
from services.domain.pareto import hypervolume_improvement, non_dominated
from services.optimizer import ga, local
from services.optimizer.context import Candidate, Context
from services.optimizer.selection import DUPLICATE_DISTANCE
from services.optimizer.space import DesignSpace, strain

PLANNER = "pareto"
NSGA2 = "nsga2"
INFEASIBLE = -1e9

Predictor = Callable[[Sequence[Design]], tuple[np.ndarray, np.ndarray]]
"""Mean and sd of one output per design."""


@dataclass(frozen=True)
class ParetoConfig:
    """Settings of the two-objective planner."""

    population: int = 80
    """NSGA-II population (rounded up to a multiple of 4, as DEAP's crowded tournament needs)."""
    generations: int = 30
    beta: float = 1.0
    """Optimism of the NSGA-II fitness: mean + beta sd of each sign-adjusted objective."""
    samples: int = 64
    """Monte-Carlo draws of the model per candidate for the expected hypervolume improvement."""
    per_strain: int | None = 2
    """At most this many designs of one knockout set per batch."""
    local_top: int = 4
    """One-step moves around up to this many measured Pareto-set designs join the pool."""
    target_share: float = 0.25
    """Share of the batch (once something is measured) the default planner picks for the target alone, the
    front's first-objective end; the rest by expected hypervolume improvement. 0: every pick by the latter."""
    local_share: float = 0.0
    """Share of the batch picked first from those moves alone (the measured front refined, as the hybrid's
    local slots refine the incumbent); 0: every pick from the whole pool."""


def second_predictor(surrogate: Any, name: str) -> Predictor | None:
    """The second objective's mean and sd from a surrogate chain (`inner` links), None when it has no such output.

    A link with ``predict_output(designs, name)`` answers any output it was trained on; for ``growth`` a
    ``predict_growth`` will do.
    """
    link = surrogate
    while link is not None:
        output = getattr(link, "predict_output", None)
        if output is not None:
            return lambda designs: output(designs, name)
        growth = getattr(link, "predict_growth", None)
        if name == "growth" and growth is not None:
            return growth  # type: ignore[no-any-return]
        link = getattr(link, "inner", None)
    return None


class TwoObjectives:
    """Sign-adjusted (both maximised) means and sds of the two objectives per design, memoised by design key."""

    def __init__(self, ctx: Context, second: Predictor, second_sense: Sense) -> None:
        if ctx.surrogate is None:
            raise ValueError("two objectives need a surrogate")
        self.first = ctx.surrogate.predict
        self.second = second
        self.signs = np.array([ctx.sign, 1.0 if second_sense == Sense.MAXIMIZE else -1.0])
        self._memo: dict[str, tuple[float, float, float, float]] = {}

    def predict(self, designs: Sequence[Design]) -> tuple[np.ndarray, np.ndarray]:
        """(n, 2) scores (sign x mean) and (n, 2) sds; NaN means count as the worst score."""
        missing = {d.key(): d for d in designs if d.key() not in self._memo}
        if missing:
            todo = list(missing.values())
            m1, s1 = (np.asarray(v, float) for v in self.first(todo))
            m2, s2 = (np.asarray(v, float) for v in self.second(todo))
            for key, row in zip(missing, np.column_stack([m1, s1, m2, s2]), strict=True):
                self._memo[key] = (float(row[0]), float(row[1]), float(row[2]), float(row[3]))
        rows = np.array([self._memo[d.key()] for d in designs], dtype=float).reshape(len(designs), 4)
        mean = rows[:, [0, 2]] * self.signs
        sd = np.nan_to_num(np.abs(rows[:, [1, 3]]), nan=0.0)
        return np.nan_to_num(mean, nan=INFEASIBLE), sd


class _NSGA2(ga._Evolution):  # the GA's toolbox, mutation, crossover and repair, on two fitnesses
    def __init__(self, space: DesignSpace, fitness: Callable[[Sequence[Design]], np.ndarray],
                 rng: np.random.Generator, config: ga.GAConfig) -> None:
        ga.ensure_individual("FluxlabPareto", (1.0, 1.0))
        super().__init__(space, lambda designs: np.zeros(len(designs)), rng, config)
        self.pair_fitness = fitness
        self.scores: dict[str, tuple[Design, np.ndarray]] = {}

    def _toolbox(self) -> base.Toolbox:
        tb = super()._toolbox()  # its clone copies an individual of its own class
        tb.register("individual", tools.initIterate, creator.FluxlabParetoIndividual, tb.attr_design)
        tb.register("population", tools.initRepeat, list, tb.individual)
        return tb

    def evaluate(self, individuals: Sequence[Any]) -> None:
        todo = [ind for ind in individuals if not ind.fitness.valid]
        if not todo:
            return
        designs = [self.space.decode(ind) for ind in todo]
        values = np.asarray(self.pair_fitness(designs), dtype=float).reshape(len(designs), 2)
        values = np.where(np.isfinite(values), values, INFEASIBLE)
        for ind, design, value in zip(todo, designs, values, strict=True):
            ind.fitness.values = (float(value[0]), float(value[1]))
            self.scores[design.key()] = (design, value)

    def run(self, seeds: Sequence[Design] = ()) -> tools.HallOfFame:
        cfg = self.config
        size = max(4, -(-cfg.population // 4) * 4)
        seeded = [creator.FluxlabParetoIndividual(list(self.space.encode(d))) for d in seeds[: size // 2]]
        population = self.toolbox.population(n=size - len(seeded)) + seeded
        self.evaluate(population)
        population = tools.selNSGA2(population, size)  # sets the crowding distances the tournament reads
        for gen in range(cfg.generations):
            self.sigma = cfg.sigma_start + (cfg.sigma_end - cfg.sigma_start) * gen / max(1, cfg.generations - 1)
            parents = tools.selTournamentDCD(population, size)
            offspring = [self.toolbox.clone(ind) for ind in parents]
            for i in range(1, len(offspring), 2):
                if random.random() < cfg.cxpb:
                    self.toolbox.mate(offspring[i - 1], offspring[i])
                    del offspring[i - 1].fitness.values, offspring[i].fitness.values
            for ind in offspring:
                if random.random() < cfg.mutpb:
                    self.toolbox.mutate(ind)
                    del ind.fitness.values
            self.evaluate(offspring)
            population = tools.selNSGA2(population + offspring, size)
        return tools.HallOfFame(1)


def nsga2(ctx: Context, model: TwoObjectives, config: ParetoConfig, seeds: Sequence[Design] = ()) -> list[Design]:
    """Every feasible design NSGA-II evaluated on the optimistic bounds, first non-dominated sort order."""

    def fitness(designs: Sequence[Design]) -> np.ndarray:
        def bound() -> np.ndarray:
            mean, sd = model.predict(designs)
            return mean + config.beta * sd

        if ctx.feasible is None:
            return bound()
        with ThreadPoolExecutor(1, thread_name_prefix="fluxlab-score") as executor:  # the LPs beside the model
            scored = executor.submit(bound)
            feasible = np.array([ctx.feasible(d) for d in designs], dtype=bool)
            values = scored.result()
        return np.where(feasible[:, None], values, INFEASIBLE)

    ga_config = ga.GAConfig(population=config.population, generations=config.generations)
    state = random.getstate()
    random.seed(int(ctx.rng.integers(2**63)))
    try:
        evolution = _NSGA2(ctx.space, fitness, ctx.rng, ga_config)
        evolution.run(seeds)
    finally:
        random.setstate(state)
    kept = [(d, v) for d, v in evolution.scores.values() if np.all(v > INFEASIBLE) and d.key() not in ctx.excluded]
    if not kept:
        return []
    values = np.array([v for _, v in kept])
    order: list[int] = []
    remaining = list(range(len(kept)))
    while remaining:  # successive non-dominated fronts
        front = [remaining[i] for i in non_dominated(values[remaining])]
        order += front
        taken = set(front)
        remaining = [i for i in remaining if i not in taken]
    return [kept[i][0] for i in order]


def measured_front(ctx: Context, signs: np.ndarray) -> tuple[list[Design], np.ndarray]:
    """The measured designs meeting the floor and their sign-adjusted (both maximised) readings, (k, 2)."""
    points = ctx.history.pareto_points
    designs = [d for d, _, _ in points]
    values = np.array([(a, b) for _, a, b in points], dtype=float).reshape(len(points), 2) * signs
    return designs, values


def reference_point(front: np.ndarray, candidates: np.ndarray) -> np.ndarray:
    """The acquisition's reference: the nadir of the measured front (else of the candidates) less 10 % of its range."""
    basis = front if len(front) else candidates
    basis = basis[np.all(basis > INFEASIBLE / 2, axis=1)] if len(basis) else basis
    if not len(basis):
        return np.zeros(2)
    low, high = basis.min(axis=0), basis.max(axis=0)
    span = np.where(high > low, high - low, np.maximum(np.abs(low), 1.0))
    return low - 0.1 * span


def expected_batch(candidates: Sequence[Candidate], mean: np.ndarray, sd: np.ndarray, n: int, ctx: Context,
                   accept: Callable[[Candidate], bool], front: np.ndarray, reference: np.ndarray,
                   config: ParetoConfig, reserved: int = 0) -> list[Candidate]:
    """Greedy batch by Monte-Carlo expected hypervolume improvement, each pick's mean then believed measured.

    The first ``reserved`` picks come from the local moves only (origin ``pareto:local``), the rest from all.
    """
    if not candidates or n <= 0:
        return []
    is_local = np.array([c.origin.source == local.STRATEGY for c in candidates], dtype=bool)
    draws = mean[None] + sd[None] * ctx.rng.standard_normal((config.samples, *mean.shape))
    units = np.array([ctx.space.unit(c.design) for c in candidates]).reshape(len(candidates), ctx.space.dim)
    closest = np.full(len(candidates), np.inf)
    for design in ctx.history.pending:
        closest = np.minimum(closest, _distances(units, ctx.space.unit(design)))
    # ties (nothing expected to improve) go by the optimistic bound's summed rank
    optimistic = mean + config.beta * sd
    tiebreak = np.argsort(np.argsort(optimistic, axis=0), axis=0).sum(axis=1) / max(1, 2 * len(candidates))
    believed = front.copy()
    open_ = np.ones(len(candidates), dtype=bool)
    chosen: list[Candidate] = []
    strains: dict[frozenset[str], int] = {}
    while len(chosen) < n and open_.any():
        gain = hypervolume_improvement(draws, believed, reference).mean(axis=0)
        score = gain + 1e-9 * max(float(gain.max()), 1e-12) * tiebreak
        score[~open_ | (closest < DUPLICATE_DISTANCE)] = -np.inf
        if len(chosen) < reserved and np.isfinite(score[is_local]).any():
            score[~is_local] = -np.inf
        best = int(np.argmax(score))
        if not np.isfinite(score[best]):
            break
        open_[best] = False
        candidate = candidates[best]
        knockouts = strain(candidate.design)
        if config.per_strain is not None and knockouts and strains.get(knockouts, 0) >= config.per_strain:
            continue
        if not accept(candidate):
            continue
        candidate.acquisition = float(gain[best])
        strains[knockouts] = strains.get(knockouts, 0) + 1
        chosen.append(candidate)
        believed = np.vstack([believed, mean[best]])
        closest = np.minimum(closest, _distances(units, units[best]))
    return chosen


def _distances(units: np.ndarray, point: np.ndarray) -> np.ndarray:
    if units.shape[1] == 0:
        return np.zeros(len(units))
    return np.sqrt(np.mean((units - point) ** 2, axis=1))


def applies(spec: CampaignSpec, ctx: Context) -> bool:
    """True when the campaign has a second target and the surrogate predicts it (else: the target alone)."""
    second_name = spec.objective.second_target
    if not second_name or ctx.surrogate is None:
        return False
    return second_predictor(ctx.surrogate, second_name) is not None


def target_slots(n: int, ctx: Context, config: ParetoConfig) -> int:
    """Picks of an n-design batch left to the default planner for the target alone (none before a measurement)."""
    if not ctx.history.measured or n <= 1:
        return 0
    return min(n - 1, round(config.target_share * n))


def plan(spec: CampaignSpec, n: int, ctx: Context, accept: Callable[[Candidate], bool],
         config: ParetoConfig | None = None, taken: Sequence[Candidate] = ()) -> list[Candidate] | None:
    """Up to ``n`` candidates for a two-objective campaign; None when the model has no second output (the
    planner then plans for the target alone). ``taken``: the batch's picks made already (for the target alone),
    believed on the front at their predicted means."""
    second_name = spec.objective.second_target
    if not second_name or ctx.surrogate is None or n <= 0:
        return None
    second = second_predictor(ctx.surrogate, second_name)
    if second is None:
        return None
    config = config or ParetoConfig()
    model = TwoObjectives(ctx, second, spec.objective.second_sense)
    front_designs, front = measured_front(ctx, model.signs)
    ctx.excluded |= {c.design.key() for c in taken}
    believed = np.vstack([front, model.predict([c.design for c in taken])[0]]) if taken else front
    on_front = [front_designs[i] for i in non_dominated(front)] if len(front) else []
    designs = nsga2(ctx, model, config, seeds=on_front)
    labelled = [(d, NSGA2) for d in designs]
    seen = {d.key() for d in designs} | ctx.excluded
    for design in on_front[: config.local_top]:
        for move in local.neighbours(ctx.space, design, ctx.rng):
            if move.key() not in seen:
                seen.add(move.key())
                labelled.append((move, local.STRATEGY))
    labelled += [(d, "random") for d in ctx.space.sample_unique(2 * n, ctx.rng, exclude=seen)]
    pool = [(d, s) for d, s in labelled if ctx.space.is_valid(d)[0]]
    if not pool:
        return []
    mean, sd = model.predict([d for d, _ in pool])
    first_mean = mean[:, 0] * model.signs[0]
    candidates = [Candidate(d, f"{PLANNER}:{s}", None, float(m), float(s1))
                  for (d, s), m, s1 in zip(pool, first_mean, sd[:, 0], strict=True)]
    reference = reference_point(front, mean)
    reserved = int(config.local_share * n) if len(front) else 0
    return expected_batch(candidates, mean, sd, n, ctx, accept, believed, reference, config, reserved)
