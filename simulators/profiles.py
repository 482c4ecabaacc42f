"""Named, seeded hidden profiles of the simulated "true cell".

A profile holds what the lab never shows: enzyme costs and budget, MOMA weights,
enzyme capacity headroom and regulatory wiring. Everything is derived from the
profile's seed and the organism, so one name always means the same cell.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from services.domain.organism import Organism

RESPIRATORY_PREFIXES = ("NADH16", "NADH17", "NADH18", "CYTBD", "CYTBO3", "ATPS4")
"""Reactions of oxidative phosphorylation: enzyme-expensive per ATP, which causes overflow."""

CENTRAL_CARBON_GENES: tuple[str, ...] = (
    "b1380", "b1241", "b2297", "b2296", "b0903", "b0723", "b1612", "b3236", "b1101", "b1676", "b1854", "b1852",
    "b4025", "b4015", "b4014", "b2463", "b1479", "b0726", "b0728", "b1136", "b4154", "b1602", "b3962", "b0733",
    "b1702", "b3956", "b3403", "b0720",
)
"""E. coli central carbon genes (b-numbers) that hidden regulation prefers as sources."""

SUCCINATE_GENES: tuple[str, ...] = (
    "b1380", "b1241", "b2297", "b2296", "b0903", "b0723", "b1612", "b3236", "b1101", "b1676", "b1854", "b1852",
    "b4025", "b4015", "b4014", "b2463", "b1479", "b0726", "b0728", "b1136", "b4154", "b1602", "b3962", "b0733",
    "b1702", "b3956", "b0720",
)
"""The succinate example campaign's knockout candidates and expression genes (simulators.examples)."""


@dataclass(frozen=True)
class RegulatoryEffect:
    """Perturbing `source` multiplies `target`'s expression by `factor`.

    trigger "knockout": applies when the source gene is knocked out.
    trigger "overexpression": applies as factor ** log2(fold) when the source is over-expressed (fold > 1).
    """

    source: str
    target: str
    factor: float
    trigger: str


@dataclass(frozen=True)
class CellProfile:
    """Hidden parameters of one simulated cell."""

    name: str
    seed: int
    budget_fraction: float = 0.8
    """Enzyme budget as a fraction of what unconstrained pFBA of the wild type would use."""
    respiratory_cost: float = 4.0
    """Enzyme cost multiplier of oxidative phosphorylation reactions."""
    cost_sigma: float = 0.3
    """Log-normal spread of per-reaction enzyme costs."""
    moma_sigma: float = 0.5
    """Log-normal spread of per-reaction MOMA weights (how stubborn each flux is)."""
    headroom: tuple[float, float] = (1.2, 2.5)
    """Range of enzyme capacity over wild-type flux, used when a gene is down-regulated."""
    capacity_floor: float = 2.0
    """Capacity (mmol/gDW/h) assumed for reactions idle in the wild type."""
    n_regulatory_effects: int = 12
    regulatory_genes: tuple[str, ...] = CENTRAL_CARBON_GENES
    """Genes preferred as sources of regulatory effects (e.g. a campaign's candidates)."""
    effect_strength: tuple[float, float] = (0.4, 1.2)
    """Range of |log| of a regulatory effect's factor (0.4-1.2: x0.3-x3.3 on the target's expression)."""
    targets_preferred: bool = False
    """When true, regulatory effects also prefer `regulatory_genes` as targets (they then hit the genes a
    campaign designs, which is what reverses the organism model's ranking of its candidates)."""
    truth: str = "textbook-moma"
    """Which truth answers: "textbook-moma" (TrueCell on the campaign's organism model) or "kinetic"
    (simulators.kinetic.KineticCell); simulators.cells.make_cell builds either."""
    organism: str | None = None
    """The true cell's own organism model when it is not the campaign's (the "genome" profile runs on iJO1366
    while the campaign plans with E. coli core: simulators.genome.GenomeCell)."""

    def rng(self, purpose: str) -> np.random.Generator:
        """A generator for one purpose, stable across runs and Python versions."""
        salt = sum((i + 1) * ord(c) for i, c in enumerate(purpose))
        return np.random.default_rng([self.seed, salt])

    def enzyme_costs(self, organism: Organism) -> np.ndarray:
        """Per-reaction enzyme cost weights (0 for exchanges, biomass and reactions without genes)."""
        noise = self.rng("costs").lognormal(0.0, self.cost_sigma, len(organism.reaction_ids))
        costs = np.zeros(len(organism.reaction_ids))
        for i, rid in enumerate(organism.reaction_ids):
            if organism.gpr[i] is None or i == organism.biomass_index:
                continue
            factor = self.respiratory_cost if rid.startswith(RESPIRATORY_PREFIXES) else 1.0
            costs[i] = factor * noise[i]
        return costs

    def moma_weights(self, organism: Organism) -> np.ndarray:
        """Per-reaction weights of the L1 distance minimised by MOMA."""
        return self.rng("moma").lognormal(0.0, self.moma_sigma, len(organism.reaction_ids))

    def headroom_factors(self, organism: Organism) -> np.ndarray:
        """Per-reaction capacity / wild-type flux ratio."""
        low, high = self.headroom
        return self.rng("headroom").uniform(low, high, len(organism.reaction_ids))

    def regulatory_effects(self, organism: Organism) -> list[RegulatoryEffect]:
        """Seeded regulatory wiring between genes that catalyse reactions."""
        rng = self.rng("regulation")
        genes = sorted(g for g, rxns in organism.gene_reactions.items() if rxns and g != "s0001")
        preferred = [g for g in self.regulatory_genes if g in organism.gene_reactions]
        effects: list[RegulatoryEffect] = []
        for k in range(self.n_regulatory_effects):
            pool = preferred if preferred and k % 2 == 0 else genes
            source = str(rng.choice(pool))
            targets = preferred if self.targets_preferred and preferred and k % 2 == 1 else genes
            target = str(rng.choice([g for g in targets if g != source]))
            trigger = "knockout" if rng.random() < 0.6 else "overexpression"
            factor = float(np.exp(rng.choice([-1.0, 1.0]) * rng.uniform(*self.effect_strength)))
            effects.append(RegulatoryEffect(source, target, factor, trigger))
        return effects


PROFILES: dict[str, CellProfile] = {
    "default": CellProfile("default", seed=0),
    "overflow": CellProfile("overflow", seed=1, budget_fraction=0.65, respiratory_cost=6.0),
    "rewired": CellProfile("rewired", seed=2, n_regulatory_effects=40),
    "plain": CellProfile("plain", seed=3, budget_fraction=10.0, cost_sigma=0.0, moma_sigma=0.0,
                         n_regulatory_effects=0),
    "misregulated": CellProfile("misregulated", seed=5, n_regulatory_effects=36, effect_strength=(1.0, 2.0),
                                regulatory_genes=SUCCINATE_GENES, targets_preferred=True),
    "kinetic": CellProfile("kinetic", seed=12, truth="kinetic"),
    "genome": CellProfile("genome", seed=7, organism="iJO1366"),
}
"""Named profiles; "plain" has no binding budget, uniform MOMA weights and no regulation.

Profiles whose truth departs from the planning model (see docs/optimizer.md, "Cells the model gets wrong"):
"misregulated" wires 36 strong hidden effects (x0.14-x0.37 or x2.7-x7.4 on the target's expression) among the
succinate campaign's own genes, so knocking out or over-expressing one silently changes others;
"kinetic" answers with a Michaelis-Menten pathway, expression burden and a toxic intermediate (simulators.kinetic);
"genome" answers on iJO1366 whatever the campaign's model (isozymes, alternative routes, its own budget and 12
seeded regulatory effects among iJO1366's genes: simulators.genome)."""


def get_profile(profile: str | CellProfile) -> CellProfile:
    """A named profile, a profile passed through, or "seed:<n>" for a default profile with that seed."""
    if isinstance(profile, CellProfile):
        return profile
    if profile in PROFILES:
        return PROFILES[profile]
    if profile.startswith("seed:") and profile[5:].lstrip("-").isdigit():
        return CellProfile(profile, seed=int(profile[5:]))
    raise ValueError(f"unknown cell profile {profile!r}; known: {', '.join(PROFILES)} or 'seed:<n>'")
