"""A genome-scale true cell (iJO1366) behind a campaign planned with E. coli core, fast enough for the loop.

The "genome" profile's cell is TrueCell's answer (budget, linear MOMA, capacity rule, its own seeded
regulation) on iJO1366: 2,583 reactions with isozymes and alternative routes the core model lacks (e.g. a
second pyruvate kinase, other glucose transporters, the glyoxylate shunt's neighbours). The plain TrueCell
LP on iJO1366 has 3 x 2,583 columns and 1,805 + 2 x 2,583 rows; this cell solves the same MOMA problem on a
smaller, exactly equivalent LP:

* reactions that carry no flux in any steady state of the medium (flux variability analysis, cobra's
  ``find_blocked_reactions``, once per medium, cached on disk) are dropped: a design only narrows bounds,
  so a reaction blocked in the wild type stays blocked in every design (878 of 2,583 on the default medium);
* a reversible split only where the reaction can run both ways;
* a distance column (and its two rows) only where the wild-type reference flux is non-zero: elsewhere the
  MOMA target is 0 in every design (target = level x reference), so |v - 0| is the split's own sum and its
  weight goes onto the split columns.

Determinism: every solve starts from the wild-type optimal basis (never from the previous design's), and
fluxes are rounded, so a design's response does not depend on which designs were solved before.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from schemas.design import Design
from services.domain.organism import HighsLP, Organism
from simulators.truecell import _DECIMALS, _FLUX_PENALTY, MIN_GROWTH, CellState, TrueCell

_BLOCKED_VERSION = 1


def cache_root() -> Path:
    """The user's fluxlab cache directory ($FLUXLAB_CACHE_DIR, else ~/.cache/fluxlab)."""
    return Path(os.environ.get("FLUXLAB_CACHE_DIR", Path.home() / ".cache" / "fluxlab"))


def blocked_reactions(organism: Organism, lb: np.ndarray, ub: np.ndarray) -> np.ndarray:
    """Boolean mask of reactions that carry no flux under bounds ``lb``/``ub`` (FVA; cached on disk)."""
    digest = hashlib.sha256(b"".join([organism.name.encode(), str(_BLOCKED_VERSION).encode(),
                                      "\x1f".join(organism.reaction_ids).encode(), lb.tobytes(), ub.tobytes()]))
    path = cache_root() / "blocked" / f"{digest.hexdigest()[:24]}.json"
    if path.is_file():
        ids = set(json.loads(path.read_text()))
    else:
        from cobra.flux_analysis import find_blocked_reactions

        with organism.cobra_model as model:
            for reaction, low, high in zip(model.reactions, lb, ub, strict=True):
                reaction.bounds = (float(low), float(high))
            ids = set(find_blocked_reactions(model, open_exchanges=False, processes=1))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(sorted(ids)))
    return np.array([rid in ids for rid in organism.reaction_ids])


class _CompactMoma:
    """TrueCell's MOMA LP for one medium, without blocked reactions, idle splits or idle distance terms."""

    def __init__(self, cell: GenomeCell, lb: np.ndarray, ub: np.ndarray, reference: np.ndarray) -> None:
        org, n = cell.organism, len(cell.organism.reaction_ids)
        self.n = n
        self.blocked = blocked_reactions(org, lb, ub)
        kept = ~self.blocked
        self.fwd = np.flatnonzero(kept & (ub > 0))
        self.rev = np.flatnonzero(kept & (lb < 0))
        self.dist = np.flatnonzero(kept & (reference != 0))
        nf, nr, nd = len(self.fwd), len(self.rev), len(self.dist)
        to_v = sp.hstack([sp.csr_matrix((np.ones(nf), (self.fwd, np.arange(nf))), shape=(n, nf)),
                          sp.csr_matrix((-np.ones(nr), (self.rev, np.arange(nr))), shape=(n, nr))]).tocsr()
        stoich = (org.S @ to_v).tocsr()
        stoich = stoich[np.flatnonzero(stoich.getnnz(axis=1))]
        at_dist = to_v[self.dist]
        eye = sp.identity(nd, format="csr")
        costs = np.concatenate([cell.costs[self.fwd], cell.costs[self.rev]])
        A = sp.vstack([
            sp.hstack([stoich, sp.csr_matrix((stoich.shape[0], nd))]),
            sp.hstack([-at_dist, eye]),  # d - v >= -target
            sp.hstack([at_dist, eye]),  # d + v >= target
            sp.hstack([sp.csr_matrix(costs[None, :]), sp.csr_matrix((1, nd))]),
        ])
        idle = np.ones(n, dtype=bool)
        idle[self.dist] = False  # where the target is always 0 the split carries the distance weight
        split_cost = _FLUX_PENALTY + np.where(idle, cell.moma_weights, 0.0)
        cost = np.concatenate([split_cost[self.fwd], split_cost[self.rev], cell.moma_weights[self.dist]])
        m = stoich.shape[0]
        lower, upper = self._split(lb, ub)
        self.target_rows = np.arange(m, m + 2 * nd, dtype=np.int32)
        self.target_upper = np.full(2 * nd, np.inf)
        target = reference[self.dist]
        self.lp = HighsLP(A, cost, np.concatenate([lower, np.zeros(nd)]), np.concatenate([upper, np.full(nd, np.inf)]),
                          np.concatenate([np.zeros(m), -target, target, [-np.inf]]),
                          np.concatenate([np.zeros(m), np.full(2 * nd, np.inf), [cell.budget]]))
        self.d_bounds = (np.zeros(nd), np.full(nd, np.inf))
        self.reference = reference
        self.lp.solve()
        self.lp.remember_basis()

    def _split(self, lb: np.ndarray, ub: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        lower = np.concatenate([np.maximum(lb[self.fwd], 0.0), np.maximum(-ub[self.rev], 0.0)])
        upper = np.concatenate([np.maximum(ub[self.fwd], 0.0), np.maximum(-lb[self.rev], 0.0)])
        return lower, upper

    def solve(self, lb: np.ndarray, ub: np.ndarray, target: np.ndarray) -> np.ndarray | None:
        """Fluxes of the MOMA answer under a design's bounds and targets, or None when none is feasible."""
        if np.any(lb[self.blocked] > 0) or np.any(ub[self.blocked] < 0):
            return None  # a design forcing flux through a reaction that cannot carry any
        if np.any(lb[~self.blocked & (ub <= 0)] > 0) or np.any(ub[~self.blocked & (lb >= 0)] < 0):
            return None
        lower, upper = self._split(lb, ub)
        self.lp.set_col_bounds(np.concatenate([lower, self.d_bounds[0]]), np.concatenate([upper, self.d_bounds[1]]))
        goal = target[self.dist]
        self.lp.set_row_bounds(self.target_rows, np.concatenate([-goal, goal]), self.target_upper)
        sol = self.lp.solve(fresh=True)  # from the wild-type basis, whatever was solved before
        if sol.status != "optimal":
            return None
        nf, nr = len(self.fwd), len(self.rev)
        fluxes = np.zeros(self.n)
        fluxes[self.fwd] += sol.x[:nf]
        fluxes[self.rev] -= sol.x[nf : nf + nr]
        return np.round(fluxes, _DECIMALS) + 0.0


class GenomeCell(TrueCell):
    """TrueCell on a genome-scale model, solved on the compact MOMA LP of ``_CompactMoma`` (module doc)."""

    truth_version = "genome-3"
    """Part of the ground-truth cache key: change it whenever this cell's answer or its ground-truth search changes."""
    staged = True
    """The ground-truth search takes its staged, smaller form on this cell (simulators.ground_truth)."""

    def _build_moma_lp(self, reference: np.ndarray) -> HighsLP:
        self._compacts: dict[tuple[tuple[str, float], ...], _CompactMoma] = {}
        self._medium_key: tuple[tuple[str, float], ...] = ()
        compact = self._compact({})
        return compact.lp

    def _compact(self, medium: Mapping[str, float]) -> _CompactMoma:
        key = tuple(sorted((k, float(v)) for k, v in medium.items()))
        if key not in self._compacts:
            lb, ub = self.organism.lb.copy(), self.organism.ub.copy()
            self.organism.medium_bounds(lb, ub, medium)
            self._compacts[key] = _CompactMoma(self, lb, ub, self.reference_fluxes(medium))
        return self._compacts[key]

    def _respond(self, design: Design, medium: dict[str, float]) -> CellState:
        self._medium_key = tuple(sorted((k, float(v)) for k, v in medium.items()))
        return super()._respond(design, medium)

    def _solve_moma(self, design: Design, lb: np.ndarray, ub: np.ndarray, target: np.ndarray,
                    levels: dict[str, float]) -> CellState:
        if np.any(np.isinf(lb) & (lb > 0)) or np.any(lb > ub):
            return self._lethal(design, levels)
        fluxes = self._compact(dict(self._medium_key)).solve(lb, ub, target)
        if fluxes is None:
            return self._lethal(design, levels)
        org = self.organism
        growth = float(fluxes[org.biomass_index])
        if growth < MIN_GROWTH:
            return self._lethal(design, levels, fluxes)
        exchange = {ex: float(fluxes[org.reaction_index(ex)]) for ex in org.exchange_ids}
        return CellState(design, "ok", growth, fluxes, exchange, levels, org.reaction_ids)
