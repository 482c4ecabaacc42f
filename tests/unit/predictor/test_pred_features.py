"""Feature encoding, targets from measurements, clear errors, masked loss."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from schemas.design import Design
from schemas.measurement import Measurement, Value
from services.predictor.errors import PredictorError
from services.predictor.features import FeatureSpace, Standardizer, targets_from_measurements
from services.predictor.training import masked_mse


def test_encode_columns_and_values() -> None:
    designs = [Design(knockouts=["a"], expression={"e": 4.0}), Design(medium={"EX_x": 2.5})]
    space = FeatureSpace.fit(designs, omics=[{"tx": {"f1": 1.0}}, None])
    X, mask = space.encode(designs, omics=[{"tx": {"f1": 1.0}}, None])
    assert space.columns == ["ko:a", "expr:e", "medium:EX_x", "omics.tx:f1"]
    np.testing.assert_array_equal(X[0, :3], [1.0, 2.0, 0.0])
    np.testing.assert_array_equal(X[1, :3], [0.0, 0.0, 2.5])
    assert X[0, 3] == 1.0 and math.isnan(X[1, 3])
    np.testing.assert_array_equal(mask, [[True], [False]])


def test_unknown_gene_names_the_field() -> None:
    space = FeatureSpace.fit([Design(knockouts=["a"])])
    designs = [Design(), Design(), Design(), Design(knockouts=["b9999"])]
    with pytest.raises(PredictorError, match=r"designs\[3\]\.knockouts\[0\]: unknown gene or reaction 'b9999'"):
        space.encode(designs)


def test_unknown_gene_against_the_organism_model(core_organism) -> None:  # type: ignore[no-untyped-def]
    space = FeatureSpace.fit([Design(knockouts=["b1241"])], organism=core_organism)
    with pytest.raises(PredictorError) as err:
        space.encode([Design(), Design(knockouts=["b9999"])], organism=core_organism)
    assert err.value.field == "designs[1].knockouts[0]"
    assert "b9999" in err.value.reason


def test_nan_in_omics_and_matrix_is_rejected() -> None:
    space = FeatureSpace.fit([Design()], omics=[{"tx": {"f": 1.0}}])
    with pytest.raises(PredictorError, match=r"omics\[0\]\.tx\.f"):
        space.encode([Design()], omics=[{"tx": {"f": float("nan")}}])
    matrix = FeatureSpace.for_matrix(2)
    with pytest.raises(PredictorError, match=r"X\[1, 0\]"):
        matrix.encode_matrix(np.array([[1.0, 2.0], [np.nan, 1.0]]))


def test_targets_from_measurements_marks_unmeasured_as_nan() -> None:
    m1 = Measurement(campaign_id="c", run_id="r1", design=Design(), growth_rate=Value(value=0.8, sd=0.04),
                     fluxes={"PGI": Value(value=5.0, sd=0.2)})
    m2 = Measurement(campaign_id="c", run_id="r2", design=Design(knockouts=["x"]),
                     products={"EX_succ_e": Value(value=1.5, sd=0.1)})
    table = targets_from_measurements([m1, m2])
    assert table.names == ["growth", "EX_succ_e", "PGI"]
    np.testing.assert_array_equal(table.y, [[0.8, np.nan, 5.0], [np.nan, 1.5, np.nan]])
    np.testing.assert_array_equal(table.sd, [[0.04, np.nan, 0.2], [np.nan, 0.1, np.nan]])


def test_standardizer_ignores_nan_and_constant_columns() -> None:
    s = Standardizer.fit(np.array([[1.0, 3.0, np.nan], [3.0, 3.0, 2.0]]))
    np.testing.assert_allclose(s.mean, [2.0, 3.0, 2.0])
    np.testing.assert_allclose(s.sd, [1.0, 1.0, 1.0])


def test_masked_loss_ignores_unmeasured_entries() -> None:
    target = torch.tensor([[1.0, float("nan")], [2.0, 3.0]])
    pred = torch.tensor([[2.0, 100.0], [2.0, 5.0]])
    # Measured errors: 1, 0, 2 -> squares 1, 0, 4 -> mean 5/3; the 100 under the NaN is ignored.
    assert float(masked_mse(pred, target)) == pytest.approx(5.0 / 3.0)
    pred.requires_grad_(True)
    masked_mse(pred, target).backward()
    assert pred.grad is not None and float(pred.grad[0, 1]) == 0.0


def test_black_box_parameters_are_features() -> None:
    designs = [Design(parameters={"x0": 0.5, "x1": 2.0}), Design(parameters={"x0": 1.5, "x1": -1.0})]
    space = FeatureSpace.fit(designs)
    X, _ = space.encode(designs)
    assert space.columns == ["param:x0", "param:x1"]
    np.testing.assert_array_equal(X, [[0.5, 2.0], [1.5, -1.0]])
    with pytest.raises(PredictorError, match=r"designs\[0\]\.parameters: missing parameter 'x1'"):
        space.encode([Design(parameters={"x0": 1.0})])
    with pytest.raises(PredictorError, match=r"designs\[0\]\.parameters\.z: unknown parameter 'z'"):
        space.encode([Design(parameters={"x0": 1.0, "x1": 1.0, "z": 0.0})])
