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
"""

from __future__ import annotations

import logging
import warnings
from typing import Any

from schemas import Design, Measurement, Sense
from services.optimizer.context import History

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
