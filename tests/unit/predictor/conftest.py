"""Shared fixtures of the predictor tests: small seeded datasets, torch on one thread."""

from __future__ import annotations

from pathlib import Path
from typing import Any

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
    from services.domain.organism import load_organism

    return load_organism("textbook")


@pytest.fixture(scope="session")
def toy():  # type: ignore[no-untyped-def]
    """`toy(n, seed) -> (designs, y)` with a known function of the designs."""

    def make(n: int, seed: int = 0) -> tuple[list[Design], np.ndarray]:
        designs = _toy_designs(n, seed)
        return designs, _toy_target(designs)

    return make


def _keio_like(path: Path, n_genes: int = 24, n_media: int = 12, seed: int = 0) -> Path:
    """One knockout per strain x media with 0/1 presence flags; growth = medium effect + knockout effect."""
    rng = np.random.default_rng(seed)
    ko_effect = rng.normal(-0.3, 0.15, n_genes)
    medium_effect = rng.uniform(0.2, 1.0, n_media)
    header = [f"ko:g{g}" for g in range(n_genes)] + [f"medium:EX_m{m}_e" for m in range(n_media)]
    lines = [",".join([*header, "y:growth"])]
    for g in range(n_genes):
        for m in range(n_media):
            cells = ["1" if i == g else "0" for i in range(n_genes)] + ["1" if i == m else "0" for i in range(n_media)]
            growth = max(0.0, medium_effect[m] + ko_effect[g] + rng.normal(0, 0.03))
            lines.append(",".join([*cells, f"{growth:.4f}"]))
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture(scope="session")
def keio_like() -> Any:
    """`keio_like(path, n_genes, n_media, seed) -> path`: a one-knockout-per-strain x media growth CSV."""
    return _keio_like
