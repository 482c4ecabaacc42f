"""Model `dynamic` with product formation: the batch integrator plus one state per tracked product.

Luedeking-Piret kinetics for every product P_k (mM), on top of the batch mass balances of
`services/predictor/dynamic.py` (which it does not feed back into):

    dP_k/dt = a(t) * (alpha_k * mu_gross + beta_k) * X  -  v_k * P_k / (K_P + P_k) * (1 - sugar) * X
    sugar   = sum_i S_i / (sum_i S_i + K_S)                                   (re-uptake once the medium is spent)

with alpha_k (mM per OD grown, growth-associated), beta_k (mM per OD per hour, non-growth-associated) and v_k
(mM per OD per hour: the cell taking the product up again once its sugar is gone, as E. coli does with
succinate) learned global constants, each times a bounded factor e^(±PRODUCT_SPAN) from the encoder, as the
other kinetics are (K_P = 0.5 mM, K_S = 0.5 mM fixed); with design features
(`services/predictor/dynamic_design.py`) the encoder reads the design, so each design gets its own alpha, beta
and v (and its own growth kinetics). PRODUCT_SPAN is wider than the growth
kinetics' span: a design that secretes nothing and one that secretes much differ by orders of magnitude.
Trained on the measured product courses (each scaled by its largest measured value) next to ln OD. Bands:
ensemble spread plus a residual variance per product, from each member's error on the runs it held out
(never below the training residuals), as for ln OD. Departure: the product taken up again feeds no growth.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from services.predictor.dynamic import MIN_DT_H, DynamicConfig, DynamicModel, _Kinetics, _rates

PRODUCT_SPAN = 3.0
"""Largest log-factor the encoder moves a product's alpha, beta or v away from its global constant."""

PRODUCT_TERMS = 3
"""Encoder outputs per product: alpha, beta, v."""

K_PRODUCT_MM, K_SUGAR_MM = 0.5, 0.5
"""Half-saturation of the product's re-uptake, and the medium level below which it switches on (mM)."""


class ProductDynamicModel(DynamicModel):
    """The dynamic model with Luedeking-Piret product states (fit on ln OD and product courses)."""

    def __init__(self, config: DynamicConfig | None = None, products: Sequence[str] = (),
                 product_weight: float = 20.0) -> None:
        super().__init__(config)
        self.products = list(products)
        self.product_weight = product_weight
        self.product_residual_var = np.zeros(len(self.products))
        self._courses: torch.Tensor | None = None
        self._scale_p: torch.Tensor | None = None

    def _n_extra(self) -> int:
        return PRODUCT_TERMS * len(self.products)

    def _network(self, n_substrates: int) -> _Kinetics:
        net = super()._network(n_substrates)
        shape = (self.config.members, 1, len(self.products))
        net.log_alpha = nn.Parameter(torch.full(shape, float(np.log(0.1)), device=self.device))
        net.log_beta = nn.Parameter(torch.full(shape, float(np.log(1e-3)), device=self.device))
        net.log_uptake = nn.Parameter(torch.full(shape, float(np.log(0.1)), device=self.device))
        return net

    def _simulate(self, p: dict[str, torch.Tensor], s0: torch.Tensor, times: np.ndarray) -> dict[str, torch.Tensor]:
        assert self.net is not None
        n_p = len(self.products)
        members, runs = p["vmax"].shape[:2]
        ln_x = p["ln_x0"].expand(members, runs, 1)
        s = s0.expand(members, runs, s0.shape[-1])
        r = p["r0"].expand(members, runs, 1)
        product = torch.zeros(members, runs, n_p, device=s0.device)
        if n_p:
            f = PRODUCT_SPAN * torch.tanh(p["extra"])
            log_alpha, log_beta = self.net.get_parameter("log_alpha"), self.net.get_parameter("log_beta")
            alpha = torch.exp(log_alpha + f[..., :n_p])
            beta = torch.exp(log_beta + f[..., n_p:2 * n_p])
            uptake = torch.exp(self.net.get_parameter("log_uptake") + f[..., 2 * n_p:])
        t, out_x, out_s, out_p = 0.0, [], [], []
        for target in times:
            steps = max(1, int(np.ceil((float(target) - t) / MIN_DT_H)))
            dt = (float(target) - t) / steps
            for _ in range(steps):
                d = _rates(p, t + 0.5 * dt, ln_x, s, r)
                if n_p:
                    active = torch.sigmoid((t + 0.5 * dt - p["lag"]) / p["width"])
                    x = ln_x.clamp(max=2.0).exp()
                    total = s.sum(-1, keepdim=True)
                    spent = 1.0 - total / (total + K_SUGAR_MM)
                    back = uptake * product / (K_PRODUCT_MM + product) * spent * x
                    made = alpha * (-d[2]) + beta * active * x  # -d[2] = gross growth * X
                    product = (product + dt * (made - back)).clamp(min=0.0)
                ln_x, s, r = ln_x + dt * d[0], (s + dt * d[1]).clamp(min=0.0), (r + dt * d[2]).clamp(min=0.0)
                t += dt
            out_x.append(ln_x[..., 0])
            out_s.append(s)
            out_p.append(product)
        s_all = torch.stack(out_s, -2)
        return {"ln_x": torch.stack(out_x, -1), "s": s_all, "products": torch.stack(out_p, -2), "s_members": s_all}

    def fit_with_products(self, substrates: list[str], init: np.ndarray, times: np.ndarray, ln_od: np.ndarray,
                          products: np.ndarray, design: np.ndarray | None = None,
                          concentrations: np.ndarray | None = None) -> ProductDynamicModel:
        """Fit on ln OD and the product courses (runs x T x products, mM, NaN where not measured)."""
        if products.shape != (*ln_od.shape, len(self.products)):
            raise ValueError(f"products: expected shape {(*ln_od.shape, len(self.products))}, got {products.shape}")
        measured = np.where(np.isfinite(products), np.abs(products), 0.0).reshape(-1, len(self.products)).max(0)
        self._courses = torch.as_tensor(products, dtype=torch.float32, device=self.device).unsqueeze(0)
        self._scale_p = torch.as_tensor(np.maximum(measured, 0.1), dtype=torch.float32, device=self.device)
        try:
            self.fit(substrates, init, times, ln_od, concentrations, design)
        finally:
            self._courses = None
        fitted = self.predict(init, times, design)
        self.product_residual_var = self._product_var(fitted.extras["products"], products, init.shape[0])
        return self

    def _extra_loss(self, out: dict[str, torch.Tensor], weights: torch.Tensor) -> torch.Tensor | float:
        if self._courses is None or self._scale_p is None or not self.products:
            return 0.0
        mask = torch.isfinite(self._courses).float() * weights.unsqueeze(-1)
        err = ((out["products"] - torch.nan_to_num(self._courses)) / self._scale_p) ** 2
        return self.product_weight * (err * mask).sum() / mask.sum().clamp(min=1)

    def _product_var(self, members: np.ndarray, measured: np.ndarray, runs: int) -> np.ndarray:
        """Per product: the members' held-out squared error less their spread, floored at the training residual."""
        mean = members.mean(0)
        finite = np.isfinite(measured)
        train = np.array([np.mean((mean[..., k] - measured[..., k])[finite[..., k]] ** 2)
                          if finite[..., k].any() else 0.0 for k in range(len(self.products))])
        _, val_w = self._holdout_weights(runs)
        if val_w is None:
            return train
        held = (val_w[..., 0].cpu().numpy() > 0)[..., None, None] & finite[None]
        err = (members - np.nan_to_num(measured)[None]) ** 2
        spread = np.broadcast_to(members.var(0), err.shape)
        out = train.copy()
        for k in range(len(self.products)):
            h = held[..., k]
            if h.any():
                out[k] = max(train[k], float(err[..., k][h].mean() - spread[..., k][h].mean()))
        return out

    def predict_products(self, init: np.ndarray, times: np.ndarray, design: np.ndarray | None = None
                         ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Product courses: mean, sd (runs x T x products, mM) and the members' (members x runs x T x products)."""
        members = self.predict(init, times, design).extras["products"]
        return members.mean(0), np.sqrt(members.var(0) + self.product_residual_var), members
