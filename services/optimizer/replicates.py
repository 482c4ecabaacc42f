"""Replicates of the leading designs: spend part of a batch where one noisy reading cannot name the best.

The contenders are the measured designs whose mean reading lies within measurement noise of the leader's
(the difference of the means within 1.96 sd of that difference). The noise of one reading is the within-design
spread pooled over the campaign's replicated designs (≥ 2 degrees of freedom), else the sd the lab reports with
its readings (`History.noise_sd`), else 10 % of the leader's mean. (The noise depends on the readings only, not
on the model, so `planner.gp_request` counts the same replicates the plan makes.)
When two or more designs contend, up to `slots` of them get one more reading each this batch, the most
promising first (highest upper bound mean + 1.96·noise/√n); a design already read `MAX_READINGS` times, pending
again, below the growth floor on its measured growth or failing the feasibility filter gets none.

A replicate is an allowed re-proposal: its strategy is `REPLICATE`, and the optimizer gives it its own
proposal and run id (`services/optimizer/service.py`). New designs still never repeat anything.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from schemas import CampaignSpec, Design
from services.domain.posterior import MIN_POOLED_DOF, Z95, pooled_noise
from services.optimizer.context import Candidate, Context

REPLICATE = "replicate"
"""The strategy name (origin) of a replicate proposal."""
MAX_READINGS = 4
"""A design read this many times gets no more replicates."""
FALLBACK_CV = 0.10


def replicate_slots(spec: CampaignSpec, n: int) -> int:
    """How many of a batch of ``n`` may be replicates: `analysis.replicates`, at most a quarter of the batch."""
    return max(0, min(spec.analysis.replicates, n // 4))


def readings(ctx: Context) -> dict[str, tuple[Design, list[float]]]:
    """Design key -> (design, its readings of the objective so far)."""
    out: dict[str, tuple[Design, list[float]]] = {}
    for design, value in ctx.history.measured:
        if math.isfinite(value):
            out.setdefault(design.key(), (design, []))[1].append(value)
    return out


def noise_sd(ctx: Context, groups: dict[str, tuple[Design, list[float]]], leader_mean: float) -> float:
    """The sd of one reading as the planner judges it (see the module doc)."""
    pooled, dof = pooled_noise(v for _, v in groups.values())
    if pooled is not None and dof >= MIN_POOLED_DOF and pooled > 0:
        return pooled
    if ctx.history.noise_sd is not None and ctx.history.noise_sd > 0:
        return ctx.history.noise_sd
    return FALLBACK_CV * max(abs(leader_mean), 1e-9)


def contenders(ctx: Context) -> list[tuple[Design, int, float]]:
    """(design, readings, mean) of the designs within noise of the leader, leader included, best bound first.

    Empty when fewer than two contend (the leader is clearly ahead, or nothing is measured).
    """
    groups = {k: g for k, g in readings(ctx).items() if k not in ctx.history.below_floor}
    if len(groups) < 2:
        return []
    means = {k: sum(v) / len(v) for k, (_, v) in groups.items()}
    lead = max(means, key=lambda k: ctx.sign * means[k])
    sd = noise_sd(ctx, groups, means[lead])
    n_lead = len(groups[lead][1])
    out = [(groups[k][0], len(groups[k][1]), means[k]) for k in means
           if ctx.sign * (means[lead] - means[k]) <= Z95 * sd * math.sqrt(1.0 / n_lead + 1.0 / len(groups[k][1]))]
    if len(out) < 2:
        return []
    return sorted(out, key=lambda c: -(ctx.sign * c[2] + Z95 * sd / math.sqrt(c[1])))


def plan_replicates(spec: CampaignSpec, ctx: Context, n: int, accept: Callable[[Candidate], bool]) -> list[Candidate]:
    """The replicate proposals of a batch of ``n`` (none when the leaders are told apart, or it is disabled)."""
    slots = replicate_slots(spec, n)
    if slots <= 0 or not ctx.history.measured:
        return []
    pending = {d.key() for d in ctx.history.pending}
    picks = [d for d, count, _ in contenders(ctx) if count < MAX_READINGS and d.key() not in pending
             and d.key() not in ctx.history.rejected_keys and ctx.space.is_valid(d)[0]]
    out: list[Candidate] = []
    for candidate in ctx.scored(picks, REPLICATE) if picks else []:
        if len(out) >= slots:
            break
        if accept(candidate):
            out.append(candidate)
    return out
