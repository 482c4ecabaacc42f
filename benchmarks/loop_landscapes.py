"""The loop benchmark's landscapes: campaigns with a simulated lab, a noise-free truth and a known optimum.

Cells (the campaign plans with E. coli core; batches of 8, budget 48):

* ``succinate_core`` -- the "default" truth, the planning model's twin plus hidden budget and regulation;
* ``misregulated`` -- the same campaign on 36 strong hidden regulatory effects among its own genes;
* ``kinetic`` -- six pathway genes at five promoter levels on a Michaelis-Menten pathway with burden and
  a toxic intermediate (simulators.kinetic); 15,625 designs, optimum by exhaustive search;
* ``genome`` -- the succinate campaign measured on a true cell on iJO1366 (simulators.genome): isozymes,
  alternative routes, its own budget and regulation; optimum by the staged search of simulators.ground_truth.

Functions: ``sin_cos`` and ``hartmann6`` (batches of 8, budget 48) and the 10-D ``ackley10``,
``rastrigin10``, ``levy10`` and ``rosenbrock10`` maximised as negatives (batches of 16, budget 132).

Each landscape scores a noise-free value as ``score``: the fraction of the optimum (cells, sin_cos,
hartmann6), or for the 10-D functions (optimum 0) the gap closed, (value - median of random designs) /
(optimum - median of random designs), the median over 4,096 uniform designs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from schemas import CampaignSpec, Design, Measurement
from services.optimizer.space import DesignSpace

CELLS = ("succinate_core", "misregulated", "kinetic", "genome")
FUNCTIONS = ("sin_cos", "hartmann6")
FUNCTIONS_10D = ("ackley10", "rastrigin10", "levy10", "rosenbrock10")
ALL = (*CELLS, *FUNCTIONS, *FUNCTIONS_10D)
_CELLS: dict[tuple[str, str], Any] = {}


@dataclass
class Landscape:
    """A campaign with its simulated lab, noise-free truth and optimum."""

    name: str
    spec: CampaignSpec
    measure: Callable[[Design, str], Measurement | None]
    truth: Callable[[Design], float]
    optimum: float
    features: Callable[[Sequence[Design]], Any]
    growth_floor_abs: float = 0.0
    organism: Any = None
    batch: int = 8
    baseline: float = 0.0
    """Median value of random designs (the 10-D functions' gap closed starts there)."""
    score_kind: str = "fraction"
    optimum_method: str = ""
    true_growth: Callable[[Design], float] | None = None
    """Cells: a design's noise-free growth (1/h) in the simulated cell."""

    def score(self, value: float) -> float:
        """A noise-free value as a fraction of the optimum, or as gap closed (see the module doc)."""
        if self.score_kind == "gap_closed":
            return (value - self.baseline) / (self.optimum - self.baseline)
        return value / self.optimum


def cell_landscape(name: str, seed: int) -> Landscape:
    """One of CELLS for a seed (the seed sets the lab's noise and the campaign's seed, not the cell)."""
    from services.domain.organism import load_organism
    from simulators.cells import make_cell
    from simulators.examples import genome_spec, kinetic_pathway_spec, misregulated_spec, succinate_core_spec
    from simulators.ground_truth import true_optimum
    from simulators.lab import Lab, NoiseConfig

    makers = {"succinate_core": succinate_core_spec, "misregulated": misregulated_spec,
              "kinetic": kinetic_pathway_spec, "genome": genome_spec}
    spec = makers[name](seed=seed)
    assert spec.simulator is not None
    key = (spec.organism.model, spec.simulator.profile)
    if key not in _CELLS:  # a cell is a pure function of its profile: one per process serves every seed
        _CELLS[key] = make_cell(*key)
    cell = _CELLS[key]
    lab = Lab(cell, NoiseConfig(cv=spec.simulator.noise), seed=seed)
    floor = spec.objective.growth_floor * cell.respond(Design()).growth
    target = spec.objective.target

    def truth(design: Design) -> float:
        state = cell.respond(design)
        return state.exchange.get(target, 0.0) if state.status == "ok" and state.growth >= floor else 0.0

    def measure(design: Design, run_id: str) -> Measurement | None:
        result = lab.run(design, spec.id, run_id, readouts=[target])
        return result if isinstance(result, Measurement) else None

    optimum = true_optimum(spec, cell)
    planning = load_organism(spec.organism.model)  # the campaign's model (the cell may run on another)
    return Landscape(name, spec, measure, truth, optimum.value, list, floor, planning,
                     optimum_method=optimum.method, true_growth=lambda design: cell.respond(design).growth)


def function_landscape(name: str, seed: int) -> Landscape:
    """One of FUNCTIONS or FUNCTIONS_10D for a seed (the seed sets the noise and the campaign's seed)."""
    from simulators.examples import function10_spec, hartmann6_spec, sin_cos_spec
    from simulators.functions import FunctionSimulator
    from simulators.ground_truth import true_optimum
    from simulators.lab import Lab, NoiseConfig

    wide = name in FUNCTIONS_10D
    spec = (function10_spec(name, seed=seed) if wide else
            sin_cos_spec(seed=seed) if name == "sin_cos" else hartmann6_spec(seed=seed))
    assert spec.simulator is not None and spec.simulator.expression is not None
    params = [p.name for p in spec.search_space.parameters]
    sim = FunctionSimulator(spec.simulator.expression, params, output=spec.objective.target)
    lab = Lab(sim, NoiseConfig(cv=0.0, abs_sd=spec.simulator.noise, batch_cv=0.0), seed=seed)
    space = DesignSpace.from_spec(spec)

    def measure(design: Design, run_id: str) -> Measurement | None:
        result = lab.run(design, spec.id, run_id)
        return result if isinstance(result, Measurement) else None

    def features(designs: Sequence[Design]) -> np.ndarray:
        return np.array([space.unit(d) for d in designs])

    def truth(design: Design) -> float:
        return sim.evaluate(design.parameters)

    optimum = true_optimum(spec)
    landscape = Landscape(name, spec, measure, truth, optimum.value, features, batch=16 if wide else 8,
                          optimum_method=optimum.method)
    if wide:
        landscape.baseline = random_median(spec, sim)
        landscape.score_kind = "gap_closed"
    return landscape


def random_median(spec: CampaignSpec, sim: Any, n: int = 4096) -> float:
    """Median noise-free value of ``n`` uniform designs over the campaign's box (seeded, the same every run)."""
    rng = np.random.default_rng(0)
    params = spec.search_space.parameters
    low, high = np.array([p.low for p in params]), np.array([p.high for p in params])
    points = low + rng.random((n, len(params))) * (high - low)
    return float(np.median([sim.evaluate(dict(zip([p.name for p in params], x, strict=True))) for x in points]))


def make_landscape(name: str, seed: int) -> Landscape:
    """Any landscape of ALL by name."""
    if name in CELLS:
        return cell_landscape(name, seed)
    if name in (*FUNCTIONS, *FUNCTIONS_10D):
        return function_landscape(name, seed)
    raise ValueError(f"landscapes: unknown landscape {name!r}; known: {', '.join(ALL)}")
