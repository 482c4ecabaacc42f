"""A true cell whose product comes from a kinetic pathway: what an LP planning model cannot show.

The campaign plans with E. coli core (linear MOMA: more enzyme pushes proportionally more flux).
The cell it measures (profile "kinetic") makes succinate through a six-enzyme reductive route
(PEP -> OAA -> malate -> fumarate -> succinate, then export), in the spirit of the kinetic
simulated-DBTL framework of van Lent et al. 2023 (ACS Synth Biol 12:2588):

* Each step i runs irreversible Michaelis-Menten kinetics with product inhibition,
  v_i = V_i S_{i-1} / (K_i + S_{i-1}) / (1 + S_i / I_i), where V_i = kcat_i x level_i x phi; the
  first step draws on a fixed PEP pool. The steady state (every v_i = J) is solved exactly: for a
  trial flux J the pools follow backwards from the export step, and J is the root of
  v_1(S_1(J)) = J (bisection; v_1 falls and S_1 rises with J). Flux saturates in every enzyme and
  control moves to whichever step is short.
* Burden: expression costs proteome, phi = 1 / (1 + burden x sum of (level - 1) over
  over-expressed genes); it scales every V_i and the growth rate.
* A toxic intermediate (fumarate, S_3) slows growth and the pathway by 1 / (1 + (S_3 / T)^2) when an
  upstream step out-runs the one that consumes it.

The rest of the cell is TrueCell's answer on the same organism and profile (budget, MOMA,
regulation) to the design without its pathway-gene expression (knockouts, medium and any other gene
still act through the LP; the pathway genes' levels act only through the kinetics): its fluxes and
by-products, with growth scaled by the burden and toxicity factor and EX_succ_e = the LP's own
succinate secretion + the pathway flux. Pathway levels are the effective ones after regulation. All
constants are seeded by the profile. On the "kinetic" profile (seed 12) the frdD step is short
(kcat 0.6 against 2-7.6 for the others), so at wild type fumarate jams and poisons the cell; the
best of the six-gene campaign's 15,625 designs (exhaustive search) *lowers* ppc, raises fumA, frdA
and dctA and frdD most, while over-expressing everything -- what a linear model favours -- makes
about 3 % of the optimum.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from schemas.design import Design
from simulators.profiles import CellProfile
from simulators.truecell import MIN_GROWTH, CellState, TrueCell

PATHWAY: tuple[tuple[str, ...], ...] = (("b3956", "b3403"), ("b3236",), ("b1612",), ("b4154",), ("b4151",),
                                        ("b3528",))
"""Genes per step: ppc or pckA (PEP -> OAA), mdh, fumA, frdA, frdD (a second fumarate-reductase subunit the
core model lumps with frdA, hence one reaction in the planning model) and dctA (the C4-dicarboxylate carrier,
standing in for the exporter)."""
PRODUCT = "EX_succ_e"
TOXIC_STEP = 3
"""Index of the pool that is toxic (the pool made by step 3 = fumarate, consumed by step 4)."""


class KineticCell(TrueCell):
    """TrueCell with the product and growth of a seeded Michaelis-Menten pathway (see the module doc)."""

    truth_version = "kinetic-2"
    """Part of the ground-truth cache key: change it whenever the kinetics change."""

    def __init__(self, organism_spec: str = "textbook", profile: str | CellProfile = "kinetic") -> None:
        from simulators.profiles import get_profile

        rng = get_profile(profile).rng("kinetic")
        n = len(PATHWAY)
        self.kcat = rng.uniform(0.5, 8.0, n)
        """Capacity (mmol/gDW/h) of each step at wild-type expression."""
        self.km = rng.uniform(0.2, 1.0, n)
        self.ki = rng.uniform(1.0, 4.0, n)
        self.export = 2.0
        """Export pool constant: the last pool is J / export."""
        self.source = 1.0
        self.burden = 0.06
        self.toxic = 1.5
        self._backgrounds: dict[tuple[str, tuple[tuple[str, float], ...]], CellState] = {}
        super().__init__(organism_spec, profile)

    def pathway(self, levels: Mapping[str, float]) -> tuple[float, float, np.ndarray]:
        """(product flux, growth factor, pools) for effective gene levels."""
        expression = np.array([sum(levels.get(g, 1.0) for g in step) / len(step) for step in PATHWAY])
        over = sum(max(0.0, level - 1.0) for level in levels.values())
        phi = 1.0 / (1.0 + self.burden * over)
        vmax = self.kcat * expression * phi
        if np.any(vmax <= 0):
            return 0.0, phi, np.zeros(len(PATHWAY))
        flux, pools = _steady_state(vmax, self.km, self.ki, self.source, self.export)
        toxicity = 1.0 / (1.0 + (pools[TOXIC_STEP - 1] / self.toxic) ** 2)
        return flux * toxicity, phi * toxicity, pools

    def _respond(self, design: Design, medium: dict[str, float]) -> CellState:
        pathway_genes = {g for step in PATHWAY for g in step}  # act through the kinetics only
        background = design.model_copy(update={"expression": {
            g: v for g, v in design.expression.items() if g not in pathway_genes}})
        key = (background.key(), tuple(sorted(medium.items())))
        state = self._backgrounds.get(key) or super()._respond(background, medium)
        self._backgrounds[key] = state
        if state.status != "ok":
            return state
        levels = self.effective_levels(design)
        product, factor, _ = self.pathway({g: levels.get(g, 1.0) for g in pathway_genes})
        growth = state.growth * factor
        fluxes = state.fluxes.copy()
        fluxes[self.organism.biomass_index] = growth
        index = self.organism.reaction_index(PRODUCT)
        fluxes[index] = max(0.0, fluxes[index]) + product
        exchange = {**state.exchange, PRODUCT: float(fluxes[index])}
        status = "ok" if growth >= MIN_GROWTH else "lethal"
        return CellState(design, status, growth if status == "ok" else 0.0, fluxes, exchange, levels,
                         state.reaction_ids)

def _pools(flux: float, vmax: np.ndarray, km: np.ndarray, ki: np.ndarray, export: float) -> np.ndarray | None:
    """Pools S_1..S_n that let every step after the first carry ``flux`` (None when one cannot)."""
    n = len(vmax)
    pools = np.zeros(n)
    pools[-1] = flux / export
    for i in range(n - 1, 0, -1):  # step i consumes S_{i-1} (pools[i - 1]) and makes pools[i]
        demand = flux * (1.0 + pools[i] / ki[i])
        if demand >= vmax[i]:
            return None
        pools[i - 1] = km[i] * demand / (vmax[i] - demand)
    return pools


def _steady_state(vmax: np.ndarray, km: np.ndarray, ki: np.ndarray, source: float, export: float
                  ) -> tuple[float, np.ndarray]:
    """The steady-state flux and pools of the chain (bisection on J)."""
    first = vmax[0] * source / (km[0] + source)
    low, high = 0.0, min(first, float(vmax.min()))
    for _ in range(60):
        mid = 0.5 * (low + high)
        pools = _pools(mid, vmax, km, ki, export)
        if pools is not None and first / (1.0 + pools[0] / ki[0]) >= mid:
            low = mid
        else:
            high = mid
    pools = _pools(low, vmax, km, ki, export)
    return low, pools if pools is not None else np.zeros(len(vmax))

