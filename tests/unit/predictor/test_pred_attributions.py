"""Integrated-gradients attributions: keys per intervention, completeness in output units."""

from __future__ import annotations

import numpy as np
import pytest

from schemas.design import Design
from services.predictor.attributions import integrated_gradients
from services.predictor.deepmodel import DeepModel
from services.predictor.errors import PredictorError


@pytest.fixture(scope="module")
def model(toy):  # type: ignore[no-untyped-def]
    designs, y = toy(300)
    m = DeepModel("mlp", organism=None, ensemble=3, epochs=150, lr=1e-2)
    m.train(designs, y, names=["a", "b"])
    return m


def test_attributions_sum_to_change_from_wild_type(model) -> None:  # type: ignore[no-untyped-def]
    designs = [Design(knockouts=["g0", "g1"], expression={"e1": 2.0}), Design(knockouts=["g5"], expression={"e1": 1.0})]
    attributions = integrated_gradients(model, designs, "a", steps=64)
    assert set(attributions[0]) == {"ko:g0", "ko:g1", "expr:e1"}
    assert set(attributions[1]) == {"ko:g5"}
    pred = model.predict(designs).mean[:, 0]
    wild = model.predict([Design(expression={"e1": 1.0})] * 2).mean[:, 0]
    total = np.array([sum(a.values()) for a in attributions])
    np.testing.assert_allclose(total, pred - wild, atol=0.05 * np.abs(pred - wild).max() + 1e-3)
    # The known function: output a rises ~1 per knockout of g0..g3 and 0.8 per log2 unit of e1.
    assert attributions[0]["ko:g0"] > 0.5 and attributions[0]["expr:e1"] > 0.4


def test_unknown_output_is_rejected(model) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(PredictorError, match="unknown output 'zzz'"):
        integrated_gradients(model, [Design()], "zzz")
