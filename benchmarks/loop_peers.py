"""What a user would pick instead of fluxlab, run by the loop benchmark on the same landscapes and seeds.

* ``ax`` -- plain Ax: one ``ax.Client`` per campaign with the Client's default generation strategy (Sobol
  start, then BoTorch's modular GP with its default acquisition) and nothing from fluxlab. The space is
  written the way a user of Ax would: "up to K knockouts" as K categorical slots ``ko_1 .. ko_K``, each
  ``"none"`` or one candidate (two slots naming the same gene knock it out once), each levelled gene an
  ordered choice of its levels, each continuous parameter a float range; cell campaigns add the growth
  floor as an outcome constraint. (The other natural encoding -- one 0/1 integer per candidate with the
  linear constraint "sum <= K" -- stops Ax in its first model-based batch: BoTorch's discrete local
  search cannot draw 20 feasible starting points from 25 binaries under "sum <= 3", botorch#1285.) Every proposal is
  measured as proposed (a repeat, or a design below the floor, costs its experiment as it would in the lab).
* ``insilico`` (in benchmarks.loop) -- rank by the organism model only, no learning.
* ``local`` -- the default's local-move generator alone (services.optimizer.local: one knockout added,
  removed or swapped, one level changed, around the three best measured designs), ranked on the same
  ensemble and picked by the default's own local picker (new strains by predicted mean plus novelty, alternating
  with re-tuned strains; ``hybrid.local_picks``), the rest of the batch by acquisition, then random designs
  if the neighbourhood runs out. Its first batch, with nothing measured to move around, is the default's own
  first batch (planned on the organism model's answer, with the wild-type control), so the two differ only in
  what comes after.
"""

from __future__ import annotations

import logging
import warnings
from typing import Any

import numpy as np

from schemas import CampaignSpec, Design, Measurement, Sense, Strategy
from services.optimizer import hybrid, local
from services.optimizer.context import Context, History
from services.optimizer.feasibility import FeasibilityFilter
from services.optimizer.planner import plan_batch
from services.optimizer.space import DesignSpace
from services.optimizer.surrogate import Surrogate

OBJECTIVE = "objective"
NO_KNOCKOUT = "none"
GROWTH = "growth"


def _name(kind: str, name: str) -> str:
    return f"{kind}_{name}"


def _slot(k: int) -> str:
    return f"ko_{k + 1}"


class PlainAx:
    """An Ax Client campaign over a landscape's search space (see the module doc)."""

    def __init__(self, landscape: Any, seed: int) -> None:
        from ax import ChoiceParameterConfig, Client, RangeParameterConfig
        from ax.utils.common.logger import set_stderr_log_level

        set_stderr_log_level(logging.ERROR)
        self.landscape = landscape
        search = landscape.spec.search_space
        self.client = Client(random_seed=seed)
        slots = search.max_knockouts if search.knockout_candidates else 0
        parameters: list[Any] = [ChoiceParameterConfig(name=_slot(k), values=[NO_KNOCKOUT, *search.knockout_candidates],
                                                       parameter_type="str", is_ordered=False)
                                 for k in range(slots)]
        self.slots = slots
        for e in search.expression:
            if e.levels:
                parameters.append(ChoiceParameterConfig(name=_name("x", e.gene), values=[float(v) for v in e.levels],
                                                        parameter_type="float", is_ordered=True))
            else:
                parameters.append(RangeParameterConfig(name=_name("x", e.gene), bounds=(e.min_fold, e.max_fold),
                                                       parameter_type="float", scaling="log"))
        parameters += [RangeParameterConfig(name=p.name, bounds=(p.low, p.high), parameter_type="float")
                       for p in search.parameters]
        self.client.configure_experiment(parameters=parameters, name=landscape.name)
        sign = "" if landscape.spec.objective.sense == Sense.MAXIMIZE else "-"
        outcome = [f"{GROWTH} >= {landscape.growth_floor_abs}"] if landscape.organism is not None else None
        self.client.configure_optimization(objective=f"{sign}{OBJECTIVE}", outcome_constraints=outcome)
        self.pending: dict[str, list[int]] = {}

    def _design(self, parameters: dict[str, Any]) -> Design:
        search = self.landscape.spec.search_space
        chosen = {str(parameters[_slot(k)]) for k in range(self.slots)} - {NO_KNOCKOUT}
        knockouts = [g for g in search.knockout_candidates if g in chosen]
        expression = {e.gene: float(parameters[_name("x", e.gene)]) for e in search.expression
                      if float(parameters[_name("x", e.gene)]) != 1.0}
        values = {p.name: float(parameters[p.name]) for p in search.parameters}
        return Design(knockouts=knockouts, expression=expression, parameters=values)

    def propose(self, n: int) -> list[Design]:
        """The next ``n`` designs (Ax's own choice; repeats are kept)."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            trials = self.client.get_next_trials(max_trials=n)
        designs = []
        for index, parameters in trials.items():
            design = self._design(dict(parameters))
            self.pending.setdefault(design.key(), []).append(index)
            designs.append(design)
        return designs

    def tell(self, design: Design, result: Measurement | None, history: History) -> None:
        """Report one outcome back to Ax (a failed run marks its trial failed)."""
        del history
        index = self.pending[design.key()].pop(0)
        if result is None:
            self.client.mark_trial_failed(index, failed_reason="run failed")
            return
        target = self.landscape.spec.objective.target
        data = {OBJECTIVE: float(result.readout(target) or 0.0)}
        if self.landscape.organism is not None:
            data[GROWTH] = float(result.readout("growth") or 0.0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self.client.complete_trial(index, raw_data=data)


def local_batch(spec: CampaignSpec, history: History, surrogate: Surrogate | None, n: int, rng: np.random.Generator,
                feasibility: FeasibilityFilter | None, prior: Surrogate | None) -> list[Design]:
    """The ``local`` peer's next ``n`` designs (see the module doc); never a design measured, pending or failed."""
    if not history.measured:
        return [p.design for p in plan_batch(spec, history, surrogate, n, rng, feasibility=feasibility,
                                             strategy=Strategy.HYBRID, prior=prior)]
    ctx = Context(DesignSpace.from_spec(spec), history, rng, surrogate or prior, sense=spec.objective.sense,
                  feasible=feasibility.is_feasible if feasibility is not None else None)

    def accept(candidate: Any) -> bool:
        return feasibility is None or feasibility.is_feasible(candidate.design)

    pool = local.propose(ctx)
    picks = hybrid.local_picks(pool, n, ctx, accept)
    taken = {c.design.key() for c in picks}
    ranked = sorted((c for c in pool if c.design.key() not in taken),
                    key=lambda c: -(c.acquisition if c.acquisition is not None else -float("inf")))
    for candidate in ranked:
        if len(picks) >= n:
            break
        if accept(candidate):
            picks.append(candidate)
            taken.add(candidate.design.key())
    designs = [c.design for c in picks]
    if len(designs) < n:  # the neighbourhood ran out: random valid designs, as the planner tops up
        extra = ctx.space.sample_unique(4 * (n - len(designs)), rng, exclude=ctx.excluded | taken)
        designs += [d for d in extra if feasibility is None or feasibility.is_feasible(d)][: n - len(designs)]
    return designs
