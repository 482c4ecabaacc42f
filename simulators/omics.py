"""Omics readouts of the true cell: transcript log2 ratios and a few metabolite levels."""

from __future__ import annotations

import math

import numpy as np

from simulators.truecell import CellState, TrueCell

NOT_DETECTED_LOG2 = -8.0
"""log2 ratio reported for a transcript that is absent (knocked-out gene)."""

METABOLITES = ("g6p_c", "f6p_c", "pep_c", "pyr_c", "accoa_c", "akg_c", "oaa_c", "succ_c", "mal__L_c", "glu__L_c",
               "atp_c", "nadh_c")
"""Metabolites quantified by the simulated LC-MS (ids of the E. coli core model)."""


def transcriptomics(cell: TrueCell, state: CellState, rng: np.random.Generator, sd: float) -> dict[str, float]:
    """log2 fold change vs wild type of every gene: effective level (design x regulation) + noise."""
    out = {}
    noise = rng.normal(0.0, sd, len(cell.organism.gene_ids))
    for gene, eps in zip(cell.organism.gene_ids, noise, strict=True):
        level = state.expression.get(gene, 1.0)
        out[gene] = NOT_DETECTED_LOG2 if level <= 0 else math.log2(level) + float(eps)
    return out


def metabolomics(cell: TrueCell, state: CellState, rng: np.random.Generator, cv: float) -> dict[str, float]:
    """Concentrations (mM): seeded base level x exp(seeded response to the change of nearby fluxes)."""
    org = cell.organism
    wild_type = cell.wild_type.fluxes
    params = cell.profile.rng("metabolomics")
    out = {}
    for met in METABOLITES:
        if met not in org.metabolite_ids:
            continue
        row = org.S.getrow(org.metabolite_ids.index(met))
        base = float(params.lognormal(0.0, 0.8))
        weights = params.normal(0.0, 0.6, row.nnz)
        change = np.tanh((state.fluxes[row.indices] - wild_type[row.indices]) / (np.abs(wild_type[row.indices]) + 1.0))
        out[met] = base * float(np.exp(weights @ change)) * float(np.exp(rng.normal(0.0, cv)))
    return out
