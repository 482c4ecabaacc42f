"""Shared fixtures of the predictor tests: small seeded datasets, torch on one thread."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from schemas.design import Design

GENES = [f"g{i}" for i in range(12)]


@pytest.fixture(autouse=True, scope="session")
def _one_thread() -> None:
    torch.set_num_threads(1)


def _toy_designs(n: int, seed: int = 0) -> list[Design]:
    """Random designs over 12 made-up genes: up to 3 knockouts, one expression gene."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        kos = sorted(rng.choice(GENES, size=int(rng.integers(0, 4)), replace=False).tolist())
        out.append(Design(knockouts=kos, expression={"e1": float(2 ** rng.uniform(-2, 2))}))
    return out


def _toy_target(designs: list[Design]) -> np.ndarray:
    """A simple known function of the designs: two outputs."""
    rows = []
    for d in designs:
        ko = np.array([g in d.knockouts for g in GENES], dtype=float)
        e = np.log2(d.expression["e1"])
        rows.append([ko[:4].sum() - 0.5 * ko[4] + 0.8 * e, np.tanh(ko[5:8].sum() - 1) + 0.3 * e * ko[9]])
    return np.array(rows)


@pytest.fixture(scope="session")
def core_organism():  # type: ignore[no-untyped-def]
    """The E. coli core organism model, loaded once."""
    from services.runtime.organism import load_organism

    return load_organism("textbook")


@pytest.fixture(scope="session")
def toy():  # type: ignore[no-untyped-def]
    """`toy(n, seed) -> (designs, y)` with a known function of the designs."""

    def make(n: int, seed: int = 0) -> tuple[list[Design], np.ndarray]:
        designs = _toy_designs(n, seed)
        return designs, _toy_target(designs)

    return make
