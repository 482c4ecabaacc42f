"""The organism model shared by services and simulators: arrays, GPR rules, fast FBA.

`load_organism("textbook")` gives the E. coli core model (95 reactions, 137 genes);
`FastFBA(organism)` solves thousands of designs per second on it.
"""

from services.domain.organism.fba import FastFBA, FBAResult, split_bounds
from services.domain.organism.lp import HighsLP, LPSolution
from services.domain.organism.model import BUNDLED_MODELS, Organism, OrganismError, load_organism

__all__ = [
    "BUNDLED_MODELS", "FBAResult", "FastFBA", "HighsLP", "LPSolution", "Organism", "OrganismError",
    "load_organism", "split_bounds",
]
