"""The mechanistic prior: pFBA fluxes of the organism model for each design, and the null space of S."""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.linalg

from schemas.design import Design
from services.predictor.features import OrganismLike
from services.predictor.moma import DEFAULT_HEADROOM, LinearMoma

PARALLEL_MIN = 64
"""Fewest new designs in one `compute` call that are spread over worker processes."""

PARALLEL_REACTIONS = 500
"""Models with fewer reactions (E. coli core: LPs of ~1 ms) solve serially unless workers are asked for."""

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
        self._bounds_of: tuple[Design, np.ndarray, np.ndarray] | None = None

    @property
    def n_reactions(self) -> int:
        """Length of the flux vector."""
        return len(self.organism.reaction_ids)

    def clear_cache(self) -> None:
        """Forget computed priors (benchmarks use it to time cold predictions)."""
        self._cache.clear()

    def solve(self, design: Design) -> tuple[np.ndarray, bool]:
        """Prior flux of one design and whether its LP was feasible (no cache)."""
        lb, ub = self.organism.design_bounds(design, self.base_medium)
        self._bounds_of = (design, lb, ub)  # `_store` of the same design takes them
        if self.moma is not None:
            return self.moma.solve(design, lb, ub)
        result = self.fba.pfba(lb, ub)
        ok = result.status == "optimal"
        return (np.asarray(result.fluxes, dtype=float) if ok else np.zeros(self.n_reactions)), ok

    def _store(self, design: Design, flux: np.ndarray, ok: bool) -> None:
        held, self._bounds_of = self._bounds_of, None
        lb, ub = held[1:] if held is not None and held[0] is design else \
            self.organism.design_bounds(design, self.base_medium)
        self._cache[design.key()] = (flux, ok, np.asarray(lb, dtype=float), np.asarray(ub, dtype=float))

    def compute(self, designs: Sequence[Design], workers: int | None = None) -> PriorBatch:
        """Prior for each design, cached by `Design.key()`.

        New designs are solved once each (repeats within the call too); at least `PARALLEL_MIN` of them
        are spread over `workers` forked processes, each with its own copy of the warm-started LPs
        (default: `default_workers()` for genome-scale models of >= `PARALLEL_REACTIONS` reactions, else 1).
        """
        todo: dict[str, Design] = {}
        for d in designs:
            key = d.key()
            if key not in self._cache and key not in todo:
                todo[key] = d
        new = list(todo.values())
        if workers is None:
            workers = default_workers() if self.n_reactions >= PARALLEL_REACTIONS else 1
        n_workers = min(max(1, workers), len(new))
        if n_workers > 1 and len(new) >= PARALLEL_MIN and "fork" in multiprocessing.get_all_start_methods():
            for d, (flux, ok) in zip(new, _solve_in_workers(self, new, n_workers), strict=True):
                self._store(d, flux, ok)
        else:
            for d in new:
                self._store(d, *self.solve(d))
        rows = [self._cache[d.key()] for d in designs]
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


def default_workers() -> int:
    """Worker processes for new priors: `FLUXLAB_PRIOR_WORKERS`, else the usable CPU cores (at most 8)."""
    env = os.environ.get("FLUXLAB_PRIOR_WORKERS", "").strip()
    if env:
        return max(1, int(env))
    return max(1, min(8, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1))


_WORKER_PRIOR: MechanisticPrior | None = None
"""The prior a forked worker solves with (inherited from the parent at fork time)."""


def _worker_solve(chunk: list[Design]) -> list[tuple[np.ndarray, bool]]:
    assert _WORKER_PRIOR is not None
    return [_WORKER_PRIOR.solve(d) for d in chunk]


def _solve_in_workers(prior: MechanisticPrior, designs: list[Design], workers: int) -> list[tuple[np.ndarray, bool]]:
    """Solve `designs` in `workers` forked processes (contiguous chunks, so each worker's warm start stays local)."""
    global _WORKER_PRIOR
    size = max(1, -(-len(designs) // (workers * 4)))
    chunks = [designs[i:i + size] for i in range(0, len(designs), size)]
    _WORKER_PRIOR = prior
    try:
        with multiprocessing.get_context("fork").Pool(workers) as pool:
            parts = pool.map(_worker_solve, chunks, chunksize=1)
    finally:
        _WORKER_PRIOR = None
    return [r for part in parts for r in part]


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
