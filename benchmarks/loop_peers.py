"""What a user would pick instead of fluxlab, run by the loop benchmark on the same landscapes and seeds.

* ``ax`` -- plain Ax: one ``ax.Client`` per campaign with the Client's default generation strategy (Sobol
  start, then BoTorch's modular GP with its default acquisition) and nothing from fluxlab. The space is
  written the way a user of Ax would: each knockout candidate an integer 0/1 parameter with the linear
  constraint "sum <= max_knockouts", each levelled gene an ordered choice of its levels, each continuous
  parameter a float range; cell campaigns add the growth floor as an outcome constraint. Every proposal is
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
GROWTH = "growth"


def _name(kind: str, name: str) -> str:
    return f"{kind}_{name}"


class PlainAx:
    """An Ax Client campaign over a landscape's search space (see the module doc)."""

    def __init__(self, landscape: Any, seed: int) -> None:
        from ax import ChoiceParameterConfig, Client, RangeParameterConfig
        from ax.utils.common.logger import set_stderr_log_level

        set_stderr_log_level(logging.ERROR)
        self.landscape = landscape
        search = landscape.spec.search_space
        self.client = Client(random_seed=seed)
        parameters: list[Any] = [RangeParameterConfig(name=_name("ko", g), bounds=(0, 1), parameter_type="int")
                                 for g in search.knockout_candidates]
        for e in search.expression:
            if e.levels:
                parameters.append(ChoiceParameterConfig(name=_name("x", e.gene), values=[float(v) for v in e.levels],
                                                        parameter_type="float", is_ordered=True))
            else:
                parameters.append(RangeParameterConfig(name=_name("x", e.gene), bounds=(e.min_fold, e.max_fold),
                                                       parameter_type="float", scaling="log"))
        parameters += [RangeParameterConfig(name=p.name, bounds=(p.low, p.high), parameter_type="float")
                       for p in search.parameters]
        constraints = ([" + ".join(_name("ko", g) for g in search.knockout_candidates)
                        + f" <= {search.max_knockouts}"] if search.knockout_candidates else [])
        self.client.configure_experiment(parameters=parameters, parameter_constraints=constraints or None,
                                         name=landscape.name)
        sign = "" if landscape.spec.objective.sense == Sense.MAXIMIZE else "-"
        outcome = [f"{GROWTH} >= {landscape.growth_floor_abs}"] if landscape.organism is not None else None
        self.client.configure_optimization(objective=f"{sign}{OBJECTIVE}", outcome_constraints=outcome)
        self.pending: dict[str, list[int]] = {}

    def _design(self, parameters: dict[str, Any]) -> Design:
        search = self.landscape.spec.search_space
        knockouts = [g for g in search.knockout_candidates if int(parameters[_name("ko", g)]) == 1]
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
