"""A DeepModel's saved form: configuration, feature space, scalers, calibration, prior settings, weights."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

import torch

from services.predictor.ensemble import Calibration
from services.predictor.errors import PredictorError
from services.predictor.features import FeatureSpace, Standardizer

if TYPE_CHECKING:
    from services.predictor.deepmodel import DeepModel

FORMAT_VERSION = 1


def payload_of(model: DeepModel) -> dict[str, Any]:
    """Everything needed to rebuild `model` (plain data and CPU tensors, loadable with weights_only)."""
    if (model.net is None or model.features is None or model.x_scaler is None or model.y_scaler is None
            or model.calibration is None):
        raise PredictorError("model", "the model is not trained")
    return {
        "format": FORMAT_VERSION, "config": dataclasses.asdict(model.config), "names": model.names,
        "features": model.features.to_dict(), "x_scaler": model.x_scaler.to_dict(),
        "y_scaler": model.y_scaler.to_dict(), "calibration": model.calibration.to_dict(),
        "net_dims": model.net_dims,
        "reference": None if model.reference is None else torch.as_tensor(model.reference, dtype=torch.float64),
        "capacities": model.capacities,
        "weights": {k: v.cpu() for k, v in model.net.state_dict().items()},
    }


def check_format(payload: dict[str, Any]) -> dict[str, Any]:
    """The saved configuration (with defaults for keys older models lack); raises on a foreign format."""
    if payload.get("format") != FORMAT_VERSION:
        raise PredictorError("model", f"unsupported model format {payload.get('format')}")
    return {"capacity_headroom": None, **payload["config"]}  # models saved before capacity caps had none


def restore(model: DeepModel, payload: dict[str, Any]) -> DeepModel:
    """Fill a freshly constructed `model` from `payload` (the inverse of `payload_of`)."""
    model.names = list(payload["names"])
    model.features = FeatureSpace.from_dict(payload["features"])
    model.x_scaler = Standardizer.from_dict(payload["x_scaler"])
    model.y_scaler = Standardizer.from_dict(payload["y_scaler"])
    model.calibration = Calibration.from_dict(payload["calibration"])
    model.net_dims = dict(payload["net_dims"])
    reference = payload.get("reference")
    model.reference = None if reference is None else reference.numpy()
    model.capacities = dict(payload.get("capacities") or {})
    model.net = model._new_net(None)
    model.net.load_state_dict(payload["weights"])
    model.net.eval()
    return model
