"""Training loop for a member-batched network: masked MSE, Adam, per-member early stopping."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from services.predictor.models import Batch


@dataclass
class TrainSettings:
    """Optimisation settings."""

    epochs: int = 400
    patience: int = 40
    lr: float = 3e-3
    weight_decay: float = 1e-5
    batch_size: int = 4096


def masked_mse(pred: Tensor, target: Tensor, weight: Tensor | None = None) -> Tensor:
    """Per-member mean squared error over measured (non-NaN) entries only.

    pred: (members, n, targets) or (n, targets); target: (n, targets) with NaN = not measured;
    weight: per-row weights (members, n) or (n,). Returns (members,) or a scalar.
    """
    mask = ~torch.isnan(target)
    diff2 = torch.where(mask, pred - torch.nan_to_num(target), torch.zeros_like(pred)) ** 2
    m = mask.to(pred.dtype).expand_as(diff2)
    if weight is not None:
        m = m * weight.unsqueeze(-1)
    return (diff2 * m).sum(dim=(-2, -1)) / m.sum(dim=(-2, -1)).clamp(min=1.0)


def _member_params(net: nn.Module, members: int) -> dict[str, Tensor]:
    return {k: p for k, p in net.named_parameters() if p.ndim and p.shape[0] == members}


def fit_members(net: nn.Module, members: int, train: Batch, y_train: Tensor, row_weights: Tensor,
                val: Batch | None, y_val: Tensor | None, settings: TrainSettings,
                generator: torch.Generator) -> Tensor:
    """Train all members (each on its bootstrap row weights, members x rows); keep each one's best-val weights.

    Adam is element-wise, so one optimiser over the stacked weights trains the members independently.
    Returns the epoch at which each member was best (the last epoch without a validation set).
    """
    opt = torch.optim.Adam(net.parameters(), lr=settings.lr, weight_decay=settings.weight_decay)
    params = _member_params(net, members)
    best = {k: p.detach().clone() for k, p in params.items()}
    best_loss = torch.full((members,), float("inf"), device=y_train.device)
    best_epoch = torch.zeros(members, dtype=torch.long)
    n = len(train)
    for epoch in range(settings.epochs):
        net.train()
        order = torch.randperm(n, generator=generator).to(y_train.device) if n > settings.batch_size else None
        for start in range(0, n, settings.batch_size):
            rows = None if order is None else order[start:start + settings.batch_size]
            batch, y = (train, y_train) if rows is None else (train.select(rows), y_train[rows])
            w = row_weights if rows is None else row_weights[:, rows]
            loss = masked_mse(net(batch), y, w).sum()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        if val is None or y_val is None:
            continue
        net.eval()
        with torch.no_grad():
            val_loss = masked_mse(net(val), y_val)
            improved = val_loss < best_loss - 1e-6
            if improved.any():
                best_loss = torch.where(improved, val_loss, best_loss)
                best_epoch[improved.cpu()] = epoch
                for k, p in params.items():
                    best[k][improved] = p.detach()[improved]
        if bool((epoch - best_epoch >= settings.patience).all()):
            break
    if val is not None:
        with torch.no_grad():
            for k, p in params.items():
                p.copy_(best[k])
    else:
        best_epoch[:] = settings.epochs - 1
    net.eval()
    return best_epoch
