"""The true optimum of a campaign on the noise-free simulator, to score optimisers against.

Cell campaigns: every knockout set of size <= max_knockouts is a candidate; expression
genes take their discrete levels (or 5 geometric points in [min, max]) and medium
components 5 evenly spaced uptakes. When the full product has at most EXHAUSTIVE_LIMIT
designs all are evaluated ("exhaustive"). Otherwise ("heuristic"): all knockout sets at
wild-type expression, then the full expression/medium grid for the TOP_K best sets (or
coordinate ascent when that grid is large), then swap-one-knockout local search from
the best design until nothing improves. A design counts only if it grows at or above
growth_floor x the true cell's wild-type growth.

A cell whose response costs a genome-scale LP (``staged = True``, simulators.genome.GenomeCell) gets a
smaller "staged" search: every knockout set of up to two genes at wild-type expression, the STAGED_TOP best
of them grown by each third candidate, coordinate ascent over the levels from the STAGED_TOP best sets, the
same swap-one-knockout search, then a first-improvement hill climb over every one-step move (a knockout
added, removed or swapped, one level changed) until no move improves, from that design and from each of the
other STAGED_TOP starts.

Function campaigns: a built-in function's known optimum ("known") when the search box
matches its domain; otherwise a dense grid plus L-BFGS-B from the best points.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import os
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from scipy.optimize import minimize

from schemas.campaign import CampaignSpec, Sense
from schemas.design import Design
from simulators.functions import FunctionSimulator, known_function
from simulators.truecell import TrueCell

EXHAUSTIVE_LIMIT = 20_000
TOP_K = 20
STAGED_TOP = 8
_VERSION = 1


@dataclass(frozen=True)
class GroundTruth:
    """Best achievable objective value and a design reaching it."""

    value: float
    design: Design
    method: str
    """"exhaustive", "heuristic" or "known"."""
    n_evaluated: int


def _cache_path(spec: CampaignSpec, cell: TrueCell | None, cache_dir: Path | None) -> Path:
    root = cache_dir or Path(os.environ.get("FLUXLAB_CACHE_DIR", Path.home() / ".cache" / "fluxlab"))
    payload = json.dumps({
        "v": _VERSION, "organism": spec.organism.model_dump(), "objective": spec.objective.model_dump(),
        "space": spec.search_space.model_dump(), "simulator": spec.simulator.model_dump() if spec.simulator else None,
        "profile": repr(cell.profile) if cell else None,
        **({"truth": version} if (version := _truth_version(spec, cell)) else {}),
    }, sort_keys=True, default=str)
    return root / "ground_truth" / f"{hashlib.sha256(payload.encode()).hexdigest()[:24]}.json"


def _truth_version(spec: CampaignSpec, cell: TrueCell | None) -> str | None:
    """The version of a non-default truth (KineticCell's), so that changing its kinetics re-runs the search."""
    if cell is not None:
        return getattr(cell, "truth_version", None)
    if spec.simulator is None or spec.simulator.kind != "cell":
        return None
    from simulators.cells import truth_version

    return truth_version(spec.simulator.profile)


def true_optimum(spec: CampaignSpec, cell: TrueCell | None = None, cache_dir: Path | None = None,
                 use_cache: bool = True) -> GroundTruth:
    """Ground truth for a campaign (cached on disk under cache_dir or $FLUXLAB_CACHE_DIR)."""
    path = _cache_path(spec, cell, cache_dir)
    if use_cache and path.is_file():
        data = json.loads(path.read_text())
        return GroundTruth(data["value"], Design.model_validate(data["design"]), data["method"], data["n_evaluated"])
    if spec.simulator is not None and spec.simulator.kind == "function":
        result = _function_optimum(spec)
    else:
        if cell is None:
            from simulators.cells import make_cell

            cell = make_cell(spec.organism.model, spec.simulator.profile if spec.simulator else "default")
        result = _CellSearch(spec, cell).run()
    if use_cache:
        path.parent.mkdir(parents=True, exist_ok=True)
        record = {**asdict(result), "design": result.design.model_dump()}
        path.write_text(json.dumps(record, sort_keys=True))
    return result


def _function_optimum(spec: CampaignSpec) -> GroundTruth:
    expression = spec.simulator.expression if spec.simulator else None
    params = spec.search_space.parameters
    if not expression or not params:
        raise ValueError("simulator.expression: a function campaign needs an expression and parameters")
    bounds = {p.name: (p.low, p.high) for p in params}
    known = known_function(expression)
    sense_ok = known is not None and known.sense == spec.objective.sense.value
    if known is not None and sense_ok and known.bounds == bounds:
        return GroundTruth(known.optimum, Design(parameters=known.argopt), "known", 0)
    fn = FunctionSimulator(expression, list(bounds))
    sign = -1.0 if spec.objective.sense == Sense.MAXIMIZE else 1.0
    names = list(bounds)
    low, high = np.array([bounds[n][0] for n in names]), np.array([bounds[n][1] for n in names])

    def loss(x: np.ndarray) -> float:
        try:
            return sign * fn.evaluate(dict(zip(names, x, strict=True)))
        except ValueError:
            return math.inf

    points = _grid(low, high)
    losses = np.array([loss(x) for x in points])
    best_x, best_loss = points[int(np.argmin(losses))], float(losses.min())
    for start in points[np.argsort(losses)[:5]]:
        res = minimize(loss, start, method="L-BFGS-B", bounds=list(zip(low, high, strict=True)))
        if res.fun < best_loss:
            best_x, best_loss = res.x, float(res.fun)
    design = Design(parameters={n: float(v) for n, v in zip(names, best_x, strict=True)})
    return GroundTruth(sign * best_loss, design, "heuristic", len(points))


def _grid(low: np.ndarray, high: np.ndarray, budget: int = 20_000) -> np.ndarray:
    per_axis = max(2, int(budget ** (1.0 / len(low))))
    if per_axis ** len(low) <= budget and per_axis >= 5:
        axes = [np.linspace(lo, hi, per_axis) for lo, hi in zip(low, high, strict=True)]
        return np.array(list(itertools.product(*axes)))
    rng = np.random.default_rng(0)
    return low + rng.random((budget, len(low))) * (high - low)


class _CellSearch:
    """Exhaustive or heuristic search of a cell campaign's design space."""

    def __init__(self, spec: CampaignSpec, cell: TrueCell) -> None:
        self.spec, self.cell = spec, cell
        self.space = spec.search_space
        self.base_medium = dict(spec.organism.medium)
        wild_type = cell.respond(Design(), self.base_medium)
        self.floor = spec.objective.growth_floor * wild_type.growth
        self.sign = 1.0 if spec.objective.sense == Sense.MAXIMIZE else -1.0
        self.forbidden = [frozenset(f) for f in self.space.forbidden]
        self.axes = self._axes()
        self.n_evaluated = 0

    def _axes(self) -> list[tuple[str, str, list[float]]]:
        axes: list[tuple[str, str, list[float]]] = []
        for e in self.space.expression:
            levels = e.levels or sorted({*np.geomspace(e.min_fold, e.max_fold, 5).round(6).tolist()}
                                        | ({1.0} if e.min_fold <= 1.0 <= e.max_fold else set()))
            axes.append(("expression", e.gene, [float(v) for v in levels]))
        for m in self.space.medium:
            axes.append(("medium", m.exchange, np.linspace(m.min_uptake, m.max_uptake, 5).tolist()))
        return axes

    def _knockout_sets(self) -> Iterator[tuple[str, ...]]:
        for k in range(self.space.max_knockouts + 1):
            for combo in itertools.combinations(self.space.knockout_candidates, k):
                if not any(f <= set(combo) for f in self.forbidden):
                    yield combo

    def _design(self, knockouts: tuple[str, ...], setting: tuple[float, ...] | None) -> Design:
        expression, medium = {}, {}
        for (kind, name, levels), value in zip(self.axes, setting or (None,) * len(self.axes), strict=True):
            if kind == "expression":
                if value is not None and value != 1.0:
                    expression[name] = value
            else:
                medium[name] = levels[-1] if value is None else value
        return Design(knockouts=list(knockouts), expression=expression, medium=medium)

    def _score(self, design: Design) -> float:
        limit = self.space.max_interventions
        if limit is not None and len(design.knockouts) + len(design.expression) + len(design.medium) > limit:
            return -math.inf
        self.n_evaluated += 1
        state = self.cell.respond(design, self.base_medium)
        if state.status != "ok" or state.growth < self.floor:
            return -math.inf
        target = self.spec.objective.target
        value = state.growth if target == "growth" else state.flux(target)
        return self.sign * value

    def run(self) -> GroundTruth:
        """Search and report the best feasible design."""
        ko_sets = list(self._knockout_sets())
        settings = list(itertools.product(*(levels for _, _, levels in self.axes)))
        if len(ko_sets) * len(settings) <= EXHAUSTIVE_LIMIT:
            scored = [(self._score(d), d) for d in (self._design(k, s) for k in ko_sets for s in settings)]
            return self._result(max(scored, key=lambda t: t[0]), "exhaustive")
        if getattr(self.cell, "staged", False):
            return self._staged()
        base = sorted(((self._score(self._design(k, None)), k) for k in ko_sets), key=lambda t: -t[0])[:TOP_K]
        best = max(((self._best_setting(k), k) for _, k in base), key=lambda t: t[0][0])
        (score, setting), knockouts = best
        return self._result(self._swap_search(knockouts, setting, score), "heuristic")

    def _staged(self) -> GroundTruth:
        """The staged search for slow cells (module doc)."""
        small = [k for k in self._knockout_sets() if len(k) <= 2]
        scored = {k: self._score(self._design(k, None)) for k in small}
        if self.space.max_knockouts >= 3:
            for k in sorted(small, key=lambda k: -scored[k])[:STAGED_TOP]:
                for gene in self.space.knockout_candidates:
                    grown = tuple(sorted({*k, gene}))
                    if grown not in scored and not any(f <= set(grown) for f in self.forbidden):
                        scored[grown] = self._score(self._design(grown, None))
        top = sorted(scored, key=lambda k: -scored[k])[:STAGED_TOP]
        starts = sorted(((self._best_setting(k, ascent=True), k) for k in top), key=lambda t: -t[0][0])
        (score, setting), knockouts = starts[0]
        score, design = self._swap_search(knockouts, setting, score, ascent=True)
        climbs = [self._climb(tuple(sorted(design.knockouts)), self._setting_of(design), score)]
        climbs += [self._climb(k, start_setting, start_score) for (start_score, start_setting), k in starts[1:]
                   if math.isfinite(start_score)]
        return self._result(max(climbs, key=lambda t: t[0]), "staged")

    def _setting_of(self, design: Design) -> tuple[float, ...]:
        return tuple(design.expression.get(name, 1.0) if kind == "expression" else design.medium[name]
                     for kind, name, _ in self.axes)

    def _moves(self, knockouts: tuple[str, ...], setting: tuple[float, ...]
               ) -> Iterator[tuple[tuple[str, ...], tuple[float, ...]]]:
        others = [g for g in self.space.knockout_candidates if g not in knockouts]
        for i in range(len(knockouts)):
            yield knockouts[:i] + knockouts[i + 1 :], setting
        if len(knockouts) < self.space.max_knockouts:
            for gene in others:
                yield tuple(sorted((*knockouts, gene))), setting
        for i, gene in itertools.product(range(len(knockouts)), others):
            yield tuple(sorted((*knockouts[:i], gene, *knockouts[i + 1 :]))), setting
        for i, (_, _, levels) in enumerate(self.axes):
            for value in levels:
                if value != setting[i]:
                    yield knockouts, (*setting[:i], value, *setting[i + 1 :])

    def _climb(self, knockouts: tuple[str, ...], setting: tuple[float, ...], score: float) -> tuple[float, Design]:
        """First-improvement hill climb over every one-step move until none improves."""
        improved = True
        while improved:
            improved = False
            for trial_ko, trial_setting in self._moves(knockouts, setting):
                if any(f <= set(trial_ko) for f in self.forbidden):
                    continue
                trial_score = self._score(self._design(trial_ko, trial_setting))
                if trial_score > score + 1e-12:
                    knockouts, setting, score, improved = trial_ko, trial_setting, trial_score, True
                    break
        return score, self._design(knockouts, setting)

    def _best_setting(self, knockouts: tuple[str, ...], ascent: bool = False) -> tuple[float, tuple[float, ...]]:
        settings = list(itertools.product(*(levels for _, _, levels in self.axes)))
        if len(settings) <= 500 and not ascent:
            return max((self._score(self._design(knockouts, s)), s) for s in settings)
        setting = tuple(1.0 if kind == "expression" else levels[-1] for kind, _, levels in self.axes)
        score, improved = self._score(self._design(knockouts, setting)), True
        while improved:
            improved = False
            for i, (_, _, levels) in enumerate(self.axes):
                for value in levels:
                    trial = (*setting[:i], value, *setting[i + 1 :])
                    trial_score = self._score(self._design(knockouts, trial))
                    if trial_score > score + 1e-12:
                        score, setting, improved = trial_score, trial, True
        return score, setting

    def _swap_search(self, knockouts: tuple[str, ...], setting: tuple[float, ...], score: float,
                     ascent: bool = False) -> tuple[float, Design]:
        """Swap one knockout at a time at the current setting; re-tune the setting after each gain."""
        improved = True
        while improved:
            improved = False
            for i, candidate in itertools.product(range(len(knockouts)), self.space.knockout_candidates):
                trial = tuple(sorted((*knockouts[:i], candidate, *knockouts[i + 1 :])))
                if candidate in knockouts or any(f <= set(trial) for f in self.forbidden):
                    continue
                if self._score(self._design(trial, setting)) > score + 1e-12:
                    knockouts = trial
                    score, setting = self._best_setting(trial, ascent)
                    improved = True
                    break
        return score, self._design(knockouts, setting)

    def _result(self, best: tuple[float, Design], method: str) -> GroundTruth:
        score, design = best
        if not math.isfinite(score):
            raise ValueError("search_space: no design in the search space meets the growth floor")
        return GroundTruth(self.sign * score, design, method, self.n_evaluated)
