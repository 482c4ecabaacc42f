"""The mechanistic envelope keeps a wild surrogate's predictions physically possible."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest

from schemas import Design
from services.domain.organism import load_organism
from services.optimizer.envelope import EnvelopeSurrogate, FluxEnvelope, within_envelope
from simulators.examples import sin_cos_spec, succinate_core_spec


class Wild:
    """A surrogate that extrapolates absurdly (as an untrained net can)."""

    def predict(self, designs: Sequence[Design]) -> tuple[np.ndarray, np.ndarray]:
        return np.full(len(designs), 250.0), np.full(len(designs), 300.0)


def test_predictions_are_clipped_to_what_stoichiometry_allows() -> None:
    organism = load_organism("textbook")
    envelope = FluxEnvelope(organism, "EX_succ_e", min_growth=0.2 * 0.8739)
    low, high = envelope.range(Design())
    assert low == pytest.approx(0.0, abs=1e-9) and 5.0 < high < 20.0  # glucose uptake caps succinate
    mean, sd = EnvelopeSurrogate(Wild(), envelope).predict([Design(), Design(knockouts=["b0720"])])
    assert mean[0] == pytest.approx(high) and sd[0] == pytest.approx(high / 2)
    assert mean[1] == 0.0 and sd[1] == 0.0  # gltA knockout cannot reach the growth floor


def test_only_cell_campaigns_are_wrapped() -> None:
    assert isinstance(within_envelope(succinate_core_spec(), Wild()), EnvelopeSurrogate)
    assert isinstance(within_envelope(sin_cos_spec(), Wild()), Wild)
    assert within_envelope(succinate_core_spec(), None) is None
