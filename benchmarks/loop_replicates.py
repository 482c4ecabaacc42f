"""The loop benchmark's named best: the posterior best, its true value and whether its interval covers it.

`benchmarks.loop` names after each batch the design a campaign would name (`services.domain.posterior`: the
replicate mean shrunk toward the prediction published with the design's first proposal, among designs meeting
the growth floor) and records its noise-free value as a fraction of the optimum (``named_fraction_by_seed``) and
whether its 95 % interval covers that value (``named_covered_by_seed``). Run as a script it plays the default
succinate campaign of `fluxlab demo` (``succinate_core``, 48 experiments, batches of 8) with the planner's
replicates on (the spec's default `analysis.replicates`) and off (0), on the same seeds::

    python -m benchmarks.loop_replicates --seeds 5 --json
"""

from __future__ import annotations

import dataclasses
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from benchmarks.loop_landscapes import Landscape
from schemas import Design, Measurement
from services.domain.floor import GrowthFloor, below_floor
from services.domain.posterior import Prior, noise_estimate, posterior_best
from services.optimizer.context import History


@dataclass
class NamedBest:
    """What the loop records about the campaign's named best after each batch."""

    priors: dict[str, Prior] = field(default_factory=dict)
    """Design key -> the prediction published with its first proposal (once a model is trained)."""
    fractions: list[float] = field(default_factory=list)
    covered: bool | None = None
    interval: tuple[float, float] | None = None
    true_value: float | None = None
    readings: int = 0
    replicates: int = 0
    """Proposals of a design measured or proposed before (the planner's replicates)."""

    def remember(self, designs: Sequence[Design], published: Sequence[tuple[float, float, float]]) -> None:
        """The published (mean, raw sd, calibrated sd) of the batch's designs, first proposal only."""
        for design, (mean, _raw, sd) in zip(designs, published, strict=False):
            self.priors.setdefault(design.key(), Prior(mean, sd))

    def after_batch(self, landscape: Landscape, measured: Sequence[Measurement]) -> None:
        """Name the best now and score it against the truth."""
        best = posterior_best(landscape.spec, measured, self.priors, floor_of(landscape))
        if best is None:
            self.fractions.append(landscape.score(0.0) if landscape.score_kind == "fraction" else 0.0)
            return
        true_value = landscape.truth(best.design)
        self.fractions.append(landscape.score(true_value))
        self.interval, self.true_value, self.readings = best.interval(), true_value, best.n
        self.covered = None if self.interval is None else self.interval[0] <= true_value <= self.interval[1]


def floor_of(landscape: Landscape) -> GrowthFloor:
    """The growth floor the loop applies to measured growth (none on a function)."""
    if landscape.organism is None or landscape.growth_floor_abs <= 0:
        return GrowthFloor(None, "no growth floor")
    return GrowthFloor(landscape.growth_floor_abs, "simulated wild type")


def update_history(landscape: Landscape, history: History, measured: Sequence[Measurement]) -> None:
    """What the optimizer's ledger tells the planner besides the readings: reported noise, designs below the floor."""
    noise = noise_estimate(landscape.spec.objective.target, measured)
    history.noise_sd = noise.sd if noise.sd is not None and noise.source.startswith("median sd") else None
    history.below_floor = below_floor(measured, floor_of(landscape))


def without_replicates(landscape: Landscape) -> Landscape:
    """The same landscape with the planner's replicates switched off."""
    spec = landscape.spec
    return dataclasses.replace(landscape, spec=spec.model_copy(
        update={"analysis": spec.analysis.model_copy(update={"replicates": 0})}))


def summarise_named(records: Sequence[NamedBest]) -> dict[str, Any]:
    """Per seed and median: the named best's true fraction of the optimum, interval coverage, replicates spent."""
    finals = [r.fractions[-1] if r.fractions else 0.0 for r in records]
    covered = [r.covered for r in records]
    return {
        "named_fraction": round(statistics.median(finals), 4) if finals else None,
        "named_fraction_by_seed": [round(f, 4) for f in finals],
        "named_fraction_by_batch": [round(statistics.median(r.fractions[min(b, len(r.fractions) - 1)]
                                                            for r in records), 4)
                                    for b in range(max((len(r.fractions) for r in records), default=0))],
        "named_covered_by_seed": covered,
        "named_coverage": round(sum(c is True for c in covered) / len(covered), 4) if covered else None,
        "named_interval_by_seed": [None if r.interval is None else [round(r.interval[0], 4), round(r.interval[1], 4)]
                                   for r in records],
        "named_true_value_by_seed": [None if r.true_value is None else round(r.true_value, 4) for r in records],
        "named_readings_by_seed": [r.readings for r in records],
        "replicates_by_seed": [r.replicates for r in records],
    }


def main(argv: list[str] | None = None) -> int:
    """Replicates on and off on the demo's campaign, same seeds; one JSON object."""
    from benchmarks.common import campaign_parser, emit, progress_console
    from benchmarks.loop import run_campaign, summarise
    from benchmarks.loop_landscapes import make_landscape

    p = campaign_parser("The demo's campaign with and without replicates: the named best's true value and interval.")
    p.add_argument("--landscape", default="succinate_core")
    p.add_argument("--strategy", default="hybrid")
    args = p.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    if args.quick:
        args.seeds, args.budget, args.epochs = 1, 16, 30
    out: dict[str, Any] = {}
    for label in ("replicates", "no_replicates"):
        traces = []
        for seed in range(args.first_seed, args.first_seed + args.seeds):
            landscape = make_landscape(args.landscape, seed)
            if label == "no_replicates":
                landscape = without_replicates(landscape)
            traces.append(run_campaign(landscape, args.strategy, seed, args.budget, args.epochs))
            progress_console.log(f"{label} seed {seed}: named {traces[-1].named.fractions[-1]:.3f}, "
                                 f"covered {traces[-1].named.covered}")
        full = summarise(traces, args.budget)
        out[label] = {k: full[k] for k in full if k.startswith(("named", "replicates", "picked", "final", "seeds",
                                                                 "best_fraction", "below_floor"))}
    emit({"landscape": args.landscape, "strategy": args.strategy, "budget": args.budget, **out}, args.json,
         "loop replicates")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
