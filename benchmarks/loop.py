"""Closed simulated campaigns in-process (no NATS): how fast each optimizer strategy finds the optimum.

Per landscape, strategy and seed: repeat {plan a batch with the strategy (surrogate = the predictor's
DeepModel ensemble retrained on the measurements so far; before any, the organism model's in-silico
MOMA answer for ga/hybrid; none for `random`) -> measure on the simulated Lab (noise on) -> record}
until the budget is spent. After each batch two figures, each divided by the true optimum:

* `best_fraction_by_batch`: the noise-free value of the best design built and measured so far (for
  cells only designs meeting the growth floor count) -- "best found", the usual benchmark convention
  (the design exists and has been tested; BoTorch's tutorials score "best observed" the same way).
* `picked_fraction_by_batch`: the noise-free value of the design with the best *reading* (measured
  growth meeting the floor) -- what the campaign itself would name as its best. With one noisy reading
  per design (no replicates: nothing is proposed twice), a design 10 % better than a dozen others is
  often out-read by one of them, so this lags the first.

`experiments_to_95` (and `experiments_to_95_picked`): experiments until that figure first reached 95 %
of the optimum, median over seeds; null when the median seed never got there within its budget
(`reached_95` / `reached_95_picked` count the seeds that did, `budget` says how far it looked).
`batch_s`: median seconds to plan one batch (training excluded, reported as `train_s`). Random search
gets a larger budget so its figure is measured rather than censored.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from benchmarks.common import emit, parser, progress_console
from schemas import CampaignSpec, Design, Measurement, Sense, Strategy
from services.optimizer.context import History
from services.optimizer.envelope import within_envelope
from services.optimizer.feasibility import FeasibilityFilter, feasibility_for
from services.optimizer.insilico import insilico_for
from services.optimizer.planner import plan_batch
from services.optimizer.space import DesignSpace
from services.optimizer.surrogate import Surrogate

STRATEGIES = (Strategy.HYBRID, Strategy.GA, Strategy.BO, Strategy.RANDOM)
BATCH = 8


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


def _cell_landscape(seed: int) -> Landscape:
    from simulators.examples import succinate_core_spec
    from simulators.ground_truth import true_optimum
    from simulators.lab import Lab, NoiseConfig
    from simulators.truecell import TrueCell

    spec = succinate_core_spec(seed=seed)
    assert spec.simulator is not None
    cell = TrueCell(spec.organism.model, spec.simulator.profile)
    lab = Lab(cell, NoiseConfig(cv=spec.simulator.noise), seed=seed)
    floor = spec.objective.growth_floor * cell.respond(Design()).growth
    target = spec.objective.target

    def truth(design: Design) -> float:
        state = cell.respond(design)
        return state.exchange.get(target, 0.0) if state.status == "ok" and state.growth >= floor else 0.0

    def measure(design: Design, run_id: str) -> Measurement | None:
        result = lab.run(design, spec.id, run_id, readouts=[target])
        return result if isinstance(result, Measurement) else None

    return Landscape("succinate_core", spec, measure, truth, true_optimum(spec, cell).value, list, floor,
                     cell.organism)


def _function_landscape(name: str, seed: int) -> Landscape:
    from simulators.examples import hartmann6_spec, sin_cos_spec
    from simulators.functions import FunctionSimulator
    from simulators.ground_truth import true_optimum
    from simulators.lab import Lab, NoiseConfig

    spec = sin_cos_spec(seed=seed) if name == "sin_cos" else hartmann6_spec(seed=seed)
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

    return Landscape(name, spec, measure, lambda d: sim.evaluate(d.parameters), true_optimum(spec).value, features)


class EnsembleSurrogate:
    """The predictor's DeepModel ensemble, retrained from scratch on every measurement so far.

    Cells: the 'hybrid' kind (pFBA prior + learned residual) on designs, outputs objective and growth.
    Functions: the 'mlp' kind on the designs' unit-scaled parameter vectors.
    """

    def __init__(self, landscape: Landscape, measured: Sequence[Measurement], seed: int, epochs: int,
                 kind: str = "hybrid") -> None:
        from services.predictor.deepmodel import DeepModel

        self.landscape = landscape
        target = landscape.spec.objective.target
        self.names = [target, "growth"] if landscape.organism is not None else [target]
        y = np.array([[m.readout(n) if m.readout(n) is not None else np.nan for n in self.names] for m in measured])
        organism = "textbook" if landscape.organism is not None else None
        self.model = DeepModel(kind=kind if organism else "mlp", organism=organism,
                               search_space=landscape.spec.search_space, epochs=epochs, seed=seed)
        started = time.perf_counter()
        self.model.train(landscape.features([m.design for m in measured]), y, names=self.names)
        self.train_s = time.perf_counter() - started

    def _column(self, designs: Sequence[Design], name: str) -> tuple[np.ndarray, np.ndarray]:
        result = self.model.predict(self.landscape.features(designs))
        j = result.names.index(name)
        return result.mean[:, j], result.sd[:, j]

    def predict(self, designs: Sequence[Design]) -> tuple[np.ndarray, np.ndarray]:
        """Objective mean and sd."""
        return self._column(designs, self.names[0])



class CellEnsembleSurrogate(EnsembleSurrogate):
    """The ensemble on a cell campaign, which also predicts growth."""

    def predict_growth(self, designs: Sequence[Design]) -> tuple[np.ndarray, np.ndarray]:
        """Growth mean and sd."""
        return self._column(designs, "growth")


@dataclass
class CampaignTrace:
    """One simulated campaign's record."""

    fractions: list[float] = field(default_factory=list)
    """Best noise-free value among the designs measured so far, after each batch (fraction of the optimum)."""
    picked: list[float] = field(default_factory=list)
    """Noise-free value of the design with the best reading so far, after each batch."""
    experiments: list[int] = field(default_factory=list)
    batch_s: list[float] = field(default_factory=list)
    train_s: list[float] = field(default_factory=list)
    infeasible_rejected: int = 0

    def experiments_to(self, level: float, picked: bool = False) -> int | None:
        """Experiments spent when the best (or the picked) design first reached ``level`` of the optimum."""
        series = self.picked if picked else self.fractions
        return next((n for n, f in zip(self.experiments, series, strict=True) if f >= level - 1e-9), None)


def _eligible(landscape: Landscape, measured: Sequence[Measurement]) -> list[Measurement]:
    target = landscape.spec.objective.target
    return [m for m in measured if m.readout(target) is not None
            and (landscape.organism is None or (m.readout("growth") or 0.0) >= landscape.growth_floor_abs)]


def _best_reading(landscape: Landscape, eligible: Sequence[Measurement]) -> Design | None:
    sign = 1.0 if landscape.spec.objective.sense == Sense.MAXIMIZE else -1.0
    target = landscape.spec.objective.target
    return max(eligible, key=lambda m: sign * (m.readout(target) or 0.0)).design if eligible else None


def _fraction(landscape: Landscape, design: Design | None) -> float:
    return 0.0 if design is None else landscape.truth(design) / landscape.optimum


def _train(landscape: Landscape, measured: Sequence[Measurement], seed: int, epochs: int,
           trace: CampaignTrace) -> Surrogate | None:
    kind = CellEnsembleSurrogate if landscape.organism is not None else EnsembleSurrogate
    ensemble = kind(landscape, measured, seed, epochs)
    trace.train_s.append(ensemble.train_s)
    return within_envelope(landscape.spec, ensemble)


def run_campaign(landscape: Landscape, strategy: Strategy, seed: int, budget: int, epochs: int) -> CampaignTrace:
    """Run one closed campaign and return its trace."""
    rng = np.random.default_rng(seed)
    spec = landscape.spec
    feasibility: FeasibilityFilter | None = feasibility_for(spec, landscape.organism)
    prior = insilico_for(spec, landscape.organism)
    history, measured, trace = History(), list[Measurement](), CampaignTrace()
    surrogate: Surrogate | None = None
    uses_model = strategy != Strategy.RANDOM
    while len(measured) + len(history.failed) < budget:
        n = min(BATCH, budget - len(measured) - len(history.failed))
        started = time.perf_counter()
        proposals = plan_batch(spec, history, surrogate, n, rng, feasibility=feasibility, strategy=strategy,
                               prior=prior)
        trace.batch_s.append(time.perf_counter() - started)
        if not proposals:
            break
        for i, proposal in enumerate(proposals):
            result = landscape.measure(proposal.design, f"s{seed}-{strategy}-{len(measured) + i}")
            if result is None:
                history.failed.append(proposal.design)
                continue
            measured.append(result)
            history.measured.append((result.design, result.readout(spec.objective.target) or 0.0))
        if uses_model and len(measured) >= 2:
            surrogate = _train(landscape, measured, seed, epochs, trace)
        eligible = _eligible(landscape, measured)
        # fractions rise towards 1 for either sense, so the best found is the largest
        trace.fractions.append(max((_fraction(landscape, m.design) for m in eligible), default=0.0))
        trace.picked.append(_fraction(landscape, _best_reading(landscape, eligible)))
        trace.experiments.append(len(measured) + len(history.failed))
    trace.infeasible_rejected = feasibility.n_rejected if feasibility else 0
    return trace


def _median_or_none(values: Sequence[int | None], budget: int) -> int | None:
    # Censored runs count as beyond the budget; the median is null when it falls among them.
    ranked = sorted(v if v is not None else math.inf for v in values)
    mid = statistics.median(ranked) if ranked else math.inf
    return None if not math.isfinite(mid) or mid > budget else round(mid)


def summarise(traces: Sequence[CampaignTrace], budget: int) -> dict[str, Any]:
    """Medians over seeds for one strategy."""
    n_batches = max(len(t.fractions) for t in traces)
    def by_batch(series: Callable[[CampaignTrace], list[float]]) -> list[float]:
        return [round(statistics.median(series(t)[min(b, len(series(t)) - 1)] for t in traces), 4)
                for b in range(n_batches)]

    reached = [t.experiments_to(0.95) for t in traces]
    picked = [t.experiments_to(0.95, picked=True) for t in traces]
    best = by_batch(lambda t: t.fractions)
    return {
        "experiments_to_95": _median_or_none(reached, budget),
        "reached_95": sum(r is not None for r in reached),
        "experiments_to_95_by_seed": reached,
        "experiments_to_95_picked": _median_or_none(picked, budget),
        "reached_95_picked": sum(r is not None for r in picked),
        "seeds": len(traces),
        "budget": budget,
        "best_fraction_by_batch": best,
        "picked_fraction_by_batch": by_batch(lambda t: t.picked),
        "final_fraction": best[-1],
        "batch_s": round(statistics.median(s for t in traces for s in t.batch_s), 3),
        "train_s": round(statistics.median([s for t in traces for s in t.train_s] or [0.0]), 3),
        "infeasible_rejected": int(statistics.median(t.infeasible_rejected for t in traces)),
    }


def bench_landscape(make: Callable[[int], Landscape], seeds: int, budget: int, random_budget: int,
                    epochs: int, strategies: Sequence[Strategy] = STRATEGIES) -> dict[str, Any]:
    """All strategies on one landscape over the same seeds."""
    out: dict[str, Any] = {}
    optimum = math.nan
    for strategy in strategies:
        traces = []
        for seed in range(seeds):
            landscape = make(seed)
            optimum = landscape.optimum
            limit = random_budget if strategy == Strategy.RANDOM else budget
            traces.append(run_campaign(landscape, strategy, seed, limit, epochs))
            progress_console.log(f"{landscape.name} {strategy} seed {seed}: {traces[-1].fractions[-1]:.3f}")
        out[str(strategy)] = summarise(traces, random_budget if strategy == Strategy.RANDOM else budget)
    return {"true_optimum": optimum, "strategies": out}


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print one JSON object."""
    p = parser("Closed simulated DBTL campaigns per optimizer strategy (in-process, no NATS).")
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument("--budget", type=int, default=48)
    p.add_argument("--random-budget", type=int, default=400)
    p.add_argument("--epochs", type=int, default=150)
    args = p.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    if args.quick:
        args.seeds, args.budget, args.random_budget, args.epochs = 1, 16, 24, 30
    started = time.perf_counter()
    cell = bench_landscape(_cell_landscape, args.seeds, args.budget, args.random_budget, args.epochs)
    functions = {
        name: bench_landscape(lambda s, n=name: _function_landscape(n, s), args.seeds, args.budget,  # type: ignore[misc]
                              args.random_budget, args.epochs)
        for name in ("sin_cos", "hartmann6")
    }
    result = {
        "landscape": "succinate_core", "batch_size": BATCH, "seeds": args.seeds,
        **cell, "functions": functions, "wall_s": round(time.perf_counter() - started, 1),
    }
    emit(result, args.json, "loop benchmark")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
