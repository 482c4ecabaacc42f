"""The networks: `mlp` (paper baseline), `fusion` (attention over modality tokens), `hybrid` (prior + residual).

Every network holds all ensemble members at once (weights stacked along a leading member
axis, applied with batched matrix products), so an ensemble trains as fast as one net.
A network maps a `Batch` to standardised target predictions of shape (members, n, targets).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

ACTIVATIONS: dict[str, type[nn.Module]] = {"relu": nn.ReLU, "gelu": nn.GELU, "tanh": nn.Tanh, "silu": nn.SiLU}


@dataclass
class Batch:
    """Model inputs as tensors. `prior`, `lb`, `ub` (physical units, n x reactions) only for `hybrid`."""

    x: Tensor
    omics_mask: Tensor
    prior: Tensor | None = None
    feasible: Tensor | None = None
    lb: Tensor | None = None
    ub: Tensor | None = None

    def select(self, index: Tensor) -> Batch:
        """Rows `index` of every tensor."""
        def pick(t: Tensor | None) -> Tensor | None:
            return None if t is None else t[index]

        return Batch(self.x[index], self.omics_mask[index], pick(self.prior), pick(self.feasible),
                     pick(self.lb), pick(self.ub))

    def to(self, device: torch.device) -> Batch:
        """Move to a device."""
        def move(t: Tensor | None) -> Tensor | None:
            return None if t is None else t.to(device)

        return Batch(self.x.to(device), self.omics_mask.to(device), move(self.prior), move(self.feasible),
                     move(self.lb), move(self.ub))

    def with_inputs(self, x: Tensor, prior: Tensor | None = None, omics_mask: Tensor | None = None) -> Batch:
        """Same batch with other features / prior (used by attributions)."""
        return replace(self, x=x, prior=self.prior if prior is None else prior,
                       omics_mask=self.omics_mask if omics_mask is None else omics_mask)

    def repeat(self, k: int) -> Batch:
        """The batch stacked ``k`` times along the rows (one forward pass for several feature variants)."""
        def tile(t: Tensor | None) -> Tensor | None:
            return None if t is None else torch.cat([t] * k)

        return Batch(torch.cat([self.x] * k), torch.cat([self.omics_mask] * k), tile(self.prior),
                     tile(self.feasible), tile(self.lb), tile(self.ub))

    def __len__(self) -> int:
        return int(self.x.shape[0])


class MemberLinear(nn.Module):
    """A linear layer per ensemble member: (members, rows, d_in) -> (members, rows, d_out)."""

    def __init__(self, members: int, d_in: int, d_out: int, zero: bool = False) -> None:
        super().__init__()
        bound = 0.0 if zero else 1.0 / math.sqrt(max(d_in, 1))
        self.weight = nn.Parameter(torch.empty(members, d_in, d_out).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.empty(members, 1, d_out).uniform_(-bound, bound))

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() == 2:  # the same input rows for every member: one matrix product
            m, d_in, d_out = self.weight.shape
            flat = x @ self.weight.permute(1, 0, 2).reshape(d_in, m * d_out)
            return flat.reshape(x.shape[0], m, d_out).transpose(0, 1) + self.bias
        shape = x.shape
        out = torch.baddbmm(self.bias, x.reshape(shape[0], -1, shape[-1]), self.weight)
        return out.reshape(*shape[:-1], out.shape[-1])


def member_mlp(members: int, d_in: int, hidden: Sequence[int], d_out: int, activation: str,
               dropout: float) -> nn.Sequential:
    """Stacked MLP: Linear-activation(-dropout) per hidden width, then a Linear output."""
    layers: list[nn.Module] = []
    width = d_in
    for h in hidden:
        layers += [MemberLinear(members, width, h), ACTIVATIONS[activation]()]
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
        width = h
    layers.append(MemberLinear(members, width, d_out))
    return nn.Sequential(*layers)


class MLPNet(nn.Module):
    """Two hidden layers on all features (+ omics presence flags): the source paper's baseline."""

    def __init__(self, members: int, d_in: int, n_blocks: int, d_out: int, hidden: Sequence[int] = (64, 64),
                 activation: str = "relu", dropout: float = 0.0) -> None:
        super().__init__()
        self.members = members
        self.body = member_mlp(members, d_in + n_blocks, hidden, d_out, activation, dropout)

    def forward(self, batch: Batch) -> Tensor:
        x = torch.cat([batch.x, batch.omics_mask.to(batch.x.dtype)], dim=1)
        return self.body(x)


class _FusionLayer(nn.Module):
    """Pre-LayerNorm transformer encoder layer (self-attention + feed-forward), member-batched."""

    def __init__(self, members: int, d_model: int, heads: int, dropout: float) -> None:
        super().__init__()
        self.heads = heads
        self.qkv = MemberLinear(members, d_model, 3 * d_model)
        self.out = MemberLinear(members, d_model, d_model)
        self.ff = nn.Sequential(MemberLinear(members, d_model, 2 * d_model), nn.GELU(),
                                MemberLinear(members, 2 * d_model, d_model))
        self.drop = nn.Dropout(dropout)

    def forward(self, tokens: Tensor, absent: Tensor) -> Tensor:
        m, n, t, d = tokens.shape
        h = F.layer_norm(tokens, (d,))
        q, k, v = self.qkv(h).reshape(m, n, t, 3, self.heads, d // self.heads).unbind(dim=3)
        scores = torch.einsum("mnthe,mnshe->mnhts", q, k) / math.sqrt(d // self.heads)
        scores = scores.masked_fill(absent[None, :, None, None, :], float("-inf"))
        attn = self.drop(torch.softmax(scores, dim=-1))
        mixed = torch.einsum("mnhts,mnshe->mnthe", attn, v).reshape(m, n, t, d)
        tokens = tokens + self.drop(self.out(mixed))
        return tokens + self.drop(self.ff(F.layer_norm(tokens, (d,))))


class FusionNet(nn.Module):
    """One encoder per modality -> tokens (+ a summary token) -> self-attention (absent modalities
    masked out as keys) -> head on the summary token. Works with any subset of modalities present."""

    def __init__(self, members: int, slices: dict[str, tuple[int, int]], omics_blocks: Sequence[str], d_out: int,
                 d_model: int = 32, heads: int = 4, layers: int = 1, dropout: float = 0.0) -> None:
        super().__init__()
        self.members = members
        self.names = list(slices)
        self.slices = [slices[n] for n in self.names]
        blocks = list(omics_blocks)
        # Which omics-mask column governs each token (-1 = always present).
        self.mask_col = [blocks.index(n[6:]) if n.startswith("omics.") else -1 for n in self.names]
        self.encoders = nn.ModuleList(member_mlp(members, b - a, [d_model], d_model, "gelu", 0.0)
                                      for a, b in self.slices)
        self.summary = nn.Parameter(torch.zeros(members, 1, 1, d_model))
        self.layers = nn.ModuleList(_FusionLayer(members, d_model, heads, dropout) for _ in range(layers))
        self.head = MemberLinear(members, d_model, d_out)

    def forward(self, batch: Batch) -> Tensor:
        n, m = len(batch), self.members
        tokens = [self.summary.expand(m, n, 1, -1)]
        absent = [torch.zeros(n, dtype=torch.bool, device=batch.x.device)]
        for (a, b), enc, col in zip(self.slices, self.encoders, self.mask_col, strict=True):
            tokens.append(enc(batch.x[:, a:b]).unsqueeze(2))
            absent.append(~batch.omics_mask[:, col] if col >= 0 else absent[0])
        h, pad = torch.cat(tokens, dim=2), torch.stack(absent, dim=1)
        for layer in self.layers:
            h = layer(h, pad)
        return self.head(F.layer_norm(h[:, :, 0], (h.shape[-1],)))


def project_fluxes(v: Tensor, null_basis: Tensor, lb: Tensor | None, ub: Tensor | None,
                   iterations: int = 3) -> Tensor:
    """Alternate `iterations` times: clip to the flux bounds, project onto S v = 0 (`v` starts in null(S)).

    `null_basis` N has orthonormal columns spanning null(S), so P = N Nᵀ = I - Sᵀ(S Sᵀ)⁺S.
    """
    for _ in range(iterations if lb is not None and ub is not None else 0):
        v = (torch.maximum(torch.minimum(v, ub), lb) @ null_basis) @ null_basis.T  # type: ignore[arg-type]
    return v


class HybridNet(nn.Module):
    """Mechanistic prior (pFBA flux) + learned residual, projected onto S v = 0 and the bounds.

    The residual lives in null(S): v = prior + N z, so mass balance holds by construction (the prior
    already has S v = 0). z is parameterised as z = B w, with B from the SVD of the measured rows
    of N (in standardised target units): a unit of w moves the measured outputs by one standard
    deviation along orthonormal directions, which makes the fit as well conditioned as a plain
    regression; directions of z that no measurement sees stay zero (minimum-norm residual).
    Targets that are fluxes (growth = biomass flux) are read off v; any other target (titers,
    black-box values) comes from a free linear head.
    """

    flux_index: Tensor
    is_flux: Tensor
    null_basis: Tensor
    z_basis: Tensor
    out_basis: Tensor
    y_mean: Tensor
    y_sd: Tensor
    prior_mean: Tensor
    prior_sd: Tensor
    prior_basis: Tensor

    def __init__(self, members: int, d_in: int, n_blocks: int, flux_index: Sequence[int], null_basis: Tensor,
                 y_mean: Tensor, y_sd: Tensor, prior_mean: Tensor, prior_sd: Tensor,
                 hidden: Sequence[int] = (64, 64), activation: str = "relu", dropout: float = 0.0,
                 iterations: int = 1, prior_rank: int | None = None, prior_basis: Tensor | None = None) -> None:
        super().__init__()
        n_rxn = null_basis.shape[0]
        self.members, self.iterations = members, iterations
        self.prior_rank = prior_rank
        if prior_rank is not None:  # the prior enters through its training rows' principal directions
            basis = torch.zeros(n_rxn, prior_rank) if prior_basis is None else prior_basis
            self.register_buffer("prior_basis", basis.to(null_basis.dtype))
        n_prior = n_rxn if prior_rank is None else prior_rank
        fi = torch.as_tensor(list(flux_index), dtype=torch.long)
        rows = fi[fi >= 0]
        A = (null_basis[rows] / y_sd[fi >= 0].unsqueeze(1)).double()
        U, sv, Vt = torch.linalg.svd(A, full_matrices=False)
        keep = sv > 1e-6 * (sv.max() if sv.numel() else 1.0)
        self.body = nn.Sequential(member_mlp(members, d_in + n_blocks + n_prior + 1, hidden[:-1], hidden[-1],
                                             activation, dropout), ACTIVATIONS[activation]())
        self.residual = MemberLinear(members, hidden[-1], int(keep.sum()), zero=True)
        self.free = MemberLinear(members, hidden[-1], len(flux_index), zero=True)
        self.register_buffer("flux_index", fi.clamp(min=0))
        self.register_buffer("is_flux", fi >= 0)
        self.register_buffer("null_basis", null_basis)
        self.register_buffer("z_basis", (Vt[keep].T / sv[keep]).to(null_basis.dtype))
        self.register_buffer("out_basis", U[:, keep].to(null_basis.dtype))
        for name, value in [("y_mean", y_mean), ("y_sd", y_sd), ("prior_mean", prior_mean), ("prior_sd", prior_sd)]:
            self.register_buffer(name, value)

    @torch.no_grad()
    def init_offset(self, mean_gap: Tensor) -> None:
        """Start from the mean gap between measurements and prior (standardised, one per flux target)."""
        self.residual.bias.copy_((mean_gap @ self.out_basis).expand_as(self.residual.bias))

    def _hidden(self, batch: Batch) -> Tensor:
        assert batch.prior is not None and batch.feasible is not None, "hybrid needs the mechanistic prior"
        prior_z = ((batch.prior - self.prior_mean) / self.prior_sd).clamp(-5.0, 5.0)
        if self.prior_rank is not None:
            prior_z = prior_z @ self.prior_basis
        inputs = [batch.x, batch.omics_mask.to(batch.x.dtype), prior_z, batch.feasible.unsqueeze(1)]
        return self.body(torch.cat(inputs, dim=1))

    def _flux(self, batch: Batch, z: Tensor, project: bool) -> Tensor:
        assert batch.prior is not None
        v = batch.prior + z @ self.null_basis.T
        return project_fluxes(v, self.null_basis, batch.lb, batch.ub, self.iterations) if project else v

    def full_flux(self, batch: Batch, project: bool = True) -> Tensor:
        """Predicted full flux vectors (members x n x reactions, mmol/gDW/h); physically consistent if `project`."""
        return self._flux(batch, self.residual(self._hidden(batch)) @ self.z_basis.T, project)

    def forward(self, batch: Batch) -> Tensor:
        h = self._hidden(batch)
        z = self.residual(h) @ self.z_basis.T
        if self.iterations == 0 or batch.lb is None:
            # prior + N z is already mass balanced: only the measured entries need computing.
            assert batch.prior is not None
            picked = batch.prior[:, self.flux_index] + z @ self.null_basis[self.flux_index].T
        else:
            picked = self._flux(batch, z, project=True)[..., self.flux_index]
        flux_z = (picked - self.y_mean) / self.y_sd
        return torch.where(self.is_flux, flux_z, self.free(h))


PRIOR_RANK_TOL = 1e-6
"""Singular values of the training rows' scaled prior below this fraction of the largest count as zero."""

PRIOR_DIRECTIONS_MIN_REACTIONS = 500
"""`prior_directions` only for models this large (genome scale): on E. coli core (95 reactions) the first layer
is cheap and the whole prior measured a little better (`fluxlab bench predictor --quick`, hybrid held-out R²
0.809 whole, 0.805 by directions)."""


def prior_directions(prior_z: Tensor) -> Tensor | None:
    """Orthonormal principal directions (reactions x k) of the scaled prior fluxes of the training rows, when
    they span at most half the reactions of a genome-scale model (`PRIOR_DIRECTIONS_MIN_REACTIONS`), else None
    (the prior then enters whole).

    On a genome-scale model the designs' prior flux vectors span few directions (the Biolog file on iJO1366:
    297 of 2,583), so the first layer reads the prior's coordinates along them: the same functions of every
    training row (its prior lies in their span) at a fraction of the first layer's cost; a new design's
    prior is read by its projection, where the full layer's weights off the span were never trained.
    """
    centred = (prior_z - prior_z.mean(dim=0)).double()
    if centred.shape[0] < 2 or prior_z.shape[1] < PRIOR_DIRECTIONS_MIN_REACTIONS:
        return None
    _, sv, vt = torch.linalg.svd(centred, full_matrices=False)
    keep = sv > PRIOR_RANK_TOL * (sv.max() if sv.numel() else 1.0)
    rank = int(keep.sum())
    if rank == 0 or rank > prior_z.shape[1] // 2:
        return None
    return vt[keep].T.to(prior_z.dtype).contiguous()


def build_network(kind: str, **kw: Any) -> nn.Module:
    """Construct a network by kind name ('mlp', 'fusion', 'hybrid', 'gnn')."""
    from services.predictor.gnn import GNNNet

    nets: dict[str, type[nn.Module]] = {"mlp": MLPNet, "fusion": FusionNet, "hybrid": HybridNet, "gnn": GNNNet}
    if kind not in nets:
        raise ValueError(f"unknown model kind '{kind}' (choose mlp, fusion, hybrid or gnn)")
    return nets[kind](**kw)
