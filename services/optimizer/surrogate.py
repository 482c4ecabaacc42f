"""What the optimizer needs from a predictive model: objective mean and sd per design."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol, runtime_checkable

import numpy as np

from schemas import Design


@runtime_checkable
class Surrogate(Protocol):
    """A model of the campaign's objective, in the objective's own units and sign."""

    def predict(self, designs: Sequence[Design]) -> tuple[np.ndarray, np.ndarray]:
        """Objective mean and standard deviation, one each per design."""
        ...


@runtime_checkable
class GrowthSurrogate(Surrogate, Protocol):
    """A surrogate that also predicts growth (1/h)."""

    def predict_growth(self, designs: Sequence[Design]) -> tuple[np.ndarray, np.ndarray]:
        """Growth mean and standard deviation, one each per design."""
        ...


class FunctionSurrogate:
    """A surrogate that is a known function of the design (exact when ``sd`` is 0); for tests and benchmarks."""

    def __init__(self, function: Callable[[Design], float], sd: float = 0.0) -> None:
        self.function = function
        self.sd = sd

    def predict(self, designs: Sequence[Design]) -> tuple[np.ndarray, np.ndarray]:
        """The function's value with a constant sd."""
        mean = np.array([self.function(d) for d in designs], dtype=float)
        return mean, np.full(len(mean), self.sd)


class CachedSurrogate:
    """Memoises another surrogate's predictions by design key (GA populations repeat designs)."""

    def __init__(self, inner: Surrogate) -> None:
        self.inner = inner
        self._cache: dict[str, tuple[float, float]] = {}

    def predict(self, designs: Sequence[Design]) -> tuple[np.ndarray, np.ndarray]:
        """Predictions of the inner surrogate, computed once per distinct design."""
        keys = [d.key() for d in designs]
        missing = {k: d for k, d in zip(keys, designs, strict=True) if k not in self._cache}
        if missing:
            mean, sd = self.inner.predict(list(missing.values()))
            for k, m, s in zip(missing, np.asarray(mean, float), np.asarray(sd, float), strict=True):
                self._cache[k] = (float(m), max(float(s), 0.0))
        values = np.array([self._cache[k] for k in keys], dtype=float).reshape(-1, 2)
        return values[:, 0], values[:, 1]
