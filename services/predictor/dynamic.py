"""Model `dynamic`: a mechanistic batch-culture integrator whose unknown kinetics come from neural networks.

State per culture: biomass X (OD), the concentration S_i (mM) of every medium component the runs table
names, and one implicit limiting resource R of the base medium (M9 salts or oxygen transfer: nothing in
the data names it, but every medium plateaus). Mass balances, integrated with fixed explicit steps
(<= 0.42 h) in torch so that the whole trajectory is differentiable:

    q_i    = Vmax_i(medium) * S_i / (Km_i + S_i) * R / (K_R + R)     uptake (mmol/OD/h)
    mu     = a(t) * cap(sum_i Y_i q_i) - kd(medium)                      growth (1/h)
    a(t)   = sigmoid((t - lag(medium)) / width(medium))                lag phase
    dS_i/dt = -a(t) q_i X ;  dR/dt = -a(t) (sum_i Y_i q_i) X ;  d lnX/dt = mu

The learned parts, trained end to end on measured ln OD curves: Vmax per substrate, lag, lag width and the
death/maintenance kd are learned global constants, each times a bounded factor e^(±span) that an encoder
network computes from the composition (log(1 + mM) and presence: substrate-specific, with the interactions of
the whole medium, e.g. catabolite repression; with `fit(design=)` also the design's knockouts and expression,
`dynamic_design.py`, and products in `dynamic_products.py`); the medium's capacity R0 is a learned global
within e^±0.5. The encoder's last layer starts near zero, so training starts from one set of kinetics for every
medium and the network only moves a medium as far as the curves ask (`parametrisation="free"`, the version-1 model whose
encoder outputs were the kinetics themselves, did not even fit its simulated training curves: train R²
0.74-0.80 against the truth; docs/dynamic.md). Km_i, Y_i, K_R and the inoculum ln X0 are learned global
constants. Yields are per substrate constants, i.e. a reduced stoichiometry: the genome-scale S·v = 0 of dFBA
is not solved inside the training loop (see docs/dynamic.md). A deep ensemble (members trained in one batched
pass with different initial weights, each leaving out its own 10% of the training runs) gives the uncertainty:
bands are the ensemble spread plus the residual variance, taken from the members' error on the runs they left
out (the training residuals understate the error on unseen media).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

MIN_DT_H = 0.42
"""Largest integration step (h)."""

MU_CAP = 2.0
"""Growth rates saturate smoothly below this (1/h): no E. coli grows faster, and it keeps the steps stable."""


@dataclass
class DynamicConfig:
    """Hyper-parameters of the dynamic model."""

    members: int = 4
    hidden: int = 64
    epochs: int = 600
    lr: float = 0.01
    weight_decay: float = 1e-4
    dropout: float = 0.1
    seed: int = 0
    device: str = "auto"
    concentration_weight: float = 1.0
    """Weight of the measured substrate courses in the loss (when fit is given them), each scaled by its maximum."""
    parametrisation: str = "bounded"
    """`bounded`: every per-medium kinetic is a learned global constant times a bounded factor of the encoder
    (e^(±span), last layer zero at the start); `free`: the encoder's outputs are the kinetics (version 1)."""
    span: float = 1.0
    """Largest log-factor the encoder can move a kinetic away from its global constant (`bounded` only)."""
    slope_weight: float = 0.0
    """Weight of the slopes of ln OD between successive points (1/h) in the loss."""
    holdout: float = 0.1
    """Fraction of the training runs each member holds out (its own draw): their error sizes the bands (the
    training residuals understate the error on unseen media) and, with `select_epoch`, picks its epoch."""
    select_epoch: bool = False
    """With `holdout`: each member keeps the epoch of its lowest held-out loss (else its last epoch)."""
    eval_every: int = 5
    """Epochs between two evaluations of the held-out runs (with `select_epoch`)."""
    curve_weighting: str = "points"
    """`points`: every measured point counts alike; `r2`: each curve's squared errors are divided by its own
    spread (sum of squares around its mean, over the mean of that over curves), as the per-curve R² scores it."""


class _BatchedLinear(nn.Module):
    """One linear layer per ensemble member, applied in one batched matmul."""

    def __init__(self, members: int, n_in: int, n_out: int) -> None:
        super().__init__()
        bound = 1.0 / np.sqrt(n_in)
        self.weight = nn.Parameter(torch.empty(members, n_in, n_out).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.empty(members, 1, n_out).uniform_(-bound, bound))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.baddbmm(self.bias, x, self.weight)


class _Kinetics(nn.Module):
    """Encoder (composition -> per-culture kinetics) and the global mechanistic constants, per member."""

    N_RUN_PARAMS = 4  # lag, lag width, kd, resource capacity

    def __init__(self, members: int, n_features: int, n_substrates: int, hidden: int, dropout: float = 0.0,
                 parametrisation: str = "free", span: float = 1.0, n_extra: int = 0) -> None:
        super().__init__()
        if parametrisation not in ("free", "bounded"):
            raise ValueError(f"parametrisation: expected 'free' or 'bounded', got {parametrisation!r}")
        self.parametrisation, self.span, self.n_substrates = parametrisation, span, n_substrates
        self.encoder = nn.Sequential(
            _BatchedLinear(members, n_features, hidden), nn.SiLU(), nn.Dropout(dropout),
            _BatchedLinear(members, hidden, hidden), nn.SiLU(), nn.Dropout(dropout),
            _BatchedLinear(members, hidden, n_substrates + self.N_RUN_PARAMS + n_extra),
        )
        shape = (members, 1, n_substrates)
        if parametrisation == "bounded":
            last = self.encoder[-1]
            assert isinstance(last, _BatchedLinear)
            with torch.no_grad():
                last.weight.mul_(0.01)
                last.bias.zero_()
            # global constants at the free parametrisation's starting values
            self.log_vmax = nn.Parameter(torch.full(shape, float(np.log(2.0 * np.log(2.0)))))
            self.log_lag = nn.Parameter(torch.full((members, 1, 1), float(np.log(3.05))))
            self.log_width = nn.Parameter(torch.full((members, 1, 1), float(np.log(0.9))))
            self.log_kd = nn.Parameter(torch.full((members, 1, 1), float(np.log(0.004))))
        self.log_km = nn.Parameter(torch.full(shape, np.log(0.5)))
        self.log_yield = nn.Parameter(torch.full(shape, np.log(0.05)) + 0.1 * torch.randn(shape))
        self.log_r0 = nn.Parameter(torch.full((members, 1, 1), np.log(1.5)))
        self.log_kr = nn.Parameter(torch.full((members, 1, 1), np.log(0.05)))
        self.ln_x0 = nn.Parameter(torch.full((members, 1, 1), -2.5))

    def forward(self, features: torch.Tensor) -> dict[str, torch.Tensor]:
        out = self.encoder(features)
        n = self.n_substrates
        extra = {"extra": out[..., n + self.N_RUN_PARAMS:]} if out.shape[-1] > n + self.N_RUN_PARAMS else {}
        if self.parametrisation == "bounded":
            f = self.span * torch.tanh(out)
            return extra | {
                "vmax": torch.exp(self.log_vmax + f[..., :n]),
                "lag": torch.exp(self.log_lag + f[..., n:n + 1]),
                "width": torch.exp(self.log_width + f[..., n + 1:n + 2]) + 0.05,
                "kd": torch.exp(self.log_kd + f[..., n + 2:n + 3]),
                "r0": self.log_r0.exp() * torch.exp(0.5 * torch.tanh(out[..., n + 3:n + 4])),
                "km": self.log_km.exp() + 1e-3, "yield": self.log_yield.exp(),
                "kr": self.log_kr.exp() + 1e-3, "ln_x0": self.ln_x0,
            }
        return extra | {
            "vmax": nn.functional.softplus(out[..., :n]) * 2.0,
            "lag": nn.functional.softplus(out[..., n:n + 1] * 3.0 + 3.0),
            "width": nn.functional.softplus(out[..., n + 1:n + 2]) + 0.2,
            "kd": nn.functional.softplus(out[..., n + 2:n + 3] - 4.0) * 0.2,
            "r0": self.log_r0.exp() * torch.exp(0.5 * torch.tanh(out[..., n + 3:n + 4])),
            "km": self.log_km.exp() + 1e-3, "yield": self.log_yield.exp(),
            "kr": self.log_kr.exp() + 1e-3, "ln_x0": self.ln_x0,
        }


def _rates(p: dict[str, torch.Tensor], t: float, ln_x: torch.Tensor, s: torch.Tensor, r: torch.Tensor
           ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    active = torch.sigmoid((t - p["lag"]) / p["width"])
    s_pos, r_pos = s.clamp(min=0.0), r.clamp(min=0.0)
    q = p["vmax"] * s_pos / (p["km"] + s_pos) * (r_pos / (p["kr"] + r_pos))
    gross = active * MU_CAP * torch.tanh((p["yield"] * q).sum(-1, keepdim=True) / MU_CAP)
    x = ln_x.clamp(max=2.0).exp()
    return gross - p["kd"], -active * q * x, -gross * x


def integrate(p: dict[str, torch.Tensor], s0: torch.Tensor, times: np.ndarray) -> dict[str, torch.Tensor]:
    """Integrate the mass balances from t=0; returns ln X (members, runs, T) and S (members, runs, T, n)."""
    members, runs = p["vmax"].shape[:2]
    ln_x = p["ln_x0"].expand(members, runs, 1)
    s = s0.expand(members, runs, s0.shape[-1])
    r = p["r0"].expand(members, runs, 1)
    t, out_x, out_s = 0.0, [], []
    for target in times:
        steps = max(1, int(np.ceil((float(target) - t) / MIN_DT_H)))
        dt = (float(target) - t) / steps
        for _ in range(steps):
            d = _rates(p, t + 0.5 * dt, ln_x, s, r)
            ln_x, s, r = ln_x + dt * d[0], (s + dt * d[1]).clamp(min=0.0), (r + dt * d[2]).clamp(min=0.0)
            t += dt
        out_x.append(ln_x[..., 0])
        out_s.append(s)
    return {"ln_x": torch.stack(out_x, -1), "s": torch.stack(out_s, -2)}


@dataclass
class CurvePrediction:
    """Predicted ln OD curves: mean and sd (runs x times), and the members' curves."""

    times: np.ndarray
    mean: np.ndarray
    sd: np.ndarray
    members: np.ndarray
    substrates: np.ndarray = field(default_factory=lambda: np.zeros(0))
    extras: dict[str, np.ndarray] = field(default_factory=dict)
    """A subclass's own states per member (e.g. `products`: members x runs x T x products, mM)."""


class DynamicModel:
    """Hybrid dynamic model of batch growth curves (fit on ln OD curves, predict curves with bands)."""

    def __init__(self, config: DynamicConfig | None = None) -> None:
        self.config = config or DynamicConfig()
        self.device = torch.device("cuda" if self.config.device == "auto" and torch.cuda.is_available()
                                   else ("cpu" if self.config.device == "auto" else self.config.device))
        self.net: _Kinetics | None = None
        self.substrates: list[str] = []
        self.residual_var = 0.0
        self._scale = 1.0
        self.n_design = 0
        """Design features (knockouts, log2 expression, ...) the encoder reads next to the medium (0: none)."""

    def _inputs(self, init: np.ndarray, design: np.ndarray | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        if (0 if design is None else design.shape[1]) != self.n_design or (
                design is not None and design.shape[0] != init.shape[0]):
            raise ValueError(f"design: expected {init.shape[0]} x {self.n_design} features, "
                             f"got {None if design is None else design.shape}")
        parts = [np.log1p(init) / self._scale, (init > 0).astype(float)]
        features = np.hstack(parts if design is None else [*parts, design])
        m = self.config.members
        f = torch.as_tensor(features, dtype=torch.float32, device=self.device).unsqueeze(0).expand(m, -1, -1)
        s0 = torch.as_tensor(init, dtype=torch.float32, device=self.device).unsqueeze(0)
        return f.contiguous(), s0

    def fit(self, substrates: list[str], init: np.ndarray, times: np.ndarray, ln_od: np.ndarray,
            concentrations: np.ndarray | None = None, design: np.ndarray | None = None) -> DynamicModel:
        """Train on runs: initial concentrations (runs x substrates, mM), common times (h), ln OD (runs x T).

        `concentrations` (runs x T x substrates, mM, NaN where not measured), when given, adds the measured
        substrate courses to the loss: they pin the yields, which ln OD alone leaves to the plateau.
        `design` (runs x features), when given, is read by the encoder next to the composition, so two designs
        on one medium get their own kinetics (`services/predictor/dynamic_design.py` builds the features).
        """
        if init.shape[0] != ln_od.shape[0] or ln_od.shape[1] != len(times):
            raise ValueError(f"shapes disagree: init {init.shape}, ln_od {ln_od.shape}, times {len(times)}")
        if concentrations is not None and concentrations.shape != (*ln_od.shape, init.shape[1]):
            raise ValueError(f"concentrations: expected shape {(*ln_od.shape, init.shape[1])}, "
                             f"got {concentrations.shape}")
        cfg = self.config
        torch.manual_seed(cfg.seed)
        self.substrates = list(substrates)
        self._scale = float(max(np.log1p(init).max(), 1e-6))
        self.n_design = 0 if design is None else int(design.shape[1])
        self.net = self._network(init.shape[1])
        features, s0 = self._inputs(init, design)
        y = torch.as_tensor(ln_od, dtype=torch.float32, device=self.device).unsqueeze(0)
        mask = torch.isfinite(y).float()
        y = torch.nan_to_num(y)
        train_w, val_w = self._holdout_weights(init.shape[0])
        if cfg.curve_weighting == "r2":
            spread = torch.as_tensor(self._curve_spread(ln_od), dtype=torch.float32, device=self.device)
            train_w = train_w / spread.reshape(1, -1, 1)
        elif cfg.curve_weighting != "points":
            raise ValueError(f"curve_weighting: expected 'points' or 'r2', got {cfg.curve_weighting!r}")
        conc_loss = self._concentration_loss(concentrations)
        dt = torch.as_tensor(np.diff(times), dtype=torch.float32, device=self.device)
        slope_mask = mask[..., 1:] * mask[..., :-1]
        slope_y = torch.diff(y, dim=-1) / dt

        def per_member(pred: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
            w = mask * weights
            loss = ((pred - y) ** 2 * w).sum((1, 2)) / w.sum((1, 2)).clamp(min=1)
            if cfg.slope_weight > 0:
                ws = slope_mask * weights
                sq = (torch.diff(pred, dim=-1) / dt - slope_y) ** 2
                loss = loss + cfg.slope_weight * (sq * ws).sum((1, 2)) / ws.sum((1, 2)).clamp(min=1)
            return loss

        opt = torch.optim.AdamW(self.net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=cfg.lr, total_steps=cfg.epochs)
        select = val_w is not None and cfg.select_epoch
        best = torch.full((cfg.members,), float("inf"), device=self.device)
        best_state = {k: v.detach().clone() for k, v in self.net.state_dict().items()}
        self.net.train()
        for epoch in range(cfg.epochs):
            opt.zero_grad()
            out = self._simulate(self.net(features), s0, times)
            loss_m = per_member(out["ln_x"], train_w)
            if val_w is not None and select and (cfg.dropout == 0 or epoch % cfg.eval_every == 0):
                with torch.no_grad():
                    pred = out["ln_x"] if cfg.dropout == 0 else self._eval_pass(features, s0, times)
                    self._keep_best(per_member(pred.detach(), val_w), best, best_state)
            loss = loss_m.mean()
            if conc_loss is not None:
                loss = loss + cfg.concentration_weight * conc_loss(out["s"])
            loss = loss + self._extra_loss(out, train_w)
            loss.backward()
            norm = nn.utils.clip_grad_norm_(self.net.parameters(), 5.0)
            if torch.isfinite(norm):  # a rare overflowing step is skipped, as AMP's GradScaler does
                opt.step()
            sched.step()
        if val_w is not None and select:
            with torch.no_grad():
                self._keep_best(per_member(self._eval_pass(features, s0, times), val_w), best, best_state)
            self.net.load_state_dict(best_state)
        self.net.eval()
        fitted = self.predict(init, times, design)
        resid = np.where(np.isfinite(ln_od), ln_od - fitted.mean, np.nan)
        self.residual_var = float(np.nanmean(resid ** 2))
        if val_w is not None:
            self.residual_var = max(self.residual_var, self._held_out_var(fitted, ln_od, val_w))
        return self

    @staticmethod
    def _held_out_var(fitted: CurvePrediction, ln_od: np.ndarray, val_w: torch.Tensor) -> float:
        """The error variance of the ensemble mean out of sample, from each member on the runs it held out.

        A member's squared error is the ensemble mean's plus the members' spread, so the spread is taken off:
        the band's variance (spread + this) is then the members' held-out mean squared error.
        """
        held = (val_w[..., 0].cpu().numpy() > 0)[..., None] & np.isfinite(ln_od)[None]
        err = (fitted.members - np.nan_to_num(ln_od)[None]) ** 2
        spread = np.broadcast_to(fitted.members.var(0), err.shape)
        return float(err[held].mean() - spread[held].mean()) if held.any() else 0.0

    @staticmethod
    def _curve_spread(ln_od: np.ndarray) -> np.ndarray:
        """Per curve: its sum of squares around its mean over the mean of that (floored at 5% of the mean)."""
        sst = np.nansum((ln_od - np.nanmean(ln_od, axis=1, keepdims=True)) ** 2, axis=1)
        mean = float(sst.mean()) if np.isfinite(sst).all() and sst.mean() > 0 else 1.0
        return np.maximum(sst / mean, 0.05)

    def _network(self, n_substrates: int) -> _Kinetics:
        cfg = self.config
        return _Kinetics(cfg.members, 2 * n_substrates + self.n_design, n_substrates, cfg.hidden, cfg.dropout,
                         cfg.parametrisation, cfg.span, self._n_extra()).to(self.device)

    def _n_extra(self) -> int:
        """Encoder outputs beyond the batch kinetics (a subclass's own terms read `p["extra"]`)."""
        return 0

    def _simulate(self, p: dict[str, torch.Tensor], s0: torch.Tensor, times: np.ndarray) -> dict[str, torch.Tensor]:
        """The trajectories of one set of kinetics (`integrate`; a subclass adds its own states)."""
        return integrate(p, s0, times)

    def _extra_loss(self, out: dict[str, torch.Tensor], weights: torch.Tensor) -> torch.Tensor | float:
        """A subclass's loss on its own states (members' training weights `weights`, members x runs x 1)."""
        return 0.0

    def _holdout_weights(self, runs: int) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Per member (members x runs x 1): the runs it trains on and those it holds out to pick its epoch."""
        cfg = self.config
        ones = torch.ones(cfg.members, runs, 1, device=self.device)
        n_val = round(cfg.holdout * runs)
        if n_val < 1 or n_val >= runs:
            return ones, None
        rng = np.random.default_rng(cfg.seed)
        val = np.zeros((cfg.members, runs, 1), dtype=np.float32)
        for m in range(cfg.members):
            val[m, rng.choice(runs, n_val, replace=False)] = 1.0
        val_t = torch.as_tensor(val, device=self.device)
        return ones - val_t, val_t

    def _eval_pass(self, features: torch.Tensor, s0: torch.Tensor, times: np.ndarray) -> torch.Tensor:
        assert self.net is not None
        self.net.eval()
        pred = self._simulate(self.net(features), s0, times)["ln_x"]
        self.net.train()
        return pred

    def _keep_best(self, val_loss: torch.Tensor, best: torch.Tensor, best_state: dict[str, torch.Tensor]) -> None:
        """Copy the parameters of every member whose held-out loss improved (every parameter is per member)."""
        assert self.net is not None
        better = torch.isfinite(val_loss) & (val_loss < best)
        if not bool(better.any()):
            return
        best[better] = val_loss[better]
        for name, value in self.net.state_dict().items():
            best_state[name][better] = value.detach()[better]

    def _concentration_loss(self, concentrations: np.ndarray | None
                            ) -> Callable[[torch.Tensor], torch.Tensor] | None:
        if concentrations is None or not np.isfinite(concentrations).any():
            return None
        yc = torch.as_tensor(concentrations, dtype=torch.float32, device=self.device).unsqueeze(0)
        mc = torch.isfinite(yc)
        measured = np.where(np.isfinite(concentrations), np.abs(concentrations), 0.0)
        scale = measured.reshape(-1, concentrations.shape[-1]).max(0)
        scale_t = torch.as_tensor(scale, dtype=torch.float32, device=self.device).clamp(min=1.0)
        yc = torch.nan_to_num(yc)
        return lambda s: ((((s - yc) / scale_t) ** 2) * mc).sum() / mc.sum()

    def predict(self, init: np.ndarray, times: np.ndarray, design: np.ndarray | None = None) -> CurvePrediction:
        """Predicted ln OD curves for media (runs x substrates, mM; with the design features when fitted on
        them) at the given times (h)."""
        if self.net is None:
            raise RuntimeError("the dynamic model is not fitted")
        if init.shape[1] != len(self.substrates):
            raise ValueError(f"expected {len(self.substrates)} substrate columns, got {init.shape[1]}")
        features, s0 = self._inputs(init, design)
        with torch.no_grad():
            out = self._simulate(self.net(features), s0, np.asarray(times, dtype=float))
        members = out["ln_x"].cpu().numpy().astype(float)
        mean = members.mean(0)
        sd = np.sqrt(members.var(0) + self.residual_var)
        extras = {k: v.cpu().numpy().astype(float) for k, v in out.items() if k not in ("ln_x", "s")}
        return CurvePrediction(np.asarray(times, dtype=float), mean, sd, members, out["s"].mean(0).cpu().numpy(),
                               extras)
