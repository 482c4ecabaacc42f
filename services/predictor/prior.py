"""The mechanistic prior: pFBA fluxes of the organism model for each design, and the null space of S."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.linalg

from schemas.design import Design
from services.predictor.features import OrganismLike
from services.predictor.moma import DEFAULT_HEADROOM, LinearMoma

PRIOR_METHODS = ("pfba", "moma")
"""pFBA of the design, or linear MOMA around a wild-type reference (pFBA, or anchored to measured wild-type runs)."""


@dataclass
class PriorBatch:
    """pFBA flux per design (zeros where infeasible), its feasibility and the design's flux bounds."""

    flux: np.ndarray
    feasible: np.ndarray
    lb: np.ndarray
    ub: np.ndarray


def load_organism_model(spec: str) -> Any:
    """The organism model (imported lazily so feature-matrix models need no cobra)."""
    from services.domain.organism import load_organism

    return load_organism(spec)


_NULL_BASES: dict[tuple[Any, ...], np.ndarray] = {}


def null_basis(organism: OrganismLike) -> np.ndarray:
    """Orthonormal basis N of null(S) (reactions x k), so that P = N Nᵀ projects onto S v = 0."""
    S = organism_S(organism)
    key = (getattr(organism, "name", ""), S.shape, S.nnz, float(abs(S).sum()))
    if key not in _NULL_BASES:
        _NULL_BASES[key] = scipy.linalg.null_space(np.asarray(S.todense(), dtype=np.float64))
    return _NULL_BASES[key]


def organism_S(organism: Any) -> Any:
    """Stoichiometric matrix (scipy sparse)."""
    return organism.S


class MechanisticPrior:
    """Computes (and caches by design key) prior fluxes (pFBA or MOMA) and bounds of designs."""

    def __init__(self, organism: Any, base_medium: dict[str, float] | None = None, method: str = "pfba",
                 reference: np.ndarray | None = None, headroom: float | None = DEFAULT_HEADROOM,
                 capacities: dict[str, float] | None = None) -> None:
        from services.domain.organism import FastFBA

        if method not in PRIOR_METHODS:
            raise ValueError(f"unknown prior method {method!r} (choose {', '.join(PRIOR_METHODS)})")
        self.organism = organism
        self.base_medium = base_medium
        self.method = method
        self.fba = FastFBA(organism)
        by_index = {organism.reaction_index(rid): c for rid, c in (capacities or {}).items()}
        self.moma = (LinearMoma(organism, self.fba, base_medium, reference, headroom, by_index)
                     if method == "moma" else None)
        self._cache: dict[str, tuple[np.ndarray, bool, np.ndarray, np.ndarray]] = {}

    @property
    def n_reactions(self) -> int:
        """Length of the flux vector."""
        return len(self.organism.reaction_ids)

    def clear_cache(self) -> None:
        """Forget computed priors (benchmarks use it to time cold predictions)."""
        self._cache.clear()

    def _one(self, design: Design) -> tuple[np.ndarray, bool, np.ndarray, np.ndarray]:
        key = design.key()
        hit = self._cache.get(key)
        if hit is not None:
            return hit
        lb, ub = self.organism.design_bounds(design, self.base_medium)
        if self.moma is not None:
            flux, ok = self.moma.solve(design, lb, ub)
        else:
            result = self.fba.pfba(lb, ub)
            ok = result.status == "optimal"
            flux = np.asarray(result.fluxes, dtype=float) if ok else np.zeros(self.n_reactions)
        entry = (flux, ok, np.asarray(lb, dtype=float), np.asarray(ub, dtype=float))
        self._cache[key] = entry
        return entry

    def compute(self, designs: Sequence[Design]) -> PriorBatch:
        """Prior for each design (cached)."""
        rows = [self._one(d) for d in designs]
        return PriorBatch(
            flux=np.stack([r[0] for r in rows]) if rows else np.zeros((0, self.n_reactions)),
            feasible=np.array([r[1] for r in rows], dtype=bool),
            lb=np.stack([r[2] for r in rows]) if rows else np.zeros((0, self.n_reactions)),
            ub=np.stack([r[3] for r in rows]) if rows else np.zeros((0, self.n_reactions)),
        )

    def wild_type_reference(self) -> np.ndarray:
        """The MOMA prior's wild-type reference on the base medium (anchored, or pFBA's wild type)."""
        if self.moma is None:
            raise ValueError("only the MOMA prior has a wild-type reference")
        return self.moma.reference(Design())

    def flux_index(self, name: str) -> int:
        """Reaction index a target name reads from ('growth' = biomass; `flux:`/`product:` prefixes ok); -1 if none."""
        if name == "growth":
            return int(self.organism.biomass_index)
        for prefix in ("flux:", "product:"):
            if name.startswith(prefix):
                name = name[len(prefix):]
        return int(self.organism.reaction_index(name)) if name in self.organism.reaction_ids else -1


_SHARED: dict[tuple[int, str, str, bytes, float, str], MechanisticPrior] = {}
_MAX_SHARED = 16


def shared_prior(organism: Any, base_medium: dict[str, float] | None = None, method: str = "pfba",
                 reference: np.ndarray | None = None, headroom: float | None = DEFAULT_HEADROOM,
                 capacities: dict[str, float] | None = None) -> MechanisticPrior:
    """One prior (and its cache) per organism, base medium, method and MOMA settings in this process.

    MOMA settings: the wild-type reference, the capacity headroom and the capacities fitted to data.
    """
    ref_key = b"" if reference is None else np.round(np.asarray(reference, dtype=float), 9).tobytes()
    key = (id(organism), repr(sorted((base_medium or {}).items())), method, ref_key, float(headroom or 0.0),
           repr(sorted((capacities or {}).items())))
    if key not in _SHARED:
        if len(_SHARED) >= _MAX_SHARED:  # references and capacities change as data arrive: forget the oldest
            del _SHARED[next(iter(_SHARED))]
        _SHARED[key] = MechanisticPrior(organism, base_medium, method, reference, headroom, capacities)
    return _SHARED[key]


def mass_balance_violation(organism: Any, fluxes: np.ndarray) -> float:
    """Mean over designs of ||S v||₂ (mmol/gDW/h)."""
    residual = organism_S(organism) @ np.asarray(fluxes, dtype=float).T
    return float(np.linalg.norm(residual, axis=0).mean()) if residual.size else 0.0


def bounds_violation(prior: PriorBatch, fluxes: np.ndarray) -> float:
    """Mean over designs of the largest amount (mmol/gDW/h) by which a flux leaves the design's bounds."""
    over = np.maximum(fluxes - prior.ub, 0.0) + np.maximum(prior.lb - fluxes, 0.0)
    return float(over.max(axis=1).mean()) if over.size else 0.0
