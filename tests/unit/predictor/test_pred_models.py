"""DeepModel: learning, uncertainty, persistence, the hybrid's mass-balance projection, transfer."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch

from schemas.campaign import ExpressionParam, SearchSpace
from schemas.design import Design
from services.predictor.deepmodel import DeepModel
from services.predictor.errors import PredictorError
from services.predictor.metrics import r2
from services.predictor.models import project_fluxes
from services.predictor.prior import null_basis
from services.predictor.transfer import pretrain, random_designs

FAST: dict[str, Any] = {"epochs": 150, "patience": 20, "lr": 1e-2}
CORE_KOS = ["b1241", "b2297", "b0903", "b1380", "b4025", "b1852", "b0723", "b3236"]


@pytest.fixture(scope="module")
def trained_mlp(toy):  # type: ignore[no-untyped-def]
    designs, y = toy(500)
    model = DeepModel("mlp", organism=None, ensemble=5, seed=1, **FAST)
    model.train(designs, y, names=["a", "b"])
    return model


def test_mlp_learns_a_simple_function(trained_mlp, toy) -> None:  # type: ignore[no-untyped-def]
    designs, y = toy(200, seed=7)
    pred = trained_mlp.predict(designs)
    assert np.nanmean(r2(y, pred.mean)) > 0.9


def test_ensemble_sd_positive_and_larger_far_from_data() -> None:
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, (300, 2))
    y = (np.sin(2 * X[:, :1]) + X[:, 1:] ** 2)
    model = DeepModel("mlp", organism=None, ensemble=5, seed=0, calibrate=False, **FAST)
    model.train(X, y)
    near = model.predict(rng.uniform(-1, 1, (50, 2)))
    far = model.predict(rng.uniform(4, 6, (50, 2)))
    assert (near.ensemble_sd > 0).all()
    assert far.ensemble_sd.mean() > 3 * near.ensemble_sd.mean()


def test_save_load_gives_identical_predictions(trained_mlp, toy, tmp_path) -> None:  # type: ignore[no-untyped-def]
    designs, _ = toy(50, seed=3)
    path = tmp_path / "model.pt"
    trained_mlp.save(path)
    again = DeepModel.load(path)
    a, b = trained_mlp.predict(designs), again.predict(designs)
    assert np.array_equal(a.mean, b.mean) and np.array_equal(a.sd, b.sd)
    via_bytes = DeepModel.from_bytes(trained_mlp.to_bytes())
    assert np.array_equal(via_bytes.predict(designs).mean, a.mean)


def test_id_unseen_in_training_is_answered_and_marked(trained_mlp) -> None:  # type: ignore[no-untyped-def]
    # No organism model to check against: a new id is taken as a new intervention (tests/unit/predictor/
    # test_pred_unseen.py covers ids the organism model lacks, which stay errors).
    pred = trained_mlp.predict([Design(), Design(knockouts=["b9999"])])
    assert pred.unseen == [[], ["ko:b9999"]]
    assert (pred.sd[1] > pred.sd[0]).all()


def test_fusion_handles_absent_modalities(toy) -> None:  # type: ignore[no-untyped-def]
    designs, y = toy(120)
    omics = [{"tx": {"f1": float(v)}} if i % 2 else None for i, v in enumerate(y[:, 0])]
    model = DeepModel("fusion", organism=None, ensemble=2, epochs=20)
    model.train(designs, y, names=["a", "b"], omics=omics)
    with_omics = model.predict(designs[:4], omics=omics[:4])
    without = model.predict(designs[:4])
    assert np.isfinite(with_omics.mean).all() and np.isfinite(without.mean).all()
    assert not np.array_equal(with_omics.mean[1], without.mean[1])


def test_projection_reaches_mass_balance(core_organism) -> None:  # type: ignore[no-untyped-def]
    N = torch.as_tensor(null_basis(core_organism), dtype=torch.float64)
    S = torch.as_tensor(core_organism.S.toarray(), dtype=torch.float64)
    v = torch.randn(4, S.shape[1], dtype=torch.float64) * 5
    lb = torch.as_tensor(core_organism.lb, dtype=torch.float64).expand(4, -1)
    ub = torch.as_tensor(core_organism.ub, dtype=torch.float64).expand(4, -1)
    projected = project_fluxes(v, N, lb, ub, iterations=3)
    before, after = torch.linalg.norm(v @ S.T, dim=1), torch.linalg.norm(projected @ S.T, dim=1)
    assert (before > 1.0).all()
    assert (after < 1e-9).all()


def _core_data(core_organism, n: int, seed: int) -> tuple[list[Design], np.ndarray, list[str]]:  # type: ignore[no-untyped-def]
    """Designs on E. coli core with targets = pFBA fluxes distorted by a smooth known function."""
    from services.predictor.prior import shared_prior

    rng = np.random.default_rng(seed)
    designs = [Design(knockouts=sorted(rng.choice(CORE_KOS, size=int(rng.integers(0, 3)), replace=False).tolist()))
               for _ in range(n)]
    names = ["growth", "PGI", "EX_ac_e", "EX_succ_e"]
    prior = shared_prior(core_organism).compute(designs)
    idx = [core_organism.biomass_index] + [core_organism.reaction_index(r) for r in names[1:]]
    y = prior.flux[:, idx] * np.array([0.8, 0.7, 1.0, 1.0]) + np.array([0.0, 0.5, 1.0, 0.2])
    return designs, y, names


def test_hybrid_predicts_mass_balanced_fluxes(core_organism) -> None:  # type: ignore[no-untyped-def]
    designs, y, names = _core_data(core_organism, 160, seed=0)
    model = DeepModel("hybrid", "textbook", ensemble=3, epochs=80, patience=20, lr=1e-2)
    model.train(designs, y, names=names)
    metrics = model.evaluate(designs[:40], y[:40])
    assert metrics["mass_balance_violation"] < 1e-3
    flux = model.full_flux(designs[:5])
    assert flux.shape == (5, len(core_organism.reaction_ids))
    again = DeepModel.from_bytes(model.to_bytes())
    assert np.array_equal(again.predict(designs[:10]).mean, model.predict(designs[:10]).mean)


def test_hybrid_rejects_a_feature_matrix() -> None:
    with pytest.raises(PredictorError, match="needs designs"):
        DeepModel("hybrid", "textbook", ensemble=1).train(np.zeros((30, 2)), np.zeros((30, 1)))


def test_pretrain_then_fine_tune(core_organism) -> None:  # type: ignore[no-untyped-def]
    space = SearchSpace(knockout_candidates=CORE_KOS, max_knockouts=2,
                        expression=[ExpressionParam(gene="b3956")])
    model = DeepModel("mlp", "textbook", ensemble=2, epochs=60, lr=1e-2)
    pretrain(model, space, ["growth", "EX_ac_e"], n=120, seed=0)
    designs = random_designs(space, 60, seed=5)
    y = np.column_stack([np.full(60, 0.5), np.full(60, 2.0)])
    before = model.predict(designs).mean
    report = model.fine_tune(designs, y)
    after = model.predict(designs).mean
    assert report["n_train"] > 0
    assert np.abs(after - y).mean() < np.abs(before - y).mean()
    with pytest.raises(PredictorError, match="same outputs"):
        model.train(designs, y[:, :1], names=["growth"], warm_start=True)
