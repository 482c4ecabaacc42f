"""Designs with knockouts, expression genes or medium components no training row had ('unseen')."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from schemas.design import Design
from services.predictor.deepmodel import DeepModel
from services.predictor.errors import PredictorError

FAST: dict[str, Any] = {"epochs": 200, "patience": 25}
GENES = [f"g{i}" for i in range(40)]
EFFECT = np.random.default_rng(42).normal(-1.0, 0.5, len(GENES))


def _data(n: int, genes: list[str], seed: int) -> tuple[list[Design], np.ndarray]:
    """One knockout per strain plus a medium uptake; growth = 0.3 uptake + the knockout's own effect."""
    rng = np.random.default_rng(seed)
    designs = [Design(knockouts=[str(rng.choice(genes))], medium={"EX_a": float(rng.uniform(0, 5))})
               for _ in range(n)]
    y = np.array([[0.3 * d.medium["EX_a"] + EFFECT[GENES.index(d.knockouts[0])] + rng.normal(0, 0.1)]
                  for d in designs])
    return designs, y


@pytest.fixture(scope="module")
def ko_model() -> DeepModel:
    designs, y = _data(500, GENES[:25], seed=0)
    model = DeepModel("mlp", organism=None, ensemble=5, seed=0, **FAST)
    model.train(designs, y, names=["growth"])
    return model


def test_unseen_knockouts_are_marked_with_honest_wider_intervals(ko_model: DeepModel) -> None:
    seen, y_seen = _data(300, GENES[:25], seed=1)
    new, y_new = _data(300, GENES[25:], seed=2)
    p_seen, p_new = ko_model.predict(seen), ko_model.predict(new)
    assert not any(p_seen.unseen)
    assert all(u == [f"ko:{d.knockouts[0]}"] for u, d in zip(p_new.unseen, new, strict=True))
    assert np.median(p_new.sd) > 2 * np.median(p_seen.sd)
    for pred, y in ((p_seen, y_seen), (p_new, y_new)):
        covered = float((np.abs(y - pred.mean) <= 1.959964 * pred.sd).mean())
        assert 0.88 <= covered <= 0.995, covered
    # Without the widening the new knockouts' intervals would be far too narrow: the model's own sd misses.
    narrow = float((np.abs(y_new - p_new.mean) <= 1.959964 * np.median(p_seen.sd)).mean())
    assert narrow < 0.6


def test_unseen_marking_survives_save_and_load(ko_model: DeepModel, tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "m.pt"
    ko_model.save(path)
    again = DeepModel.load(path)
    designs = [Design(knockouts=["g30"]), Design(knockouts=["g3"])]
    a, b = ko_model.predict(designs), again.predict(designs)
    assert b.unseen == [["ko:g30"], []]
    np.testing.assert_array_equal(a.mean, b.mean)
    np.testing.assert_array_equal(a.sd, b.sd)


def test_unseen_medium_and_expression_without_stand_ins_add_the_output_spread(ko_model: DeepModel) -> None:
    # The training data varied no expression and only one medium component other than EX_a: a new
    # medium component has one stand-in pool (EX_a is taken by the design itself, so none is left), a
    # new expression gene has none. Both fall back to the training spread of the output.
    assert ko_model.y_scaler is not None
    pred = ko_model.predict([Design(knockouts=["g1"], medium={"EX_a": 2.0}),
                             Design(knockouts=["g1"], medium={"EX_a": 2.0, "EX_b": 1.0}),
                             Design(knockouts=["g1"], medium={"EX_a": 2.0}, expression={"e9": 4.0})])
    assert pred.unseen == [[], ["medium:EX_b"], ["expr:e9"]]
    assert pred.sd[1, 0] >= ko_model.y_scaler.sd[0] and pred.sd[2, 0] >= ko_model.y_scaler.sd[0]
    assert pred.sd[0, 0] < 0.5 * ko_model.y_scaler.sd[0]


def test_ids_outside_the_organism_model_stay_errors(core_organism) -> None:  # type: ignore[no-untyped-def]
    kos = ["b1241", "b2297", "b0903", "b1380"]
    designs = [Design(knockouts=[k]) for k in kos for _ in range(6)]
    y = np.array([[0.1 * (i % 7)] for i in range(len(designs))])
    model = DeepModel("mlp", organism="textbook", ensemble=2, seed=0, epochs=30)
    model.train(designs, y, names=["growth"])
    pred = model.predict([Design(knockouts=["b1852"]), Design(knockouts=["b1241"])])
    assert pred.unseen == [["ko:b1852"], []]
    with pytest.raises(PredictorError) as err:
        model.predict([Design(), Design(knockouts=["b9999"])])
    assert err.value.field == "designs[1].knockouts[0]" and "b9999" in err.value.reason


def test_stand_ins_in_one_stacked_pass_answer_as_one_pass_each(ko_model: DeepModel,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    from services.predictor import unseen

    new, _ = _data(40, GENES[25:], seed=3)
    stacked = ko_model.predict(new)  # 40 designs x 8 stand-ins: one forward pass
    monkeypatch.setattr(unseen, "STACKED_ROWS", 0)  # every stand-in alone, as before
    alone = ko_model.predict(new)
    assert stacked.unseen == alone.unseen and all(stacked.unseen)
    assert np.allclose(stacked.mean, alone.mean, rtol=1e-5, atol=1e-6)
    assert np.allclose(stacked.sd, alone.sd, rtol=1e-5, atol=1e-6)
