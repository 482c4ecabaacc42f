"""The `dynamic` model's learned kinetics driving a spatial integrator: profiles of a colony on agar.

A model fitted on mixed batch curves (services/predictor/dynamic.py) gives, per medium and ensemble
member, the uptake network's Vmax per substrate, Km, yields, lag, kd and the base-medium resource. Here the
same mass balances run at every cell of a 1-D grid (services/domain/diffusion.py), with diffusion terms,
by the method of lines in torch: per step of at most MIN_DT_H an explicit reaction step (the batch
model's rates, with the local biomass density X in OD units, uptake capped at what a cell holds), then a
backward-Euler diffusion step of every substrate, of the implicit resource and of biomass:

    dX/dt = mu X + D_X ∇²X ;  dS_i/dt = -a(t) q_i X + D_i ∇²S_i ;  dR/dt = -gross X + D_R ∇²R

What the integrator is told, as an experimenter knows it: the grid, the diffusion coefficients, the
uniform initial medium and the inoculum profile at t = 0, as OD or as a multiple of the batch inoculum.
The kinetics are the medium's (encoded from the initial composition) at every cell.
Bands: the ensemble spread plus the batch model's residual variance on ln X (its held-out error), as for batch curves.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

import numpy as np
import torch

from services.domain.diffusion import Grid
from services.predictor.dynamic import MIN_DT_H, MU_CAP, DynamicModel

RESOURCE_DIFFUSIVITY = 2.0
"""D (mm²/h) of the model's implicit base-medium resource (a small inorganic solute)."""


@dataclass(frozen=True)
class SpatialSetup:
    """What the spatial integrator is told: grid, diffusion coefficients (mm²/h), inoculum per cell.

    `inoculum_od` is the OD-equivalent density per cell or, with `relative_inoculum`, the density as a
    multiple of the batch cultures' inoculum (a dilution the lab knows), placed on each ensemble member's
    learned batch inoculum: the batch fit learns the inoculum jointly with the lag, so the learned kinetics
    transfer in that frame (docs/dynamic.md).
    """

    grid: Grid
    diffusivity: Mapping[str, float]
    biomass_diffusivity: float
    inoculum_od: np.ndarray
    resource_diffusivity: float = RESOURCE_DIFFUSIVITY
    relative_inoculum: bool = False

    def __post_init__(self) -> None:
        if np.asarray(self.inoculum_od).shape != (self.grid.cells,):
            raise ValueError(f"inoculum_od: expected {self.grid.cells} values, got {np.shape(self.inoculum_od)}")
        if np.any(np.asarray(self.inoculum_od) < 0):
            raise ValueError("inoculum_od: must be non-negative")


@dataclass
class ProfilePrediction:
    """Predicted profiles: OD mean, 95% band (runs x times x cells), substrates (runs x times x cells x n)."""

    times: np.ndarray
    positions_mm: np.ndarray
    od: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    substrates: np.ndarray
    members: np.ndarray


def spatial_rates(p: dict[str, torch.Tensor], t: float, x: torch.Tensor, s: torch.Tensor, r: torch.Tensor,
                  dt: float | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The batch model's rates (services.predictor.dynamic._rates) on local densities: mu, dS/dt, dR/dt.

    With `dt`, uptake in a step is capped at what the cell holds (q <= S / (X dt), and growth likewise by
    R), as the dFBA simulator caps its uptake bounds: in a dense colony, fed by diffusion, an explicit step
    would otherwise grow on substrate that is not there.
    """
    active = torch.sigmoid((t - p["lag"]) / p["width"])
    s_pos, r_pos = s.clamp(min=0.0), r.clamp(min=0.0)
    q = p["vmax"] * s_pos / (p["km"] + s_pos) * (r_pos / (p["kr"] + r_pos))
    if dt is not None:
        q = torch.minimum(q, s_pos / (active * x * dt).clamp(min=1e-12))
    gross = active * MU_CAP * torch.tanh((p["yield"] * q).sum(-1, keepdim=True) / MU_CAP)
    if dt is not None:
        gross = torch.minimum(gross, r_pos / (x * dt).clamp(min=1e-12))
    return gross - p["kd"], -active * q * x, -gross * x


class _Diffusion:
    """Backward-Euler diffusion operators per step length, as torch tensors."""

    def __init__(self, setup: SpatialSetup, substrates: list[str], device: torch.device) -> None:
        self.setup, self.device = setup, device
        self.d_substrates = [float(setup.diffusivity[m]) for m in substrates]
        self._cache: dict[float, tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = {}

    def operators(self, dt: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        key = round(dt, 9)
        if key not in self._cache:
            grid = self.setup.grid
            as_t = lambda a: torch.as_tensor(a, dtype=torch.float32, device=self.device)  # noqa: E731
            subs = np.stack([grid.implicit_step(d, dt) for d in self.d_substrates])
            self._cache[key] = (as_t(subs), as_t(grid.implicit_step(self.setup.resource_diffusivity, dt)),
                                as_t(grid.implicit_step(self.setup.biomass_diffusivity, dt)))
        return self._cache[key]


def integrate_spatial(p: dict[str, torch.Tensor], s0: torch.Tensor, setup: SpatialSetup, substrates: list[str],
                      times: np.ndarray) -> dict[str, torch.Tensor]:
    """Profiles from t=0: X (members, runs, T, cells) in OD and S (members, runs, T, cells, n) in mM."""
    device = s0.device
    grid = {k: v.unsqueeze(-2) for k, v in p.items()}  # a cell axis before the last
    members, runs, n = p["vmax"].shape
    cells = setup.grid.cells
    x = torch.as_tensor(setup.inoculum_od, dtype=torch.float32, device=device).reshape(1, 1, cells, 1)
    if setup.relative_inoculum:
        x = x * p["ln_x0"].exp().reshape(members, 1, 1, 1)
    x = x.expand(members, runs, cells, 1)
    s = s0.reshape(1, -1, 1, n).expand(members, runs, cells, n)
    r = p["r0"].unsqueeze(-2).expand(members, runs, cells, 1)
    diffusion = _Diffusion(setup, substrates, device)
    t, out_x, out_s = 0.0, [], []
    for target in np.asarray(times, dtype=float):
        steps = max(1, int(np.ceil((float(target) - t) / MIN_DT_H)))
        dt = (float(target) - t) / steps
        op_s, op_r, op_x = diffusion.operators(dt)
        for _ in range(steps):
            mu, ds, dr = spatial_rates(grid, t + 0.5 * dt, x, s, r, dt)
            x = x * torch.exp(dt * mu.clamp(max=MU_CAP))
            s, r = (s + dt * ds).clamp(min=0.0), (r + dt * dr).clamp(min=0.0)
            s = torch.einsum("jgh,mrhj->mrgj", op_s, s)
            r = torch.einsum("gh,mrhk->mrgk", op_r, r)
            x = torch.einsum("gh,mrhk->mrgk", op_x, x)
            t += dt
        out_x.append(x[..., 0])
        out_s.append(s)
    return {"x": torch.stack(out_x, 2), "s": torch.stack(out_s, 2)}


def predict_profiles(model: DynamicModel, init: np.ndarray, setup: SpatialSetup, times: np.ndarray,
                     diffusion: bool = True) -> ProfilePrediction:
    """Profiles of media (runs x substrates, mM, uniform at t=0) from a fitted batch model's kinetics.

    `diffusion=False` runs every cell as an isolated well (the same kinetics without transport), the
    ablation that shows what the diffusion terms carry.
    """
    if model.net is None:
        raise RuntimeError("the dynamic model is not fitted")
    init = np.asarray(init, dtype=float)
    if init.ndim != 2 or init.shape[1] != len(model.substrates):
        raise ValueError(f"init: expected runs x {len(model.substrates)} substrate columns, got {init.shape}")
    if not diffusion:
        setup = replace(setup, diffusivity=dict.fromkeys(model.substrates, 0.0), biomass_diffusivity=0.0,
                        resource_diffusivity=0.0)
    missing = sorted(set(model.substrates) - set(setup.diffusivity))
    if missing:
        raise ValueError(f"diffusivity: no diffusion coefficient for {', '.join(missing)}")
    features, s0 = model._inputs(init)
    with torch.no_grad():
        out = integrate_spatial(model.net(features), s0, setup, model.substrates, times)
    members = out["x"].cpu().numpy().astype(float)
    ln = np.log(np.maximum(members, 1e-30))
    mean_ln = ln.mean(0)
    sd = np.sqrt(ln.var(0) + model.residual_var)
    return ProfilePrediction(np.asarray(times, dtype=float), setup.grid.positions_mm, members.mean(0),
                             np.exp(mean_ln - 1.959964 * sd), np.exp(mean_ln + 1.959964 * sd),
                             out["s"].mean(0).cpu().numpy().astype(float), members)
