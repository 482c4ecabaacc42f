"""The mechanistic prior: pFBA fluxes of the organism model for each design, and the null space of S."""

from __future__ import annotations

import multiprocessing
import os
import zlib
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
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

LANES = 2
"""LP solvers per prior. A new design is solved on the lane of its strain (`lane_of`), each lane with its
own warm-started HiGHS models; HiGHS releases the GIL, so lanes solve in parallel threads. Which
lane solves a design depends only on the design, never on the machine's cores: the answer (one optimum of
a degenerate LP) is the same whether the lanes ran side by side or one after the other."""

LANE_THREADS_MIN = 8
"""Fewest new designs of one `compute` call for which the lanes run in parallel threads."""

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


class _Lane:
    """One lane's LP solvers: pFBA (FastFBA) and, for the MOMA prior, a LinearMoma on top of it."""

    def __init__(self, organism: Any, base_medium: dict[str, float] | None, method: str,
                 reference: np.ndarray | None, headroom: float | None, capacities: dict[int, float]) -> None:
        from services.domain.organism import FastFBA

        self.organism, self.base_medium = organism, base_medium
        self.fba = FastFBA(organism)
        self.moma = (LinearMoma(organism, self.fba, base_medium, reference, headroom, capacities)
                     if method == "moma" else None)

    def solve(self, design: Design, lb: np.ndarray, ub: np.ndarray, n_reactions: int) -> tuple[np.ndarray, bool]:
        """Prior flux of one design under its bounds and whether its LP was feasible."""
        if self.moma is not None:
            return self.moma.solve(design, lb, ub)
        wild_type = Design(medium=design.medium)  # the anchor: the design's medium, no genetic change
        result = self.fba.pfba_anchored(repr(sorted(design.medium.items())),
                                        lambda: self.organism.design_bounds(wild_type, self.base_medium), lb, ub)
        ok = result.status == "optimal"
        return (np.asarray(result.fluxes, dtype=float) if ok else np.zeros(n_reactions)), ok


def lane_of(design: Design) -> int:
    """The lane that solves a design: a stable hash of its strain (knockouts and medium).

    Per strain, so that each strain's designs are solved one after the other from that strain's last optimal
    basis, as with one solver: the answers are the ones a single solver gives (spreading one strain's designs
    over lanes would change which optimum of a degenerate MOMA LP a design gets, and the hybrid learns from
    them: measured on the kinetic landscape, 5 seeds, median best fraction 0.67 -> 0.45).
    """
    return zlib.crc32(repr((sorted(design.knockouts), sorted(design.medium.items()))).encode()) % LANES


def lane_threads() -> int:
    """Threads the lanes may use: `FLUXLAB_PRIOR_THREADS`, else the usable CPU cores (at most `LANES`)."""
    env = os.environ.get("FLUXLAB_PRIOR_THREADS", "").strip()
    cores = int(env) if env else (len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
                                  else os.cpu_count() or 1)
    return max(1, min(LANES, cores))


_LANE_POOL = ThreadPoolExecutor(LANES - 1, thread_name_prefix="fluxlab-prior-lane")


class MechanisticPrior:
    """Computes (and caches by design key) prior fluxes (pFBA or MOMA) and bounds of designs."""

    def __init__(self, organism: Any, base_medium: dict[str, float] | None = None, method: str = "pfba",
                 reference: np.ndarray | None = None, headroom: float | None = DEFAULT_HEADROOM,
                 capacities: dict[str, float] | None = None) -> None:
        if method not in PRIOR_METHODS:
            raise ValueError(f"unknown prior method {method!r} (choose {', '.join(PRIOR_METHODS)})")
        self.organism = organism
        self.base_medium = base_medium
        self.method = method
        by_index = {organism.reaction_index(rid): c for rid, c in (capacities or {}).items()}
        self.capacities = by_index
        """Reaction index -> capacity fitted to data (the MOMA caps of lowered levels; `LinearMoma`)."""
        self.predecessor: MechanisticPrior | None = None
        """The prior this one replaced when the capacities changed (`shared_prior`): a design whose LP is the
        same under both takes its answer (`_inherited`), and each lane starts from its warm-start bases."""
        self.lanes = [_Lane(organism, base_medium, method, reference, headroom, by_index) for _ in range(LANES)]
        self.moma = self.lanes[0].moma
        """Lane 0's MOMA: the wild-type references of every lane (computed on it, `LinearMoma.share_references`)."""
        if self.moma is not None:
            for lane in self.lanes[1:]:
                assert lane.moma is not None
                lane.moma.share_references(self.moma)
        self._cache: dict[str, tuple[np.ndarray, bool, np.ndarray, np.ndarray]] = {}
        self.inherited = 0
        """Designs answered from the predecessor's cache."""

    @property
    def n_reactions(self) -> int:
        """Length of the flux vector."""
        return len(self.organism.reaction_ids)

    def clear_cache(self) -> None:
        """Forget computed priors (benchmarks use it to time cold predictions)."""
        self._cache.clear()

    @property
    def lp_calls(self) -> int:
        """MOMA LPs solved over all lanes (designs whose reference already fits need none)."""
        return sum(lane.moma.lp_calls for lane in self.lanes if lane.moma is not None)

    @property
    def reused(self) -> int:
        """MOMA designs answered by the wild-type reference itself, over all lanes."""
        return sum(lane.moma.reused for lane in self.lanes if lane.moma is not None)

    def solve(self, design: Design) -> tuple[np.ndarray, bool]:
        """Prior flux of one design and whether its LP was feasible (no cache), on the design's lane."""
        lb, ub = self.organism.design_bounds(design, self.base_medium)
        return self.lanes[lane_of(design)].solve(design, lb, ub, self.n_reactions)

    def _store(self, design: Design, flux: np.ndarray, ok: bool) -> None:
        lb, ub = self.organism.design_bounds(design, self.base_medium)
        self._cache[design.key()] = (flux, ok, np.asarray(lb, dtype=float), np.asarray(ub, dtype=float))

    def follow(self, predecessor: MechanisticPrior) -> None:
        """Take over from ``predecessor`` (same organism, medium, method, reference and headroom; other fitted
        capacities): its answers where a design's LP is unchanged, and its lanes' warm-start bases."""
        self.predecessor = predecessor
        predecessor.predecessor = None  # one generation back is enough (its answers were inherited or solved)
        for lane, before in zip(self.lanes, predecessor.lanes, strict=True):
            if lane.moma is not None and before.moma is not None:
                lane.moma.inherit_bases(before.moma)

    def _unchanged_lp(self, design: Design) -> bool:
        """Whether the design's prior LP is the predecessor's: pFBA's always is; MOMA's when every reaction whose
        level the design lowers has the same fitted capacity in both (else both use the same headroom rule)."""
        if self.moma is None:
            return True
        assert self.predecessor is not None
        before = self.predecessor.capacities
        levels = self.organism.reaction_levels(self.organism.gene_levels(design))
        return all(self.capacities.get(r) == before.get(r) for r, f in levels.items() if 0.0 < f < 1.0)

    def _inherited(self, todo: dict[str, Design]) -> None:
        """Move the designs of ``todo`` whose answer the predecessor holds for the same LP into the cache."""
        if self.predecessor is None:
            return
        held = self.predecessor._cache
        for key in [k for k in todo if k in held and self._unchanged_lp(todo[k])]:
            self._cache[key] = held[key]
            del todo[key]
            self.inherited += 1

    def _solve_on_lanes(self, designs: list[Design]) -> list[tuple[np.ndarray, bool]]:
        """Each design on its lane, in the given order within a lane; lanes side by side in threads when
        there are enough designs and cores (the answers are the same either way)."""
        if self.moma is not None:  # every lane reads the references of lane 0: compute them before the threads
            for one_per_medium in {repr(sorted(d.medium.items())): d for d in designs}.values():
                self.moma.reference(one_per_medium)
        by_lane: list[list[int]] = [[] for _ in self.lanes]
        for i, d in enumerate(designs):
            by_lane[lane_of(d)].append(i)
        out: list[tuple[np.ndarray, bool]] = [(np.zeros(0), False)] * len(designs)

        def run(lane: int) -> None:
            for i in by_lane[lane]:
                out[i] = self.solve(designs[i])

        if len(designs) >= LANE_THREADS_MIN and lane_threads() > 1:
            others = [_LANE_POOL.submit(run, lane) for lane in range(1, len(self.lanes)) if by_lane[lane]]
            run(0)
            for future in others:
                future.result()
        else:
            for lane in range(len(self.lanes)):
                run(lane)
        return out

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
        self._inherited(todo)
        new = list(todo.values())
        if workers is None:
            workers = default_workers() if self.n_reactions >= PARALLEL_REACTIONS else 1
        n_workers = min(max(1, workers), len(new))
        if n_workers > 1 and len(new) >= PARALLEL_MIN and "fork" in multiprocessing.get_all_start_methods():
            for d, (flux, ok) in zip(new, _solve_in_workers(self, new, n_workers), strict=True):
                self._store(d, flux, ok)
        else:
            for d, (flux, ok) in zip(new, self._solve_on_lanes(new), strict=True):
                self._store(d, flux, ok)
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
_LATEST: dict[tuple[int, str, str, bytes, float], MechanisticPrior] = {}
"""The prior last made per organism, medium, method, reference and headroom: the next one made (other fitted
capacities) follows it (`MechanisticPrior.follow`). A prior found again (e.g. the unfitted one each model asks for
first) does not replace it."""


def shared_prior(organism: Any, base_medium: dict[str, float] | None = None, method: str = "pfba",
                 reference: np.ndarray | None = None, headroom: float | None = DEFAULT_HEADROOM,
                 capacities: dict[str, float] | None = None) -> MechanisticPrior:
    """One prior (and its cache) per organism, base medium, method and MOMA settings in this process.

    MOMA settings: the wild-type reference, the capacity headroom and the capacities fitted to data.
    """
    ref_key = b"" if reference is None else np.round(np.asarray(reference, dtype=float), 9).tobytes()
    key = (id(organism), repr(sorted((base_medium or {}).items())), method, ref_key, float(headroom or 0.0),
           repr(sorted((capacities or {}).items())))
    family = key[:5]
    if key not in _SHARED:
        if len(_SHARED) >= _MAX_SHARED:  # references and capacities change as data arrive: forget the oldest
            del _SHARED[next(iter(_SHARED))]
        _SHARED[key] = MechanisticPrior(organism, base_medium, method, reference, headroom, capacities)
        latest = _LATEST.get(family)
        if latest is not None:
            _SHARED[key].follow(latest)
        _LATEST[family] = _SHARED[key]
    return _SHARED[key]


def mass_balance_violation(organism: Any, fluxes: np.ndarray) -> float:
    """Mean over designs of ||S v||₂ (mmol/gDW/h)."""
    residual = organism_S(organism) @ np.asarray(fluxes, dtype=float).T
    return float(np.linalg.norm(residual, axis=0).mean()) if residual.size else 0.0


def bounds_violation(prior: PriorBatch, fluxes: np.ndarray) -> float:
    """Mean over designs of the largest amount (mmol/gDW/h) by which a flux leaves the design's bounds."""
    over = np.maximum(fluxes - prior.ub, 0.0) + np.maximum(prior.lb - fluxes, 0.0)
    return float(over.max(axis=1).mean()) if over.size else 0.0
