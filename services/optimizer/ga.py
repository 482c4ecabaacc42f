"""Genetic algorithm (DEAP) over the surrogate: individuals are encoded designs, fitness an acquisition value.

As in the source paper: a ``base.Toolbox`` with attribute, individual and population
registrations, two-point crossover, type-aware mutation (bit flip for knockouts, Gaussian for
continuous levels, a random level for discrete ones), tournament selection, ``algorithms.varAnd``
and a ``tools.HallOfFame``. A repair operator keeps every individual valid.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
from deap import algorithms, base, creator, tools

from schemas import Design
from services.optimizer.context import Candidate, Context
from services.optimizer.space import DesignSpace

Fitness = Callable[[Sequence[Design]], np.ndarray]
"""Batch fitness: one value per design, higher is better."""

STRATEGY = "ga"
INFEASIBLE = -1e9
"""Fitness of a design the organism model says cannot grow above the floor."""


@dataclass(frozen=True)
class GAConfig:
    """Evolution settings."""

    population: int = 80
    generations: int = 30
    cxpb: float = 0.6
    mutpb: float = 0.4
    tournament: int = 3
    hall_of_fame: int = 16
    sigma_start: float = 0.2
    """Gaussian mutation sd as a fraction of the gene's range, in the first generation ..."""
    sigma_end: float = 0.02
    """... and in the last (it shrinks linearly, so late generations refine)."""


def ensure_individual(prefix: str, weights: tuple[float, ...]) -> Any:
    """DEAP's ``creator.<prefix>Individual`` (a list of genes) with a ``<prefix>Fitness`` of these weights.

    DEAP's creator registers classes globally: each is created once per process.
    """
    fitness, individual = f"{prefix}Fitness", f"{prefix}Individual"
    if not hasattr(creator, fitness):
        creator.create(fitness, base.Fitness, weights=weights)
    if not hasattr(creator, individual):
        creator.create(individual, list, fitness=getattr(creator, fitness))
    return getattr(creator, individual)


def _clone(individual: Any) -> Any:
    """A copy of an individual, of its own class (its genes are floats, so a shallow copy; DEAP's default
    deep-copies)."""
    copy = type(individual)(individual)
    if individual.fitness.valid:
        copy.fitness.values = individual.fitness.values
    return copy


class _Evolution:
    """One GA run: the toolbox, its operators and the archive of every evaluated design."""

    def __init__(self, space: DesignSpace, fitness: Fitness, rng: np.random.Generator, config: GAConfig) -> None:
        ensure_individual("Fluxlab", (1.0,))
        self.space, self.fitness, self.rng, self.config = space, fitness, rng, config
        self.sigma = config.sigma_start
        kinds = [g.kind for g in space.genes]
        self.ko = [i for i, k in enumerate(kinds) if k == "knockout"]
        self.continuous = [i for i, k in enumerate(kinds) if k in ("expression", "medium", "parameter")]
        self.levels = [i for i, k in enumerate(kinds) if k == "level"]
        self.archive: dict[str, tuple[Design, float]] = {}
        self.toolbox = self._toolbox()

    def _toolbox(self) -> base.Toolbox:
        tb = base.Toolbox()
        tb.register("attr_design", lambda: list(self.space.encode(self.space.sample(self.rng))))
        tb.register("individual", tools.initIterate, creator.FluxlabIndividual, tb.attr_design)
        tb.register("population", tools.initRepeat, list, tb.individual)
        tb.register("mate", self._mate)
        tb.register("mutate", self._mutate)
        tb.register("select", tools.selTournament, tournsize=self.config.tournament)
        tb.register("clone", _clone)
        return tb

    def _repair(self, ind: list[float]) -> Design:
        design = self.space.repair_vector(ind, self.rng)
        ind[:] = list(self.space.encode(design))
        return design

    def _mate(self, a: Any, b: Any) -> tuple[Any, Any]:
        if len(a) >= 2:
            tools.cxTwoPoint(a, b)
        self._repair(a)
        self._repair(b)
        return a, b

    def _mutate(self, ind: Any) -> tuple[Any]:
        if self.ko:
            bits = [ind[i] for i in self.ko]
            tools.mutFlipBit(bits, indpb=min(0.5, 1.0 / len(bits)))
            for i, bit in zip(self.ko, bits, strict=True):
                ind[i] = float(bit)
        indpb = min(1.0, 2.0 / max(1, len(self.continuous) + len(self.levels)))
        for i in self.continuous:
            if random.random() < indpb:
                ind[i] += random.gauss(0.0, self.sigma * self.space.spans[i])
        for i in self.levels:
            if random.random() < indpb:
                ind[i] = float(random.randrange(len(self.space.genes[i].levels)))
        self._repair(ind)
        return (ind,)

    def evaluate(self, individuals: Sequence[Any]) -> None:
        """Set the fitness of individuals that lack one, with one batched surrogate call."""
        todo = [ind for ind in individuals if not ind.fitness.valid]
        if not todo:
            return
        designs = [self.space.decode(ind) for ind in todo]
        values = np.asarray(self.fitness(designs), dtype=float)
        values = np.where(np.isfinite(values), values, -1e300)
        for ind, design, value in zip(todo, designs, values, strict=True):
            ind.fitness.values = (float(value),)
            self.archive[design.key()] = (design, float(value))

    def run(self, seeds: Sequence[Design] = ()) -> tools.HallOfFame:
        """Evolve a population (seeded with ``seeds``) and return the hall of fame."""
        cfg = self.config
        population = self.toolbox.population(n=max(cfg.population - len(seeds), 2))
        for design in seeds[: cfg.population // 2]:
            population.append(creator.FluxlabIndividual(list(self.space.encode(design))))
        hof = tools.HallOfFame(cfg.hall_of_fame)
        self.evaluate(population)
        hof.update(population)
        for gen in range(cfg.generations):
            self.sigma = cfg.sigma_start + (cfg.sigma_end - cfg.sigma_start) * gen / max(1, cfg.generations - 1)
            offspring = self.toolbox.select(population, len(population) - len(hof))
            offspring = algorithms.varAnd(offspring, self.toolbox, cfg.cxpb, cfg.mutpb)
            self.evaluate(offspring)
            hof.update(offspring)
            population[:] = offspring + [self.toolbox.clone(ind) for ind in hof]
        return hof


def evolve(
    space: DesignSpace,
    fitness: Fitness,
    rng: np.random.Generator,
    config: GAConfig | None = None,
    seeds: Sequence[Design] = (),
) -> list[tuple[Design, float]]:
    """Run the GA; every distinct design it evaluated with its fitness, best first.

    DEAP draws from Python's global ``random``; it is seeded from ``rng`` and restored afterwards.
    """
    state = random.getstate()
    random.seed(int(rng.integers(2**63)))
    try:
        evolution = _Evolution(space, fitness, rng, config or GAConfig())
        evolution.run(seeds)
    finally:
        random.setstate(state)
    return sorted(evolution.archive.values(), key=lambda item: -item[1])


def seed_designs(ctx: Context, count: int) -> list[Design]:
    """The best measured designs, to start the population from what already works."""
    ranked = sorted(ctx.history.measured, key=lambda obs: -ctx.sign * obs[1])
    return [design for design, _ in ranked[:count]]


def propose(n: int, ctx: Context, config: GAConfig | None = None, max_pool: int = 2000) -> list[Candidate]:
    """Every distinct design the GA evaluated (at most ``max_pool``), best acquisition first.

    The whole archive, not just the hall of fame, so that a diverse batch can be picked from it.
    """
    if ctx.surrogate is None:
        raise ValueError("the GA needs a surrogate to evolve against")
    cfg = config or GAConfig()

    def fitness(designs: Sequence[Design]) -> np.ndarray:
        if ctx.feasible is None:
            return ctx.score(designs)[0]
        # the growth-floor LPs run while the surrogate answers (the predictor service, over NATS)
        with ThreadPoolExecutor(1, thread_name_prefix="fluxlab-score") as executor:
            scored = executor.submit(ctx.score, designs)
            feasible = [ctx.feasible(d) for d in designs]
            values = scored.result()[0]
        return np.where(feasible, values, INFEASIBLE)

    ranked = evolve(ctx.space, fitness, ctx.rng, cfg, seeds=seed_designs(ctx, cfg.population // 4))
    fresh = [design for design, value in ranked if value > INFEASIBLE and design.key() not in ctx.excluded][:max_pool]
    return ctx.scored(fresh, STRATEGY)
