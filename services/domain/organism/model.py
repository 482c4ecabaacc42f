"""The genome-scale model as arrays: stoichiometry, bounds, GPR rules, design bounds."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from pathlib import Path

import cobra
import numpy as np
import scipy.sparse as sp
from cobra.util.array import create_stoichiometric_matrix
from cobra.util.solver import linear_reaction_coefficients

from schemas.campaign import SearchSpace
from schemas.design import Design
from schemas.errors import FieldError
from services.domain.organism.gpr import GprNode, compile_gpr, gpr_level

BUNDLED_MODELS = ("textbook", "iJO1366")
"""Models shipped inside cobra itself (no network needed)."""


class OrganismError(FieldError, ValueError):
    """A model could not be loaded, or a design does not fit it (`field` names the culprit)."""


def _read_model(spec: str) -> cobra.Model:
    if spec in BUNDLED_MODELS:
        from cobra.io.web.cobrapy_repository import Cobrapy

        return cobra.io.load_model(spec, repositories=(Cobrapy(),))
    path = Path(spec).expanduser()
    if not path.is_file():
        raise OrganismError(
            "organism.model", f"unknown model {spec!r}: not a bundled model ({', '.join(BUNDLED_MODELS)}) nor a file"
        )
    suffix = "".join(path.suffixes[-2:]).lower() if path.suffix == ".gz" else path.suffix.lower()
    readers = {
        ".xml": cobra.io.read_sbml_model, ".sbml": cobra.io.read_sbml_model, ".xml.gz": cobra.io.read_sbml_model,
        ".json": cobra.io.load_json_model, ".yml": cobra.io.load_yaml_model, ".yaml": cobra.io.load_yaml_model,
        ".mat": cobra.io.load_matlab_model,
    }
    reader = readers.get(suffix)
    if reader is None:
        raise OrganismError("organism.model", f"unsupported model file type {suffix!r} (use SBML .xml or JSON)")
    try:
        return reader(str(path))
    except Exception as exc:  # cobra raises many kinds of parse errors
        raise OrganismError("organism.model", f"could not read {path}: {exc}") from exc


LEVELS_CACHE = 65536
"""Gene-level combinations whose reaction levels an organism keeps (then it starts afresh)."""


@functools.lru_cache(maxsize=8)
def load_organism(spec: str = "textbook") -> Organism:
    """Load (once per process) a bundled model name or an SBML/JSON file path as an Organism."""
    return Organism(_read_model(spec), name=spec)


class Organism:
    """Array view of a cobra model plus the design -> bounds rules.

    `cobra_model` is shared by every user of the cached organism: change it only inside
    `with organism.cobra_model:` blocks so every edit is undone.
    """

    def __init__(self, model: cobra.Model, name: str | None = None) -> None:
        self.name = name or model.id
        self.cobra_model = model
        self.reaction_ids = [r.id for r in model.reactions]
        self.gene_ids = [g.id for g in model.genes]
        self.metabolite_ids = [m.id for m in model.metabolites]
        self.exchange_ids = [r.id for r in model.exchanges]
        self.S: sp.csr_matrix = sp.csr_matrix(create_stoichiometric_matrix(model, array_type="lil"))
        self.lb = np.array([r.lower_bound for r in model.reactions], dtype=float)
        self.ub = np.array([r.upper_bound for r in model.reactions], dtype=float)
        self._rindex = {rid: i for i, rid in enumerate(self.reaction_ids)}
        self._genes = set(self.gene_ids)
        self._levels: dict[tuple[tuple[str, float], ...], dict[int, float]] = {}
        """`reaction_levels` answers by gene levels (a design's bounds, MOMA target and features ask alike)."""
        self._exchanges = set(self.exchange_ids)
        self.biomass_id = self._find_biomass(model)
        self.biomass_index = self._rindex[self.biomass_id]
        self.gpr: list[GprNode | None] = [compile_gpr(r.gpr.body) for r in model.reactions]
        self.gene_reactions: dict[str, list[int]] = {
            g.id: sorted(self._rindex[r.id] for r in g.reactions) for g in model.genes
        }
        self._uptake_sign = {ex: self._exchange_sign(model.reactions.get_by_id(ex)) for ex in self.exchange_ids}

    @staticmethod
    def _find_biomass(model: cobra.Model) -> str:
        coefficients = linear_reaction_coefficients(model)
        if not coefficients:
            raise OrganismError("organism.model", "the model has no objective (biomass) reaction")
        ids = [r.id for r in coefficients]
        return next((rid for rid in ids if "biomass" in rid.lower()), ids[0])

    @staticmethod
    def _exchange_sign(reaction: cobra.Reaction) -> float:
        """-1 when uptake is negative flux (the usual `met <=>` exchange), +1 otherwise."""
        coefficients = list(reaction.metabolites.values())
        return -1.0 if not coefficients or coefficients[0] < 0 else 1.0

    def __repr__(self) -> str:
        return f"Organism({self.name!r}, {len(self.reaction_ids)} reactions, {len(self.gene_ids)} genes)"

    def reaction_index(self, rid: str) -> int:
        """Column index of a reaction id (KeyError with the id when unknown)."""
        try:
            return self._rindex[rid]
        except KeyError:
            raise KeyError(f"unknown reaction {rid!r}") from None

    def has_reaction(self, rid: str) -> bool:
        """Whether `rid` is a reaction of this model."""
        return rid in self._rindex

    def validate_design(self, design: Design) -> None:
        """Raise OrganismError naming the first knockout/expression/medium id the model lacks."""
        for i, ko in enumerate(design.knockouts):
            self._check_knockout(f"knockouts[{i}]", ko)
        for gene in design.expression:
            self._check_gene(f"expression.{gene}", gene)
        for ex in design.medium:
            self._check_exchange(f"medium.{ex}", ex)

    def validate_search_space(self, space: SearchSpace) -> None:
        """Raise OrganismError naming the first candidate gene, expression gene or medium exchange the model lacks."""
        for i, ko in enumerate(space.knockout_candidates):
            self._check_knockout(f"search_space.knockout_candidates[{i}]", ko)
        for i, param in enumerate(space.expression):
            self._check_gene(f"search_space.expression[{i}].gene", param.gene)
        for i, medium in enumerate(space.medium):
            self._check_exchange(f"search_space.medium[{i}].exchange", medium.exchange)

    def _check_knockout(self, field: str, ko: str) -> None:
        if ko not in self._genes and ko not in self._rindex:
            raise OrganismError(field, f"unknown gene or reaction {ko!r} in model {self.name!r}")

    def _check_gene(self, field: str, gene: str) -> None:
        if gene not in self._genes:
            raise OrganismError(field, f"unknown gene {gene!r} in model {self.name!r}")

    def _check_exchange(self, field: str, ex: str) -> None:
        if ex not in self._exchanges:
            what = "is not an exchange reaction" if ex in self._rindex else "unknown exchange reaction"
            raise OrganismError(field, f"{what} {ex!r} in model {self.name!r}")

    def gene_levels(self, design: Design) -> dict[str, float]:
        """Gene -> level: expression fold changes, with knockouts at 0 (a knockout wins)."""
        levels = {g: float(f) for g, f in design.expression.items()}
        levels.update({ko: 0.0 for ko in design.knockouts if ko in self._genes})
        return levels

    def reaction_levels(self, gene_levels: Mapping[str, float]) -> dict[int, float]:
        """Relative capacity of every reaction touched by `gene_levels` (see gpr module for the rule)."""
        key = tuple(sorted(gene_levels.items()))
        known = self._levels.get(key)
        if known is not None:
            return dict(known)
        touched = {r for g in gene_levels for r in self.gene_reactions.get(g, ())}
        out: dict[int, float] = {}
        for r in sorted(touched):
            rule = self.gpr[r]
            if rule is None:
                continue
            base = gpr_level(rule, {})
            out[r] = gpr_level(rule, gene_levels) / base if base > 0 else 1.0
        if len(self._levels) >= LEVELS_CACHE:
            self._levels.clear()
        self._levels[key] = dict(out)
        return out

    def medium_bounds(self, lb: np.ndarray, ub: np.ndarray, medium: Mapping[str, float]) -> None:
        """Set exchange uptake limits in place: uptake of `medium[ex]` mmol/gDW/h at most."""
        for ex, uptake in medium.items():
            self._check_exchange(f"medium.{ex}", ex)
            i = self._rindex[ex]
            if self._uptake_sign[ex] < 0:
                lb[i] = -float(uptake)
            else:
                ub[i] = float(uptake)

    def design_bounds(
        self, design: Design, base_medium: Mapping[str, float] | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Flux bounds of a design: default bounds, base medium then design medium, knockouts, expression.

        Knockouts follow cobra: a gene knockout blocks each reaction whose GPR becomes
        false (losing one isozyme leaves the bounds alone); a reaction-id knockout blocks
        that reaction. An expression fold change multiplies both bounds of each reaction
        it touches by the reaction's relative capacity (gpr module: AND = min, OR = sum).
        Plain FBA bounds of +-1000 are effectively open, so only strong down-regulation
        changes an FBA optimum.
        """
        self.validate_design(design)
        lb, ub = self.lb.copy(), self.ub.copy()
        if base_medium:
            self.medium_bounds(lb, ub, base_medium)
        self.medium_bounds(lb, ub, design.medium)
        expression = {g: float(f) for g, f in design.expression.items() if g not in design.knockouts}
        for r, scale in self.reaction_levels(expression).items():
            lb[r] *= scale
            ub[r] *= scale
        knocked = {ko: 0.0 for ko in design.knockouts if ko in self._genes}
        for r, level in self.reaction_levels(knocked).items():
            if level == 0.0:
                lb[r] = ub[r] = 0.0
        for ko in design.knockouts:
            if ko in self._rindex and ko not in self._genes:
                lb[self._rindex[ko]] = ub[self._rindex[ko]] = 0.0
        return lb, ub

    @functools.cached_property
    def _reference_growth(self) -> float:
        from services.domain.organism.fba import FastFBA

        return FastFBA(self).reference.growth

    def reference_growth(self) -> float:
        """Wild-type FBA growth rate (1/h) on the default medium."""
        return self._reference_growth
