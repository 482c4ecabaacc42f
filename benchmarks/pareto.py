"""Two-objective campaigns in-process (no NATS): hypervolume at budget of random, the single-objective default
and the multi-objective planner, on the same seeds.

The campaign is the loop benchmark's ``succinate_core`` (E. coli core, <= 3 of 25 knockouts, 3 expression genes,
growth floor 20 % of the wild type, batches of 8, budget 48) with ``second_target = "growth"``: maximise
succinate secretion and growth together. Strategies:

* ``random``: uniformly random valid designs;
* ``single``: fluxlab's default (hybrid) planning for succinate alone (the spec without ``second_target``);
* ``pareto``: the same planner with ``second_target`` set, which plans with `services.optimizer.multiobjective`
  (a quarter of each batch for succinate alone as ``single`` does, the rest from NSGA-II over the ensemble by
  expected hypervolume improvement); variants in ``VARIANTS``.

Every strategy gets the same simulated lab (noise on), ensemble (the loop benchmark's DeepModel, retrained
after each batch) and growth-floor filter. The figure is the hypervolume of the *noise-free* (succinate, growth)
of every design measured so far whose true growth meets the floor, above the fixed reference point
(0 mmol/gDW/h succinate, the growth floor in 1/h) -- after each batch and at budget (``below_floor_by_seed``:
proposals whose true growth is under the floor); ``hv_fraction`` divides it
by the box (true succinate optimum) x (wild-type growth - floor), an upper bound no front reaches.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Sequence
from typing import Any

from benchmarks.common import campaign_parser, emit, progress_console
from benchmarks.loop import CampaignTrace, _Planner
from benchmarks.loop_landscapes import Landscape, make_landscape
from schemas import Design, Measurement, Objective, Strategy
from services.domain.floor import meeting_floor
from services.domain.pareto import hypervolume_2d
from services.optimizer.context import History
from services.optimizer.multiobjective import ParetoConfig
from services.optimizer.planner import PlannerOptions, plan_batch

LANDSCAPE = "succinate_core"
SECOND = "growth"
RANDOM, SINGLE, PARETO, PARETO_EHVI, PARETO_LOCAL = "random", "single", "pareto", "pareto_ehvi", "pareto_local"
STRATEGIES = (RANDOM, SINGLE, PARETO)
VARIANTS = {PARETO: ParetoConfig(), PARETO_EHVI: ParetoConfig(target_share=0.0),
            PARETO_LOCAL: ParetoConfig(local_share=0.25)}
"""The multi-objective planner's settings per strategy name; run only when named: ``pareto_ehvi`` (every pick
by expected hypervolume improvement, none for the target alone), ``pareto_local`` (also a quarter of each batch
from one-step moves around the measured front first)."""


def two_objective(landscape: Landscape) -> Landscape:
    """The landscape with ``second_target = growth`` in its spec (the lab, truth and floor are unchanged)."""
    objective = Objective(**{**landscape.spec.objective.model_dump(), "second_target": SECOND})
    spec = landscape.spec.model_copy(update={"objective": objective})
    return Landscape(**{**landscape.__dict__, "spec": spec})


def true_points(landscape: Landscape, designs: Sequence[Design]) -> list[tuple[float, float]]:
    """Noise-free (target, growth) of the designs whose true growth meets the floor."""
    assert landscape.true_growth is not None
    out = []
    for design in designs:
        growth = landscape.true_growth(design)
        if growth >= landscape.growth_floor_abs - 1e-12:
            out.append((landscape.truth(design), growth))
    return out


def reference(landscape: Landscape) -> tuple[float, float]:
    """The fixed reference point: no succinate, growth at the floor."""
    return 0.0, landscape.growth_floor_abs


def pareto_points(landscape: Landscape, measured: Sequence[Measurement]) -> list[tuple[Design, float, float]]:
    """What the optimizer service's ledger gives the planner: measured designs meeting the floor, both readings."""
    target = landscape.spec.objective.target
    return [(m.design, a, b) for m in meeting_floor(landscape.spec, measured)
            if (a := m.readout(target)) is not None and (b := m.readout(SECOND)) is not None]


def _two_objective_batch(planner: _Planner, history: History, n: int, config: ParetoConfig) -> list[Design]:
    """The planner's batch for the two-objective spec, with the multi-objective settings ``config``."""
    proposals = plan_batch(planner.landscape.spec, history, planner.surrogate, n, planner.rng,
                           feasibility=planner.feasibility, strategy=Strategy.HYBRID,
                           options=PlannerOptions(pareto=config), prior=planner.prior)
    history.origins.update({p.design.key(): p.strategy for p in proposals})
    return [p.design for p in proposals]


def run_campaign(landscape: Landscape, strategy: str, seed: int, budget: int, epochs: int) -> dict[str, Any]:
    """One campaign; hypervolume of the true points after each batch."""
    planned = two_objective(landscape) if strategy in VARIANTS else landscape
    planner = _Planner(planned, str(Strategy.RANDOM) if strategy == RANDOM else str(Strategy.HYBRID), seed, epochs)
    target = landscape.spec.objective.target
    history, measured, trace = History(), list[Measurement](), CampaignTrace()
    ref = reference(landscape)
    hv: list[float] = []
    built: list[Design] = []
    below = 0
    while len(measured) + len(history.failed) < budget:
        n = min(landscape.batch, budget - len(measured) - len(history.failed))
        started = time.perf_counter()
        designs = (_two_objective_batch(planner, history, n, VARIANTS[strategy]) if strategy in VARIANTS
                   else planner.propose(history, n))[:n]
        trace.batch_s.append(time.perf_counter() - started)
        if not designs:
            break
        for i, design in enumerate(designs):
            below += int(landscape.true_growth is not None
                         and landscape.true_growth(design) < landscape.growth_floor_abs - 1e-12)
            result = landscape.measure(design, f"s{seed}-{strategy}-{len(measured) + len(history.failed) + i}")
            if result is None:
                history.failed.append(design)
                continue
            measured.append(result)
            built.append(design)
            history.measured.append((result.design, result.readout(target) or 0.0))
        if planner.feasibility is not None:
            planner.feasibility.calibrate_from(measured)
        if strategy in VARIANTS:
            history.pareto_points = pareto_points(planned, measured)
        planner.retrain(measured, trace)
        hv.append(hypervolume_2d(true_points(landscape, built), ref))
    points = true_points(landscape, built)
    return {"hv_by_batch": [round(v, 5) for v in hv], "hv": round(hv[-1] if hv else 0.0, 5),
            "best_target": round(max((a for a, _ in points), default=0.0), 4), "below_floor": below,
            "batch_s": round(statistics.median(trace.batch_s), 3) if trace.batch_s else None}


def summarise(runs: Sequence[dict[str, Any]], box: float) -> dict[str, Any]:
    """Medians over seeds for one strategy."""
    n_batches = max(len(r["hv_by_batch"]) for r in runs)
    by_batch = [round(statistics.median(r["hv_by_batch"][min(b, len(r["hv_by_batch"]) - 1)] for r in runs), 5)
                for b in range(n_batches)]
    hv = [r["hv"] for r in runs]
    return {"hv_median": round(statistics.median(hv), 5), "hv_by_seed": hv,
            "hv_fraction_median": round(statistics.median(hv) / box, 4) if box > 0 else None,
            "hv_by_batch_median": by_batch,
            "best_target_median": round(statistics.median(r["best_target"] for r in runs), 4),
            "below_floor_by_seed": [r["below_floor"] for r in runs],
            "batch_s": round(statistics.median(r["batch_s"] for r in runs if r["batch_s"] is not None), 3)}


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print one JSON object."""
    p = campaign_parser(
        "Two-objective simulated campaigns (succinate and growth): hypervolume at budget per strategy.")
    p.add_argument("--strategies", default=",".join(STRATEGIES), help="comma-separated subset")
    args = p.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    strategies = [s for s in args.strategies.split(",") if s]
    if unknown := [s for s in strategies if s not in (*STRATEGIES, *VARIANTS)]:
        p.error(f"unknown strategy {unknown[0]!r}")
    if args.quick:
        args.seeds, args.budget, args.epochs = 1, 16, 30
    started = time.perf_counter()
    seeds = range(args.first_seed, args.first_seed + args.seeds)
    runs: dict[str, list[dict[str, Any]]] = {s: [] for s in strategies}
    landscape = make_landscape(LANDSCAPE, args.first_seed)
    for seed in seeds:  # seed by seed, so a partial run still compares the strategies on the same seeds
        landscape = make_landscape(LANDSCAPE, seed)
        for strategy in strategies:
            runs[strategy].append(run_campaign(landscape, strategy, seed, args.budget, args.epochs))
            progress_console.log(f"pareto {strategy} seed {seed}: hv {runs[strategy][-1]['hv']:.4f}")
    assert landscape.true_growth is not None
    wild_type = landscape.true_growth(Design())
    box = landscape.optimum * (wild_type - landscape.growth_floor_abs)
    out = {s: summarise(r, box) for s, r in runs.items()}
    ratios: dict[str, Any] = {}
    for mine in (m for m in VARIANTS if m in out):
        for other in (RANDOM, SINGLE):
            if other in out and out[other]["hv_median"] > 0:
                ratios[f"{mine}_over_{other}"] = round(out[mine]["hv_median"] / out[other]["hv_median"], 3)
    result = {"landscape": LANDSCAPE, "objectives": [landscape.spec.objective.target, SECOND],
              "reference_point": {"EX_succ_e_mmol_gDW_h": 0.0, "growth_per_h": round(landscape.growth_floor_abs, 5)},
              "box": {"true_optimum": round(landscape.optimum, 5), "wild_type_growth": round(wild_type, 5)},
              "seeds": list(seeds), "budget": args.budget, "batch_size": landscape.batch,
              "strategies": out, "ratios": ratios, "wall_s": round(time.perf_counter() - started, 1)}
    emit(result, args.json, "pareto benchmark")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
