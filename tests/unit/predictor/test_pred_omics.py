"""Omics as inputs: modality dropout (absent copies of the rows with omics), mixed rows, warm start, saving."""

from __future__ import annotations

import numpy as np
import pytest

from schemas import Design, Measurement
from services.predictor.attributions import integrated_gradients
from services.predictor.deepmodel import DeepModel
from services.predictor.errors import PredictorError
from services.predictor.omics_dropout import with_absent_copies


def test_absent_copies_follow_their_rows_into_train_and_held_out_parts() -> None:
    designs = [Design(knockouts=[f"g{i}"]) for i in range(5)]
    omics = [{"tx": {"a": 1.0}}, None, {"tx": {"a": 2.0}}, {}, {"mx": {"b": 3.0}}]
    aug = with_absent_copies(designs, omics, np.array([0, 1, 2]), np.array([3, 4]))
    assert aug.source.tolist() == [0, 1, 2, 3, 4, 0, 2, 4]
    assert aug.omics[5:] == [None, None, None] and aug.designs[5:] == [designs[0], designs[2], designs[4]]
    assert aug.train.tolist() == [0, 1, 2, 5, 6]
    assert aug.val.tolist() == [3, 4, 7]
    assert aug.val_absent.tolist() == [3, 7]  # the held-out rows as proposals look: without omics
    with pytest.raises(PredictorError, match="omics"):
        with_absent_copies(designs, omics[:4], np.array([0]), np.array([1]))


def _hidden_factor_data(n: int, seed: int) -> tuple[list[Design], np.ndarray, list[dict[str, dict[str, float]]],
                                                     np.ndarray]:
    """y = f(design) + h with a hidden h per run that only the omics block reveals ('tx': h + noise, and as in
    transcriptomics a knocked-out gene's transcript at -8: the block also restates the design)."""
    rng = np.random.default_rng(seed)
    genes = [f"g{i}" for i in range(6)]
    designs, f = [], []
    for _ in range(n):
        kos = sorted(rng.choice(genes, size=int(rng.integers(0, 3)), replace=False).tolist())
        designs.append(Design(knockouts=kos))
        f.append(sum(1.0 + i for i, g in enumerate(genes) if g in kos))
    h = rng.normal(0.0, 1.5, n)
    y = np.column_stack([np.asarray(f) + h])
    omics = [{"tx": {"h": float(v + rng.normal(0.0, 0.1)),
                     **{g: (-8.0 if g in d.knockouts else 0.0) + float(rng.normal(0.0, 0.2)) for g in genes}}}
             for v, d in zip(h, designs, strict=True)]
    return designs, y, omics, np.asarray(f)


def test_modality_dropout_keeps_designs_without_omics_predicted_and_omics_help_when_present() -> None:
    designs, y, omics, _ = _hidden_factor_data(300, 0)
    test_designs, y_test, test_omics, f_test = _hidden_factor_data(200, 1)
    errors = {}
    for dropout in (True, False):
        model = DeepModel("mlp", organism=None, ensemble=2, epochs=200, omics_dropout=dropout)
        report = model.train(designs, y, names=["y"], omics=omics)
        assert report["omics_rows"] == (300 if dropout else 0) and report["n_train"] < 300
        absent = model.predict(test_designs).mean[:, 0]
        present = model.predict(test_designs, test_omics).mean[:, 0]
        errors[dropout] = {"absent_vs_f": float(np.mean((absent - f_test) ** 2)),
                           "absent_vs_y": float(np.mean((absent - y_test[:, 0]) ** 2)),
                           "present_vs_y": float(np.mean((present - y_test[:, 0]) ** 2))}
    with_dropout, without_dropout = errors[True], errors[False]
    # the omics carry the hidden factor (variance 2.25): used when present
    assert with_dropout["present_vs_y"] < 0.25 * with_dropout["absent_vs_y"]
    # without omics the dropout model predicts E[y | design] = f (variance ~9 across designs) ...
    assert with_dropout["absent_vs_f"] < 0.3
    # ... and the model never trained with omics absent is off for such designs (every proposal)
    assert with_dropout["absent_vs_f"] < 0.5 * without_dropout["absent_vs_f"]


def _lab_measurements(n: int, seed: int) -> list[Measurement]:
    """Simulated-lab double knockouts with their omics; every third one without omics."""
    from simulators.examples import succinate_core_spec
    from simulators.lab import Lab, NoiseConfig
    from simulators.truecell import TrueCell

    spec = succinate_core_spec()
    lab = Lab(TrueCell(spec.organism.model, "default"), NoiseConfig(cv=0.05), seed=seed)
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        knockouts = sorted(rng.choice(spec.search_space.knockout_candidates, 2, replace=False).tolist())
        m = lab.run(Design(knockouts=knockouts), spec.id, f"r{seed}-{i}")
        assert isinstance(m, Measurement) and m.omics
        out.append(m if i % 3 else m.model_copy(update={"omics": {}}))
    return out


@pytest.mark.parametrize("kind", ["hybrid", "gnn"])
def test_mixed_rows_train_fine_tune_and_survive_saving(kind: str) -> None:
    first, second = _lab_measurements(24, 0), _lab_measurements(12, 1)
    model = DeepModel(kind, "textbook", ensemble=2, epochs=15)
    report = model.train_on_measurements(first, use_omics=True)
    assert model.features is not None and sorted(model.features.omics) == ["metabolomics", "transcriptomics"]
    assert report["omics_rows"] == sum(1 for m in first if m.omics)
    # fine-tuning (a base model's path in the service) on rows with and without omics
    tuned = model.train_on_measurements(second, warm_start=True, use_omics=True)
    assert tuned["omics_rows"] == sum(1 for m in second if m.omics)
    designs = [m.design for m in second]
    omics = [dict(m.omics) or None for m in second]
    without, with_own = model.predict(designs), model.predict(designs, omics)
    assert np.isfinite(without.mean).all() and (without.sd > 0).all() and np.isfinite(with_own.mean).all()
    assert not np.allclose(without.mean[1], with_own.mean[1])  # row 1 has omics: they move its prediction
    np.testing.assert_allclose(without.mean[0], with_own.mean[0])  # row 0 has none: nothing to move it
    # attributions: a proposal (no omics) has no omics term; a measured strain's own omics get theirs
    proposal, measured = (integrated_gradients(model, designs[1:2], "EX_succ_e", omics=o, steps=8)[0]
                          for o in (None, omics[1:2]))
    assert not any(k.startswith("omics:") for k in proposal) and any(k.startswith("ko:") for k in proposal)
    assert any(k.startswith("omics:") for k in measured)
    loaded = DeepModel.from_bytes(model.to_bytes())
    np.testing.assert_allclose(loaded.predict(designs).mean, without.mean, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(loaded.predict(designs, omics).mean, with_own.mean, rtol=1e-5, atol=1e-6)


def test_use_omics_off_ignores_the_blocks() -> None:
    model = DeepModel("mlp", "textbook", ensemble=1, epochs=5)
    report = model.train_on_measurements(_lab_measurements(9, 2))
    assert model.features is not None and model.features.omics == {} and report["omics_rows"] == 0
