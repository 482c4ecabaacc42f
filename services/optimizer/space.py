"""The search space of a campaign: encoding, validity, repair, sampling and distance of designs.

A design is encoded as one float per *gene* (the word is the genetic algorithm's, not biology's):

* ``knockout``   — 1.0 when the candidate is knocked out, else 0.0;
* ``expression`` — log2 of the fold change (continuous), wild type = 0;
* ``level``      — index into the discrete fold-change levels;
* ``medium``     — maximum uptake (mmol/gDW/h);
* ``parameter``  — the black-box parameter's value.

Interventions counted against ``max_interventions`` are knockouts, expression changes and
medium entries. An expression change within ``WILD_TYPE_SNAP`` (log2) of 1 is treated as
wild type, so continuous optimisers can leave a gene untouched. A gene left at wild type whose
range (or level list) excludes 1 is valid but not representable: encoding snaps it into range.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from schemas import CampaignSpec, Design, SearchSpace

GeneKind = Literal["knockout", "expression", "level", "medium", "parameter"]
WILD_TYPE_SNAP = 0.05
"""|log2 fold change| below which an expression level counts as unchanged."""
MAX_SAMPLE_TRIES = 200


@dataclass(frozen=True)
class Gene:
    """One coordinate of the encoded design."""

    kind: GeneKind
    name: str
    low: float
    high: float
    levels: tuple[float, ...] = ()

    @property
    def span(self) -> float:
        """Width of the coordinate's range (1 for a fixed coordinate, to avoid division by zero)."""
        return self.high - self.low if self.high > self.low else 1.0


def strain(design: Design) -> frozenset[str]:
    """The knockout set of a design: the strain to build (expression and medium changes are set on top)."""
    return frozenset(design.knockouts)


def _nearest(values: Sequence[float], value: float) -> int:
    """Index of the entry nearest to ``value`` (the first of ties, as ``np.argmin``)."""
    best, gap = 0, math.inf
    for j, v in enumerate(values):
        if abs(v - value) < gap:
            best, gap = j, abs(v - value)
    return best


def _genes(space: SearchSpace) -> list[Gene]:
    genes = [Gene("knockout", c, 0.0, 1.0) for c in dict.fromkeys(space.knockout_candidates)]
    for ep in space.expression:
        if ep.levels:
            levels = tuple(sorted(ep.levels))
            genes.append(Gene("level", ep.gene, 0.0, float(len(levels) - 1), levels))
        else:
            genes.append(Gene("expression", ep.gene, math.log2(ep.min_fold), math.log2(ep.max_fold)))
    genes += [Gene("medium", mp.exchange, mp.min_uptake, mp.max_uptake) for mp in space.medium]
    genes += [Gene("parameter", rp.name, rp.low, rp.high) for rp in space.parameters]
    return genes


class DesignSpace:
    """The designs a campaign may propose, with their encoding as float vectors."""

    def __init__(self, search_space: SearchSpace) -> None:
        self.search = search_space
        self.genes = _genes(search_space)
        self.dim = len(self.genes)
        self.lows = np.array([g.low for g in self.genes])
        self.highs = np.array([g.high for g in self.genes])
        self.spans = np.array([g.span for g in self.genes])
        self.ko_index = {g.name: i for i, g in enumerate(self.genes) if g.kind == "knockout"}
        self.expression = {ep.gene: ep for ep in search_space.expression}
        self.medium = {mp.exchange: mp for mp in search_space.medium}
        self.parameters = {rp.name: rp for rp in search_space.parameters}
        self.forbidden = [frozenset(combo) for combo in search_space.forbidden if combo]
        self._log_levels = {i: [math.log2(lv) for lv in g.levels]
                            for i, g in enumerate(self.genes) if g.kind == "level"}

    @classmethod
    def from_spec(cls, spec: CampaignSpec) -> DesignSpace:
        """The design space of a campaign spec."""
        return cls(spec.search_space)

    # -- encoding --------------------------------------------------------------------------

    def encode(self, design: Design) -> np.ndarray:
        """Design -> vector of gene values (see module docstring)."""
        knocked = set(design.knockouts)
        x = np.empty(self.dim)
        for i, g in enumerate(self.genes):
            if g.kind == "knockout":
                x[i] = 1.0 if g.name in knocked else 0.0
            elif g.kind == "expression":
                x[i] = math.log2(design.expression.get(g.name, 1.0))
            elif g.kind == "level":
                x[i] = float(_nearest(self._log_levels[i], math.log2(design.expression.get(g.name, 1.0))))
            elif g.kind == "medium":
                x[i] = design.medium.get(g.name, g.high)
            else:
                x[i] = design.parameters.get(g.name, 0.5 * (g.low + g.high))
        return np.clip(x, self.lows, self.highs)

    def decode(self, x: Sequence[float] | np.ndarray) -> Design:
        """Vector -> design (clipped to bounds; not repaired: knockout constraints may be violated)."""
        v = np.clip(np.asarray(x, dtype=float), self.lows, self.highs)
        knockouts: list[str] = []
        expression: dict[str, float] = {}
        medium: dict[str, float] = {}
        parameters: dict[str, float] = {}
        for value, g in zip(v, self.genes, strict=True):
            if g.kind == "knockout":
                if value > 0.5:
                    knockouts.append(g.name)
            elif g.kind == "expression":
                if abs(value) >= WILD_TYPE_SNAP:
                    expression[g.name] = float(2.0**value)
            elif g.kind == "level":
                level = g.levels[round(value)]
                if abs(level - 1.0) > 1e-9:
                    expression[g.name] = float(level)
            elif g.kind == "medium":
                medium[g.name] = float(value)
            else:
                parameters[g.name] = float(value)
        return Design(knockouts=knockouts, expression=expression, medium=medium, parameters=parameters)

    def unit(self, design: Design) -> np.ndarray:
        """Design -> vector scaled to [0, 1] per gene (for distances)."""
        return (self.encode(design) - self.lows) / self.spans

    def distance(self, a: Design, b: Design) -> float:
        """Distance between two designs in [0, 1]: RMS difference of their unit vectors."""
        if self.dim == 0:
            return 0.0
        return float(np.sqrt(np.mean((self.unit(a) - self.unit(b)) ** 2)))

    # -- validity --------------------------------------------------------------------------

    def interventions(self, design: Design) -> int:
        """Knockouts + changed genes + medium entries."""
        changed = sum(1 for v in design.expression.values() if abs(v - 1.0) > 1e-9)
        return len(design.knockouts) + changed + len(design.medium)

    def is_valid(self, design: Design) -> tuple[bool, str]:
        """Whether the design lies in the space and meets its constraints; the reason when not."""
        for check in (self._check_knockouts, self._check_expression, self._check_medium, self._check_parameters):
            reason = check(design)
            if reason:
                return False, reason
        limit = self.search.max_interventions
        if limit is not None and self.interventions(design) > limit:
            return False, f"{self.interventions(design)} interventions exceed max_interventions={limit}"
        return True, ""

    def _check_knockouts(self, design: Design) -> str:
        unknown = [k for k in design.knockouts if k not in self.ko_index]
        if unknown:
            return f"knockouts {unknown} are not knockout candidates"
        if len(design.knockouts) > self.search.max_knockouts:
            return f"{len(design.knockouts)} knockouts exceed max_knockouts={self.search.max_knockouts}"
        knocked = set(design.knockouts)
        for combo in self.forbidden:
            if combo <= knocked:
                return f"forbidden knockout combination {sorted(combo)}"
        return ""

    def _check_expression(self, design: Design) -> str:
        for gene, fold in design.expression.items():
            ep = self.expression.get(gene)
            if ep is None:
                return f"expression of {gene} is not a design variable"
            if abs(fold - 1.0) <= 1e-9:
                continue
            if ep.levels and not any(abs(fold - lv) <= 1e-6 * max(1.0, lv) for lv in ep.levels):
                return f"expression {gene}={fold:g} is not one of the levels {ep.levels}"
            if not ep.levels and not (ep.min_fold - 1e-9 <= fold <= ep.max_fold + 1e-9):
                return f"expression {gene}={fold:g} outside [{ep.min_fold:g}, {ep.max_fold:g}]"
        return ""

    def _check_medium(self, design: Design) -> str:
        for exchange, uptake in design.medium.items():
            mp = self.medium.get(exchange)
            if mp is None:
                return f"medium {exchange} is not a design variable"
            if not (mp.min_uptake - 1e-9 <= uptake <= mp.max_uptake + 1e-9):
                return f"medium {exchange}={uptake:g} outside [{mp.min_uptake:g}, {mp.max_uptake:g}]"
        return ""

    def _check_parameters(self, design: Design) -> str:
        unknown = sorted(set(design.parameters) - set(self.parameters))
        if unknown:
            return f"parameters {unknown} are not design variables"
        for name, rp in self.parameters.items():
            if name not in design.parameters:
                return f"parameter {name} is missing"
            if not (rp.low - 1e-9 <= design.parameters[name] <= rp.high + 1e-9):
                return f"parameter {name}={design.parameters[name]:g} outside [{rp.low:g}, {rp.high:g}]"
        return ""

    # -- repair and sampling ---------------------------------------------------------------

    def repair(self, design: Design, rng: np.random.Generator) -> Design:
        """The nearest valid design: values snapped into bounds, random knockouts dropped until constraints hold."""
        return self._repaired(self.decode(self.encode(design)), rng)

    def repair_vector(self, x: Sequence[float] | np.ndarray, rng: np.random.Generator) -> Design:
        """`repair` of the design a vector decodes to (decoding already snaps values into bounds)."""
        return self._repaired(self.decode(x), rng)

    def _repaired(self, base: Design, rng: np.random.Generator) -> Design:
        knockouts = self._repair_knockouts(list(base.knockouts), rng)
        expression = dict(base.expression)
        medium = dict(base.medium)
        limit = self.search.max_interventions
        while limit is not None and len(knockouts) + len(expression) + len(medium) > limit:
            if knockouts:
                knockouts.pop(int(rng.integers(len(knockouts))))
            elif expression:
                del expression[min(expression, key=lambda g: abs(math.log2(expression[g])))]
            else:
                medium.popitem()
        return Design(knockouts=knockouts, expression=expression, medium=medium, parameters=base.parameters)

    def _repair_knockouts(self, knockouts: list[str], rng: np.random.Generator) -> list[str]:
        order = [knockouts[i] for i in rng.permutation(len(knockouts))]
        while True:
            hit = next((combo for combo in self.forbidden if combo <= set(order)), None)
            if hit is None:
                break
            members = sorted(hit)
            order.remove(members[int(rng.integers(len(members)))])
        return sorted(order[: self.search.max_knockouts])

    def sample(self, rng: np.random.Generator) -> Design:
        """A uniformly random valid design (knockout count uniform in 0..max, then a random subset)."""
        x = self.lows + rng.random(self.dim) * (self.highs - self.lows)
        ko = [i for i, g in enumerate(self.genes) if g.kind == "knockout"]
        x[ko] = 0.0
        if ko:
            count = int(rng.integers(0, min(self.search.max_knockouts, len(ko)) + 1))
            x[rng.choice(ko, size=count, replace=False)] = 1.0
        for i, g in enumerate(self.genes):
            if g.kind == "level":
                x[i] = float(rng.integers(len(g.levels)))
            elif g.kind == "expression" and g.low <= 0.0 <= g.high and rng.random() < 0.25:
                x[i] = 0.0
        return self.repair(self.decode(x), rng)

    def sample_unique(self, n: int, rng: np.random.Generator, exclude: Iterable[str] = ()) -> list[Design]:
        """Up to ``n`` distinct random valid designs whose keys are not in ``exclude``."""
        seen = set(exclude)
        out: list[Design] = []
        for _ in range(MAX_SAMPLE_TRIES * max(n, 1)):
            if len(out) >= n:
                break
            design = self.sample(rng)
            key = design.key()
            if key not in seen:
                seen.add(key)
                out.append(design)
        return out
