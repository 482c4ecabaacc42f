"""Integrated-gradients attributions of a prediction to each intervention and omics modality.

Baseline = the wild-type design (no knockouts, unchanged expression, default medium) without omics.
The attributions of one design sum (up to the integration error) to prediction(design) -
prediction(wild type), in the output's units. For the hybrid model the change of the mechanistic
prior between wild type and design is one more input; its share is reported as `mechanistic_prior`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import torch

from schemas.design import Design
from services.predictor.errors import PredictorError
from services.predictor.features import OmicsList
from services.predictor.models import Batch

if TYPE_CHECKING:
    from schemas import PredictRequest
    from services.predictor.deepmodel import DeepModel


def _column_groups(model: DeepModel) -> list[tuple[str, list[int]]]:
    """Attribution key -> feature columns (one key per intervention, one per omics block)."""
    assert model.features is not None
    groups: dict[str, list[int]] = {}
    for j, col in enumerate(model.features.columns):
        key = col.split(":", 1)[0].replace("omics.", "omics:") if col.startswith("omics.") else col
        groups.setdefault(key, []).append(j)
    return list(groups.items())


def integrated_gradients(model: DeepModel, designs: Sequence[Design], output: str,
                         omics: OmicsList | None = None, steps: int = 32) -> list[dict[str, float]]:
    """Per design: attribution key ('ko:<id>', 'expr:<gene>', 'medium:<exchange>', 'omics:<block>',
    'mechanistic_prior') -> contribution to `output` (output units). Zero-valued keys are left out."""
    if output not in model.names:
        raise PredictorError("output", f"unknown output '{output}' (the model predicts {', '.join(model.names)})")
    if model.net is None or model.y_scaler is None:
        raise PredictorError("model", "the model is not trained")
    j = model.names.index(output)
    batch = model.batch(list(designs), omics)
    base = model.batch([Design()] * len(designs))
    net = model.net
    net.eval()
    alphas = (torch.arange(steps, dtype=torch.float32) + 0.5) / steps  # midpoint rule
    grad_x = torch.zeros_like(batch.x)
    grad_mask = torch.zeros_like(batch.omics_mask, dtype=batch.x.dtype)
    grad_prior = None if batch.prior is None else torch.zeros_like(batch.prior)
    mask_now, mask_base = batch.omics_mask.to(batch.x.dtype), torch.zeros_like(grad_mask)
    for a in alphas.tolist():
        x = (base.x + a * (batch.x - base.x)).requires_grad_(True)
        mask = (mask_base + a * (mask_now - mask_base)).requires_grad_(True)
        inputs: list[torch.Tensor] = [x, mask]
        prior = None
        if batch.prior is not None and base.prior is not None:
            prior = (base.prior + a * (batch.prior - base.prior)).requires_grad_(True)
            inputs.append(prior)
        out = net(_interpolated(model, batch, x, mask, prior))[..., j].mean(dim=0).sum()
        grads = torch.autograd.grad(out, inputs)
        grad_x += grads[0] / steps
        grad_mask += grads[1] / steps
        if grad_prior is not None:
            grad_prior += grads[2] / steps
    scale = float(model.y_scaler.sd[j])
    contrib_x = ((batch.x - base.x) * grad_x * scale).detach().cpu().numpy()
    contrib_mask = ((mask_now - mask_base) * grad_mask * scale).detach().cpu().numpy()
    contrib_prior = None
    if grad_prior is not None and batch.prior is not None and base.prior is not None:
        contrib_prior = ((batch.prior - base.prior) * grad_prior).sum(dim=1).detach().cpu().numpy() * scale
    return _collect(model, contrib_x, contrib_mask, contrib_prior)


def _interpolated(model: DeepModel, batch: Batch, x: torch.Tensor, mask: torch.Tensor,
                  prior: torch.Tensor | None) -> Batch:
    """The batch at one point of the path. The fusion net masks absent modalities out of attention
    (a discrete choice), so it keeps the design's own presence pattern; the others take it as a number."""
    keep_bool = model.config.kind == "fusion"
    return batch.with_inputs(x, prior, omics_mask=batch.omics_mask if keep_bool else mask)


def _collect(model: DeepModel, cx_a: np.ndarray, cm_a: np.ndarray, cp: np.ndarray | None) -> list[dict[str, float]]:
    assert model.features is not None
    blocks = list(model.features.omics)
    results: list[dict[str, float]] = []
    for i in range(cx_a.shape[0]):
        row: dict[str, float] = {}
        for key, cols in _column_groups(model):
            value = float(cx_a[i, cols].sum())
            if key.startswith("omics:"):
                value += float(cm_a[i, blocks.index(key[6:])])
            if value != 0.0:
                row[key] = value
        if cp is not None:
            row["mechanistic_prior"] = float(cp[i])
        results.append(row)
    return results


def for_request(model: DeepModel, request: PredictRequest) -> list[dict[str, float]]:
    """`integrated_gradients` of a `rpc.predict` request's designs, for its first requested output (or the model's)."""
    output = request.outputs[0] if request.outputs else model.names[0]
    return integrated_gradients(model, request.designs, output)
