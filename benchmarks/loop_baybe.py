"""The ``baybe`` peer of the loop benchmark: BayBE's default recommender, as a user of BayBE would set it up.

BayBE (``pip install fluxlab[bench]``; absent from the pinned test stack, so CI skips it) is a Bayesian
optimisation tool for experiment planning. One ``baybe.Campaign`` per loop campaign with BayBE's default
recommender, ``TwoPhaseMetaRecommender`` (random designs until there are measurements, then
``BotorchRecommender``: a GP and its default batch acquisition), seeded with the campaign's seed
(``baybe.settings.active_settings.random_seed``), nothing from fluxlab. The space is written the way BayBE
takes a constrained discrete space: the valid designs listed as a table (``SubspaceDiscrete.from_dataframe``)
with one 0/1 column per knockout candidate and one numerical column per levelled gene, every knockout set of
up to ``max_knockouts`` candidates without a forbidden pair and within ``max_interventions`` crossed with every
level setting (at most ``MAX_DISCRETE`` rows, else the peer is skipped with its reason); each continuous gene,
medium uptake or black-box parameter a continuous range. The objective is the campaign's target alone (BayBE's
single-target objective; a cell's growth floor is not told to it, as a user would leave it out of a single
objective). Designs BayBE proposed but that are not yet measured are passed as ``pending_experiments`` (in the
loop every batch is measured before the next one is asked for, so this matters only if one is not); measured
and recommended designs are not proposed again (BayBE's defaults for a discrete space). A failed run is told
to no one (BayBE has no failed-experiment record); it is not proposed again either.
"""

from __future__ import annotations

import itertools
import logging
import math
import warnings
from typing import Any

from schemas import Design, Measurement, SearchSpace, Sense
from services.optimizer.context import History

MAX_DISCRETE = 400_000
"""The most rows of a discrete space listed for BayBE (succinate's 328,250 fit)."""


def unavailable() -> str | None:
    """Why the peer cannot run here (``baybe`` not importable), or None."""
    try:
        import baybe  # noqa: F401
    except ImportError as exc:
        return f"baybe is not installed ({exc}); install the optional extra: pip install -e '.[bench]'"
    return None


def _ko(gene: str) -> str:
    return f"ko_{gene}"


def _x(gene: str) -> str:
    return f"x_{gene}"


def _knockout_sets(search: SearchSpace) -> list[tuple[str, ...]]:
    candidates = list(dict.fromkeys(search.knockout_candidates))
    forbidden = [frozenset(f) for f in search.forbidden if f]
    return [combo for k in range(min(search.max_knockouts, len(candidates)) + 1)
            for combo in itertools.combinations(candidates, k)
            if not any(f <= set(combo) for f in forbidden)]


def discrete_rows(search: SearchSpace) -> int:
    """How many rows the discrete table would have (before the interventions cap)."""
    levels = [len(e.levels) for e in search.expression if e.levels]
    return len(_knockout_sets(search)) * math.prod(levels)


def too_large(search: SearchSpace) -> str | None:
    """Why the space is too large to list for BayBE, or None."""
    rows = discrete_rows(search) if search.knockout_candidates or any(e.levels for e in search.expression) else 0
    return f"the discrete space has {rows:,} designs, more than the {MAX_DISCRETE:,} listed for BayBE" \
        if rows > MAX_DISCRETE else None


class PlainBayBE:
    """A BayBE Campaign over a landscape's search space (see the module doc)."""

    def __init__(self, landscape: Any, seed: int) -> None:
        logging.getLogger("baybe").setLevel(logging.ERROR)
        import pandas as pd
        from baybe import Campaign
        from baybe.parameters import NumericalContinuousParameter, NumericalDiscreteParameter
        from baybe.searchspace import SearchSpace as BSearchSpace
        from baybe.searchspace import SubspaceContinuous, SubspaceDiscrete
        from baybe.settings import active_settings
        from baybe.targets import NumericalTarget

        self.pd = pd
        self.landscape = landscape
        search: SearchSpace = landscape.spec.search_space
        self.search = search
        active_settings.random_seed = seed
        self.knockouts = list(dict.fromkeys(search.knockout_candidates))
        self.levelled = [e for e in search.expression if e.levels]
        continuous = [NumericalContinuousParameter(_x(e.gene), (e.min_fold, e.max_fold))
                      for e in search.expression if not e.levels]
        continuous += [NumericalContinuousParameter(f"m_{m.exchange}", (m.min_uptake, m.max_uptake))
                       for m in search.medium]
        continuous += [NumericalContinuousParameter(p.name, (p.low, p.high)) for p in search.parameters]
        discrete = SubspaceDiscrete.empty()
        if self.knockouts or self.levelled:
            reason = too_large(search)
            if reason:
                raise ValueError(reason)
            table = self._table()
            params = [NumericalDiscreteParameter(_ko(g), (0.0, 1.0)) for g in self.knockouts]
            params += [NumericalDiscreteParameter(_x(e.gene), tuple(sorted(float(v) for v in e.levels or ())))
                       for e in self.levelled]
            discrete = SubspaceDiscrete.from_dataframe(table, parameters=params)
        space = BSearchSpace(discrete=discrete, continuous=SubspaceContinuous(continuous))
        minimize = landscape.spec.objective.sense != Sense.MAXIMIZE
        self.target = landscape.spec.objective.target
        self.campaign = Campaign(space, NumericalTarget(self.target, minimize=minimize).to_objective())
        self.pending: dict[str, tuple[Design, dict[str, float]]] = {}

    def _table(self) -> Any:
        search = self.search
        sets = _knockout_sets(search)
        settings = list(itertools.product(*(sorted(float(v) for v in e.levels or ()) for e in self.levelled)))
        columns = [_ko(g) for g in self.knockouts] + [_x(e.gene) for e in self.levelled]
        rows = []
        for combo in sets:
            ko = [1.0 if g in combo else 0.0 for g in self.knockouts]
            for setting in settings:
                changed = sum(abs(math.log2(v)) > 1e-9 for v in setting)
                if search.max_interventions is not None and len(combo) + changed > search.max_interventions:
                    continue
                rows.append(ko + list(setting))
        return self.pd.DataFrame(rows, columns=columns)

    def _design(self, row: dict[str, Any]) -> Design:
        knockouts = [g for g in self.knockouts if float(row[_ko(g)]) > 0.5]
        expression = {e.gene: float(row[_x(e.gene)]) for e in self.search.expression
                      if abs(float(row[_x(e.gene)]) - 1.0) > 1e-12}
        medium = {m.exchange: float(row[f"m_{m.exchange}"]) for m in self.search.medium}
        values = {p.name: float(row[p.name]) for p in self.search.parameters}
        return Design(knockouts=knockouts, expression=expression, medium=medium, parameters=values)

    def propose(self, n: int) -> list[Design]:
        """BayBE's next ``n`` designs."""
        pending = self.pd.DataFrame([row for _, row in self.pending.values()]) if self.pending else None
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            frame = self.campaign.recommend(batch_size=n, pending_experiments=pending)
        designs = []
        for record in frame.to_dict("records"):
            row = {str(k): float(v) for k, v in record.items()}
            design = self._design(row)
            self.pending[design.key()] = (design, row)
            designs.append(design)
        return designs

    def tell(self, design: Design, result: Measurement | None, history: History) -> None:
        """Report one outcome to BayBE (a failed run is dropped from the pending ones, told to no one)."""
        del history
        _, row = self.pending.pop(design.key())
        if result is None:
            return
        frame = self.pd.DataFrame([{**row, self.target: float(result.readout(self.target) or 0.0)}])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self.campaign.add_measurements(frame)
