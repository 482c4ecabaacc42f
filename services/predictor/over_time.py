"""A campaign model for an objective over time: the dynamic model predicts the objective, the steady-state one the rest.

For a campaign whose spec sets `objective.over_time` (a titre, yield or productivity at a harvest time), the
predictor trains, next to its steady-state model, a design-aware `dynamic` model with the objective's product
(`services/predictor/dynamic_products.py`) on the campaign's time courses: every accepted run sampled at the
spec's times, from its initial medium, with its design's knockouts and expression levels as encoder inputs.
`OverTimeModel` answers `rpc.predict` as the steady-state model does, except for the objective (the spec's
target): its mean and sd are the dynamic model's predicted titre, yield or productivity at harvest (ensemble
members' values; sd = their spread plus the product's residual variance), so the optimizer plans with it as with
any surrogate. Growth and every other output stay the steady-state model's. Campaigns without `over_time`
never build one.
"""

from __future__ import annotations

import io
import logging
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from schemas import CampaignSpec, Design, Measurement, OverTimeKind, OverTimeObjective
from services.predictor.deepmodel import DeepModel, PredictionResult
from services.predictor.dynamic import DynamicConfig
from services.predictor.dynamic_design import DesignEncoding
from services.predictor.dynamic_files import load_with_encoding, save
from services.predictor.dynamic_products import ProductDynamicModel
from services.predictor.errors import PredictorError

log = logging.getLogger(__name__)

MAGIC = b"fluxlab-over-time-v1\n"
"""First bytes of a stored OverTimeModel (a steady-state model file starts otherwise)."""

MIN_CURVES = 4
"""Fewest runs with the product's course the dynamic model trains on (fewer: the steady-state model alone)."""


class OverTimeModel:
    """The steady-state model with the objective replaced by the dynamic model's value over time."""

    def __init__(self, steady: DeepModel, dynamic: ProductDynamicModel, encoding: DesignEncoding,
                 spec: CampaignSpec) -> None:
        assert spec.objective.over_time is not None and spec.readout.time_course is not None
        self.steady, self.dynamic, self.encoding = steady, dynamic, encoding
        self.over: OverTimeObjective = spec.objective.over_time
        self.target = spec.objective.target
        self.medium = dict(spec.readout.time_course.initial_mM)
        self.spec_json = spec.model_dump_json()

    def __getattr__(self, name: str) -> Any:  # everything else (config, attributions' internals) is the steady one's
        if name == "steady":
            raise AttributeError(name)
        return getattr(self.steady, name)

    @property
    def announced_kind(self) -> str:
        """The model kind announced in ModelTrained."""
        return f"{self.steady.config.kind}+dynamic"

    def objective(self, designs: Sequence[Design]) -> tuple[np.ndarray, np.ndarray]:
        """Mean and sd of the objective over time per design (the dynamic model's ensemble)."""
        try:
            x = self.encoding.features(list(designs))
        except ValueError as exc:
            raise PredictorError("designs", str(exc)) from None
        init = np.array([[self.medium.get(s, 0.0) for s in self.dynamic.substrates]] * len(designs))
        harvest = np.array([self.over.harvest_h])
        pred = self.dynamic.predict(init, harvest, x)
        k = self.dynamic.products.index(self.over.metabolite)
        titre = pred.extras["products"][:, :, 0, k]  # members x designs
        residual = float(self.dynamic.product_residual_var[k])
        if self.over.kind == OverTimeKind.TITRE:
            values, scale = titre, 1.0
        elif self.over.kind == OverTimeKind.PRODUCTIVITY:
            values, scale = titre / self.over.harvest_h, 1.0 / self.over.harvest_h
        else:
            assert self.over.substrate is not None
            j = self.dynamic.substrates.index(self.over.substrate)
            s0 = init[:, j][None]
            consumed = np.maximum(s0 - pred.extras["s_members"][:, :, 0, j], 1e-3)
            values = titre / consumed
            scale = 1.0 / float(np.maximum(consumed.mean(), 1e-3))
        mean = values.mean(0)
        sd = np.sqrt(values.var(0) + residual * scale ** 2)
        return mean, sd

    def predict(self, designs: Sequence[Design], omics: Any = None) -> PredictionResult:
        """The steady-state model's predictions with the objective's column from the dynamic model."""
        base = self.steady.predict(designs, omics) if omics is not None else self.steady.predict(designs)
        mean, sd = self.objective(designs)
        names = list(base.names)
        if self.target not in names:
            names.append(self.target)
            base = PredictionResult(np.hstack([base.mean, np.zeros((len(designs), 1))]),
                                    np.hstack([base.sd, np.zeros((len(designs), 1))]), names,
                                    np.hstack([base.ensemble_sd, np.zeros((len(designs), 1))]), base.unseen)
        j = names.index(self.target)
        out_mean, out_sd, ens = base.mean.copy(), base.sd.copy(), base.ensemble_sd.copy()
        out_mean[:, j], out_sd[:, j], ens[:, j] = mean, sd, sd
        return PredictionResult(out_mean, out_sd, names, ens, base.unseen)

    def to_bytes(self) -> bytes:
        """MAGIC, then both models and the spec (torch.save of a dict of bytes)."""
        buffer = io.BytesIO()
        save(self.dynamic, buffer, None, self.encoding)
        out = io.BytesIO()
        torch.save({"steady": self.steady.to_bytes(), "dynamic": buffer.getvalue(), "spec": self.spec_json}, out)
        return MAGIC + out.getvalue()


def load_campaign_model(data: bytes) -> DeepModel | OverTimeModel:
    """A stored campaign model: an OverTimeModel (MAGIC) or a steady-state DeepModel."""
    if not data.startswith(MAGIC):
        return DeepModel.from_bytes(data)
    payload = torch.load(io.BytesIO(data[len(MAGIC):]), map_location="cpu", weights_only=False)
    dynamic, _, encoding = load_with_encoding(io.BytesIO(payload["dynamic"]))
    assert isinstance(dynamic, ProductDynamicModel)
    return OverTimeModel(DeepModel.from_bytes(payload["steady"]), dynamic, encoding,
                         CampaignSpec.model_validate_json(payload["spec"]))


def curves_of(spec: CampaignSpec, measurements: Sequence[Measurement]) -> dict[str, Any] | None:
    """The training arrays of the runs sampled at the spec's times with the product's course (None: too few)."""
    request, over = spec.readout.time_course, spec.objective.over_time
    assert request is not None and over is not None
    times = list(request.times_h)
    substrates = sorted(request.initial_mM)
    runs = [m for m in measurements if "ln_od" in m.time_courses and m.time_courses["ln_od"].times == times
            and over.metabolite in m.time_courses and m.time_courses[over.metabolite].times == times]
    if len(runs) < MIN_CURVES:
        return None

    def course(m: Measurement, name: str) -> list[float]:
        c = m.time_courses.get(name)
        return c.values if c is not None and c.times == times else [np.nan] * len(times)

    return {
        "designs": [m.design for m in runs], "times": np.asarray(times, dtype=float), "substrates": substrates,
        "init": np.array([[m.initial_concentrations.get(s, request.initial_mM[s]) for s in substrates] for m in runs]),
        "ln_od": np.array([course(m, "ln_od") for m in runs]),
        "product": np.array([course(m, over.metabolite) for m in runs])[..., None],
        "concentrations": np.stack([np.array([course(m, s) for m in runs]) for s in substrates], -1),
    }


def with_over_time(steady: DeepModel, spec: CampaignSpec, measurements: Sequence[Measurement],
                   config: DynamicConfig) -> tuple[DeepModel | OverTimeModel, dict[str, float]]:
    """Train the dynamic objective model on the campaign's curves and wrap; the steady model alone when too few."""
    if spec.objective.over_time is None or spec.readout.time_course is None:
        return steady, {}
    data = curves_of(spec, measurements)
    if data is None:
        log.info("%s: fewer than %d runs with the product's course: the steady-state model predicts the objective",
                 spec.id, MIN_CURVES)
        return steady, {"dynamic_objective": 0.0}
    encoding = DesignEncoding.of(data["designs"], spec)
    x = encoding.features(data["designs"])
    started = time.perf_counter()
    dynamic = ProductDynamicModel(config, [spec.objective.over_time.metabolite])
    dynamic.fit_with_products(data["substrates"], data["init"], data["times"], data["ln_od"], data["product"], x,
                              data["concentrations"])
    model = OverTimeModel(steady, dynamic, encoding, spec)
    return model, {"dynamic_objective": 1.0, "dynamic_n_curves": float(len(data["designs"])),
                   "dynamic_fit_s": time.perf_counter() - started}
