"""Closed simulated campaigns in-process (no NATS): how fast each optimizer strategy finds the optimum.

Landscapes (benchmarks.loop_landscapes): four cells that the campaign plans with E. coli core (its
twin ``succinate_core``, and three truths the model does not describe: ``misregulated``, ``kinetic`` and
``genome``, a true cell on iJO1366),
and test functions (``sin_cos``, ``hartmann6``, and 10-D ``ackley10``, ``rastrigin10``, ``levy10``,
``rosenbrock10`` in batches of 16 up to 132 experiments).

Strategies, all on the same seeds (the seed sets the lab's noise and the planner's random stream):
fluxlab's ``hybrid`` (default), ``ga``, ``bo`` and ``random``; ``fixed`` (the default before 2026-12-06: fixed
GP and local shares, one-step local moves) and ``adaptive`` (adaptive shares without the trust region); ``local``
(the default's local-move generator alone, benchmarks.loop_peers); ``insilico`` (cells only: rank by the
organism model's MOMA answer, batch after batch, no learning: the GA over the in-silico surrogate with
the planner's guarantees); ``ax`` (plain Ax, benchmarks.loop_peers); ``baybe`` (BayBE's default recommender,
benchmarks.loop_baybe; the optional extra ``bench``: where baybe is not installed, or a discrete space is too large
to list for it, the strategy's entry is ``{"skipped": reason}``). Per batch: plan a batch (surrogate
= the predictor's DeepModel ensemble retrained on the measurements so far; before any, the organism
model's in-silico answer for ga/hybrid) -> measure on the simulated lab (noise on) -> record, until
the budget is spent. After each batch two figures, each scored by the landscape (fraction of the true
optimum, or gap closed on the 10-D functions):

* ``best_fraction_by_batch``: the noise-free value of the best design built and measured so far (for
  cells only designs meeting the growth floor count) -- "best found".
* ``picked_fraction_by_batch``: the noise-free value of the design with the best *reading* (measured
  growth meeting the floor) -- what the campaign itself would name as its best.
* ``below_floor_fraction`` (cells): the share of all proposals, over the seeds, whose noise-free growth in
  the simulated cell is below the growth floor (``below_floor_by_seed``: the count per seed). The planner's
  feasibility filter learns from measured growth after each batch (`FeasibilityFilter.calibrate`).

``experiments_to_90`` / ``experiments_to_95`` (``_picked`` for the second figure): experiments until the
figure first reached 90 % / 95 %, median over seeds; null when the median seed never got there within
its budget (``reached_*`` count the seeds that did, ``budget`` says how far it looked). ``batch_s``:
median seconds to plan one batch (training excluded, reported as ``train_s``). Random search on the
cells and the 2-6-D functions gets a larger budget so its figure is measured rather than censored.
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
from benchmarks.loop_calibration import CalibrationTracker, CoverageRecord, summarise_coverage
from benchmarks.loop_landscapes import ALL, CELLS, FUNCTIONS_10D, Landscape, make_landscape
from benchmarks.loop_replicates import NamedBest, summarise_named, update_history
from schemas import Design, Measurement, Sense, Strategy
from services.optimizer.context import History
from services.optimizer.envelope import within_envelope
from services.optimizer.feasibility import FeasibilityFilter, feasibility_for
from services.optimizer.insilico import insilico_for
from services.optimizer.planner import PlannerOptions, plan_batch
from services.optimizer.replicates import REPLICATE
from services.optimizer.surrogate import Surrogate

INSILICO, PLAIN_AX, BAYBE, LOCAL, ADAPTIVE, FIXED = "insilico", "ax", "baybe", "local", "adaptive", "fixed"
STRATEGIES = (str(Strategy.HYBRID), FIXED, ADAPTIVE, str(Strategy.GA), str(Strategy.BO), LOCAL, INSILICO,
              PLAIN_AX, BAYBE, str(Strategy.RANDOM))
LEVELS = (0.9, 0.95)


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
        second = landscape.spec.objective.second_target
        if second is not None and second not in self.names:
            self.names.append(second)
        y = np.array([[m.readout(n) if m.readout(n) is not None else np.nan for n in self.names] for m in measured])
        organism = "textbook" if landscape.organism is not None else None
        self.model = DeepModel(kind=kind if organism else "mlp", organism=organism,
                               search_space=landscape.spec.search_space, epochs=epochs, seed=seed)
        started = time.perf_counter()
        self.model.train(landscape.features([m.design for m in measured]), y, names=self.names)
        self.train_s = time.perf_counter() - started
        self.sd_scale: dict[str, float] = {}
        """Output name -> factor on the published sd (the predictor service's prospective recalibration)."""

    def raw_column(self, designs: Sequence[Design], name: str) -> tuple[np.ndarray, np.ndarray]:
        """One output's mean and the model's own sd (no recalibration)."""
        result = self.model.predict(self.landscape.features(designs))
        j = result.names.index(name)
        return result.mean[:, j], result.sd[:, j]

    def _column(self, designs: Sequence[Design], name: str) -> tuple[np.ndarray, np.ndarray]:
        mean, sd = self.raw_column(designs, name)
        return mean, sd * self.sd_scale.get(name, 1.0)

    def predict(self, designs: Sequence[Design]) -> tuple[np.ndarray, np.ndarray]:
        """Objective mean and sd."""
        return self._column(designs, self.names[0])

    def predict_output(self, designs: Sequence[Design], name: str) -> tuple[np.ndarray, np.ndarray]:
        """Any output the ensemble was trained on (a two-objective campaign's second target)."""
        return self._column(designs, name)



class CellEnsembleSurrogate(EnsembleSurrogate):
    """The ensemble on a cell campaign, which also predicts growth."""

    def predict_growth(self, designs: Sequence[Design]) -> tuple[np.ndarray, np.ndarray]:
        """Growth mean and sd."""
        return self._column(designs, "growth")


@dataclass
class CampaignTrace:
    """One simulated campaign's record."""

    fractions: list[float] = field(default_factory=list)
    """Score of the best noise-free value among the designs measured so far, after each batch."""
    picked: list[float] = field(default_factory=list)
    """Score of the noise-free value of the design with the best reading so far, after each batch."""
    experiments: list[int] = field(default_factory=list)
    batch_s: list[float] = field(default_factory=list)
    train_s: list[float] = field(default_factory=list)
    infeasible_rejected: int = 0
    below_floor: int = 0
    """Cells: proposals whose noise-free growth in the simulated cell is below the growth floor."""
    proposed: int = 0
    repeats: int = 0
    coverage: CoverageRecord = field(default_factory=CoverageRecord)
    named: NamedBest = field(default_factory=NamedBest)
    """The posterior best the campaign names after each batch (benchmarks.loop_replicates)."""
    """Proposals' published intervals against their readings (benchmarks.loop_calibration)."""
    """Experiments spent on a design measured before (plain Ax; fluxlab's planner repeats a design only as a
    replicate, counted in `named.replicates`)."""

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


def _score(landscape: Landscape, design: Design | None) -> float:
    if design is None:
        return 0.0 if landscape.score_kind == "fraction" else -math.inf
    return landscape.score(landscape.truth(design))


def _train(landscape: Landscape, measured: Sequence[Measurement], seed: int, epochs: int,
           trace: CampaignTrace) -> EnsembleSurrogate:
    kind = CellEnsembleSurrogate if landscape.organism is not None else EnsembleSurrogate
    ensemble = kind(landscape, measured, seed, epochs)
    trace.train_s.append(ensemble.train_s)
    return ensemble


class _Planner:
    """One strategy's proposals for a campaign: fluxlab's planner, the in-silico ranking or plain Ax."""

    def __init__(self, landscape: Landscape, strategy: str, seed: int, epochs: int,
                 recalibrate: bool = False) -> None:
        self.landscape, self.strategy, self.seed, self.epochs = landscape, strategy, seed, epochs
        target = landscape.spec.objective.target
        self.calibration = CalibrationTracker(target, [target, "growth"] if landscape.organism else [target],
                                              recalibrate)
        self.inner: EnsembleSurrogate | None = None
        self.rng = np.random.default_rng(seed)
        self.feasibility: FeasibilityFilter | None = feasibility_for(landscape.spec, landscape.organism)
        self.prior = insilico_for(landscape.spec, landscape.organism)
        self.surrogate: Surrogate | None = None
        self.replicate_keys: set[str] = set()
        """Keys of the last batch's replicates (allowed re-proposals, not repeats)."""
        self.ax: Any = None
        if strategy == PLAIN_AX:
            from benchmarks.loop_peers import PlainAx

            self.ax = PlainAx(landscape, seed)
        elif strategy == BAYBE:
            from benchmarks.loop_baybe import PlainBayBE

            self.ax = PlainBayBE(landscape, seed)

    def propose(self, history: History, n: int) -> list[Design]:
        """The next batch of designs (their origins go into `history.origins`)."""
        if self.ax is not None:
            return list(self.ax.propose(n))
        if self.strategy == LOCAL:
            from benchmarks.loop_peers import local_batch

            return local_batch(self.landscape.spec, history, self.surrogate, n, self.rng, self.feasibility, self.prior)
        strategy = Strategy.GA if self.strategy == INSILICO else \
            Strategy.HYBRID if self.strategy in (ADAPTIVE, FIXED) else Strategy(self.strategy)
        adaptive = self.strategy != FIXED  # fixed: the default's shares before 2026-12-06
        options = PlannerOptions(adaptive_shares=adaptive, trust_region=adaptive and self.strategy != ADAPTIVE)
        proposals = plan_batch(self.landscape.spec, history, self.surrogate, n, self.rng,
                               feasibility=self.feasibility, strategy=strategy, options=options, prior=self.prior)
        history.origins.update({p.design.key(): p.strategy for p in proposals if p.strategy != REPLICATE})
        self.replicate_keys = {p.design.key() for p in proposals if p.strategy == REPLICATE}
        return [p.design for p in proposals]

    def learn(self, design: Design, result: Measurement | None, history: History) -> None:
        """One outcome (plain Ax and BayBE hear each; fluxlab's strategies retrain after the batch)."""
        if self.ax is not None:
            self.ax.tell(design, result, history)

    def retrain(self, measured: Sequence[Measurement], trace: CampaignTrace) -> None:
        """Retrain the ensemble after a batch (not for random, in-silico, plain Ax or BayBE)."""
        if self.strategy in (str(Strategy.RANDOM), INSILICO, PLAIN_AX, BAYBE) or len(measured) < 2:
            return
        self.inner = _train(self.landscape, measured, self.seed, self.epochs, trace)
        self.inner.sd_scale = self.calibration.scales()
        self.surrogate = within_envelope(self.landscape.spec, self.inner)


def run_campaign(landscape: Landscape, strategy: str, seed: int, budget: int, epochs: int,
                 recalibrate: bool = False) -> CampaignTrace:
    """Run one closed campaign and return its trace (`recalibrate`: plan with the recalibrated sd)."""
    planner = _Planner(landscape, strategy, seed, epochs, recalibrate)
    target = landscape.spec.objective.target
    history, measured, trace = History(), list[Measurement](), CampaignTrace()
    seen: set[str] = set()
    while len(measured) + len(history.failed) < budget:
        n = min(landscape.batch, budget - len(measured) - len(history.failed))
        started = time.perf_counter()
        designs = planner.propose(history, n)[:n]
        trace.batch_s.append(time.perf_counter() - started)
        if not designs:
            break
        published = planner.calibration.published(planner.surrogate, planner.inner, designs)
        trace.named.remember(designs, published)
        results: dict[str, Measurement] = {}
        for i, design in enumerate(designs):
            replicate = design.key() in planner.replicate_keys
            trace.repeats += design.key() in seen and not replicate
            trace.named.replicates += replicate
            trace.proposed += 1
            if landscape.true_growth is not None:
                trace.below_floor += int(landscape.true_growth(design) < landscape.growth_floor_abs - 1e-12)
            seen.add(design.key())
            result = landscape.measure(design, f"s{seed}-{strategy}-{len(measured) + len(history.failed) + i}")
            planner.learn(design, result, history)
            if result is None:
                history.failed.append(design)
                continue
            measured.append(result)
            results[design.key()] = result
            history.measured.append((result.design, result.readout(target) or 0.0))
        if planner.feasibility is not None and planner.strategy != PLAIN_AX:
            planner.feasibility.calibrate_from(measured)  # as the optimizer service does before each plan
        planner.calibration.observe(len(trace.experiments) + 1, published, designs, results, planner.inner)
        planner.retrain(measured, trace)
        update_history(landscape, history, measured)
        trace.named.after_batch(landscape, measured)
        eligible = _eligible(landscape, measured)
        # scores rise towards 1 for either sense, so the best found is the largest
        trace.fractions.append(max((_score(landscape, m.design) for m in eligible), default=_score(landscape, None)))
        trace.picked.append(_score(landscape, _best_reading(landscape, eligible)))
        trace.experiments.append(len(measured) + len(history.failed))
    trace.infeasible_rejected = planner.feasibility.n_rejected if planner.feasibility else 0
    trace.coverage = planner.calibration.record
    return trace


def _median_or_none(values: Sequence[int | None], budget: int) -> int | None:
    # Censored runs count as beyond the budget; the median is null when it falls among them.
    ranked = sorted(v if v is not None else math.inf for v in values)
    mid = statistics.median(ranked) if ranked else math.inf
    return None if not math.isfinite(mid) or mid > budget else round(mid)


def _reach(traces: Sequence[CampaignTrace], budget: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for level in LEVELS:
        tag = str(round(level * 100))
        for picked, suffix in ((False, ""), (True, "_picked")):
            reached = [t.experiments_to(level, picked=picked) for t in traces]
            out[f"experiments_to_{tag}{suffix}"] = _median_or_none(reached, budget)
            out[f"reached_{tag}{suffix}"] = sum(r is not None for r in reached)
            if not picked:
                out[f"experiments_to_{tag}_by_seed"] = reached
    return out


def summarise(traces: Sequence[CampaignTrace], budget: int) -> dict[str, Any]:
    """Medians over seeds for one strategy."""
    n_batches = max(len(t.fractions) for t in traces)

    def by_batch(series: Callable[[CampaignTrace], list[float]]) -> list[float]:
        return [round(statistics.median(series(t)[min(b, len(series(t)) - 1)] for t in traces), 4)
                for b in range(n_batches)]

    best = by_batch(lambda t: t.fractions)
    return {
        **_reach(traces, budget),
        "seeds": len(traces),
        "budget": budget,
        "best_fraction_by_batch": best,
        "picked_fraction_by_batch": by_batch(lambda t: t.picked),
        "final_fraction": best[-1],
        "final_fraction_by_seed": [round(t.fractions[-1], 4) for t in traces],
        "batch_s": round(statistics.median(s for t in traces for s in t.batch_s), 3),
        "train_s": round(statistics.median([s for t in traces for s in t.train_s] or [0.0]), 3),
        "infeasible_rejected": int(statistics.median(t.infeasible_rejected for t in traces)),
        "repeats": int(statistics.median(t.repeats for t in traces)),
        "below_floor_fraction": round(sum(t.below_floor for t in traces) / max(1, sum(t.proposed for t in traces)), 4),
        "below_floor_by_seed": [t.below_floor for t in traces],
        "prospective": summarise_coverage([t.coverage for t in traces]),
        **summarise_named([t.named for t in traces]),
    }


def _baybe_skipped(landscape: Landscape) -> str | None:
    from benchmarks.loop_baybe import too_large, unavailable

    return unavailable() or too_large(landscape.spec.search_space)


def bench_landscape(name: str, seeds: int, budget: int, random_budget: int, epochs: int,
                    strategies: Sequence[str] = STRATEGIES, recalibrate: bool = False,
                    first_seed: int = 0) -> dict[str, Any]:
    """All strategies on one landscape over the same seeds."""
    out: dict[str, Any] = {}
    landscape = make_landscape(name, 0)
    wide = name in FUNCTIONS_10D
    for strategy in strategies:
        if strategy == INSILICO and name not in CELLS:
            continue
        limit = random_budget if strategy == str(Strategy.RANDOM) and not wide else budget
        if strategy == BAYBE and (reason := _baybe_skipped(landscape)):
            out[strategy] = {"skipped": reason}
            progress_console.log(f"{name} {strategy}: skipped ({reason})")
            continue
        traces = []
        for seed in range(first_seed, first_seed + seeds):
            landscape = make_landscape(name, seed)
            traces.append(run_campaign(landscape, strategy, seed, limit, epochs, recalibrate))
            progress_console.log(f"{name} {strategy} seed {seed}: {traces[-1].fractions[-1]:.3f}")
        out[strategy] = summarise(traces, limit)
    return {"true_optimum": landscape.optimum, "optimum_method": landscape.optimum_method,
            "score": landscape.score_kind, "batch_size": landscape.batch,
            **({"random_median": landscape.baseline} if wide else {}), "strategies": out}


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print one JSON object."""
    p = parser("Closed simulated DBTL campaigns per optimizer strategy (in-process, no NATS).")
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument("--first-seed", type=int, default=0, help="seeds first-seed .. first-seed + seeds - 1")
    p.add_argument("--budget", type=int, default=48, help="experiments per campaign on cells and 2-6-D functions")
    p.add_argument("--budget-10d", type=int, default=132, help="experiments per campaign on the 10-D functions")
    p.add_argument("--random-budget", type=int, default=400)
    p.add_argument("--epochs", type=int, default=150)
    p.add_argument("--landscapes", default=",".join(ALL), help=f"comma-separated subset of {', '.join(ALL)}")
    p.add_argument("--strategies", default=",".join(STRATEGIES), help="comma-separated subset")
    p.add_argument("--sd-recalibration", choices=("on", "off"), default="off", help=(
        "plan with the sd recalibrated on earlier rounds' prospective results, as the predictor service "
        "publishes it (on), or with the ensemble's own sd, as the optimizer service ranks (off, the default); "
        "coverage of the published intervals is reported both ways either way"))
    args = p.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    names = [n for n in args.landscapes.split(",") if n]
    strategies = [s for s in args.strategies.split(",") if s]
    unknown = [n for n in names if n not in ALL] + [s for s in strategies if s not in STRATEGIES]
    if unknown:
        p.error(f"unknown landscape or strategy {unknown[0]!r}")
    if args.quick:
        args.seeds, args.budget, args.budget_10d, args.random_budget, args.epochs = 1, 16, 32, 24, 30
    started = time.perf_counter()
    results = {name: bench_landscape(name, args.seeds, args.budget_10d if name in FUNCTIONS_10D else args.budget,
                                     args.random_budget, args.epochs, strategies, args.sd_recalibration == "on",
                                     args.first_seed)
               for name in names}
    result = {"seeds": args.seeds, "landscapes": results, "wall_s": round(time.perf_counter() - started, 1)}
    emit(result, args.json, "loop benchmark")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
