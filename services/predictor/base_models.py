"""A campaign's `base_model`: the model it starts from and fine-tunes (transfer learning).

`CampaignSpec.base_model` names either a model uploaded to the models bucket (`fluxlab models put FILE
--name NAME`, stored as `base/NAME.pt`; FILE is what `fluxlab predictor fit` writes) or an earlier
campaign, whose latest version (`<campaign>/vNNNN.pt`) is taken. The predictor announces the base as the
campaign's first model before any measurement (so the first batch is planned on it), then fine-tunes it
on the campaign's measurements for every later version instead of training from scratch.
Knows the object store's names only; no torch.
"""

from __future__ import annotations

import re
from typing import Any

from nats.js.errors import NotFoundError, ObjectNotFoundError

from services.predictor.errors import PredictorError

BASE_PREFIX = "base/"
"""Object-name prefix of uploaded base models."""

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
_VERSION = re.compile(r"^v(\d+)\.pt$")


def uploaded_name(name: str) -> str:
    """The object name of an uploaded base model (raises PredictorError on an unusable name)."""
    if not _NAME.match(name):
        raise PredictorError("name", f"{name!r} is not a model name (letters, digits, '_', '.', '-'; at most 128)")
    return f"{BASE_PREFIX}{name}.pt"


def latest_version(names: list[str], campaign_id: str) -> str | None:
    """The newest `<campaign>/vNNNN.pt` among object names, or None."""
    versions = []
    for name in names:
        head, _, tail = name.partition("/")
        match = _VERSION.match(tail)
        if head == campaign_id and match:
            versions.append((int(match.group(1)), name))
    return max(versions)[1] if versions else None


async def fetch(store: Any, base_model: str) -> tuple[str, bytes]:
    """(object name, bytes) of the model `base_model` names: an uploaded model, else an earlier campaign's latest.

    Raises PredictorError("base_model", ...) when neither exists.
    """
    if _NAME.match(base_model):
        try:
            obj = await store.get(uploaded_name(base_model))
            return uploaded_name(base_model), bytes(obj.data)
        except (ObjectNotFoundError, NotFoundError):
            pass
    try:
        names = [info.name for info in await store.list() if not getattr(info, "deleted", False)]
    except (ObjectNotFoundError, NotFoundError):
        names = []
    artifact = latest_version(names, base_model)
    if artifact is None:
        raise PredictorError("base_model", f"no model named {base_model!r}: neither an uploaded model "
                                           f"(fluxlab models put) nor a campaign with a trained model")
    obj = await store.get(artifact)
    return artifact, bytes(obj.data)
