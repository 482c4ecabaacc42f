"""DeepModel: the predictor's Python API (train, predict, evaluate, save/load), usable without NATS."""

from __future__ import annotations

import dataclasses
import io
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from schemas.campaign import SearchSpace
from schemas.design import Design
from schemas.measurement import Measurement
from services.predictor import gnn
from services.predictor.calibration import fit_calibration, held_out_batch, validation_split
from services.predictor.config import DeepModelConfig
from services.predictor.ensemble import (
    Calibration,
    bootstrap_weights,
    mean_and_sd,
    member_outputs,
    typical_noise_sd,
)
from services.predictor.errors import PredictorError
from services.predictor.evaluation import held_out_metrics
from services.predictor.features import (
    FeatureSpace,
    OmicsList,
    Standardizer,
    omics_from_measurements,
    targets_from_measurements,
)
from services.predictor.models import Batch, build_network, prior_directions
from services.predictor.omics_dropout import absent_copies
from services.predictor.outside import without_outside
from services.predictor.persist import check_format, payload_of, restore
from services.predictor.prior import (
    MechanisticPrior,
    load_organism_model,
    null_basis,
    shared_prior,
)
from services.predictor.prior_settings import fit_prior_settings
from services.predictor.training import TrainSettings, fit_members
from services.predictor.unseen import combine, predict_stand_ins, stand_ins

Inputs = Sequence[Design] | np.ndarray


def _f32(values: Any) -> torch.Tensor:
    return torch.as_tensor(np.asarray(values), dtype=torch.float32)


@dataclass
class PredictionResult:
    """Predicted mean and calibrated sd per design and output (target units)."""

    mean: np.ndarray
    sd: np.ndarray
    names: list[str]
    ensemble_sd: np.ndarray = field(repr=False)
    unseen: list[list[str]] = field(default_factory=list)
    """Per design: its ids no training design had (`ko:<id>`, `expr:<gene>`, `medium:<exchange>`)."""

    def row(self, i: int) -> dict[str, tuple[float, float]]:
        """Output name -> (mean, sd) of design i."""
        return {n: (float(self.mean[i, j]), float(self.sd[i, j])) for j, n in enumerate(self.names)}


class DeepModel:
    """Deep-ensemble predictor of fluxes, growth and products from designs (+ omics).

    `kind`: 'hybrid' (mechanistic prior + residual, mass-balance projection), 'mlp' (baseline), 'fusion' or
    'gnn' (message passing over the organism's reaction–metabolite graph, `services/predictor/gnn.py`).
    """

    def __init__(self, kind: str = "hybrid", organism: str | None = "textbook", ensemble: int = 5,
                 device: str = "auto", search_space: SearchSpace | None = None, **options: Any) -> None:
        if kind not in ("hybrid", "mlp", "fusion", "gnn"):
            raise PredictorError("kind", f"unknown model kind '{kind}' (choose hybrid, mlp, fusion or gnn)")
        if kind in ("hybrid", "gnn") and organism is None:
            raise PredictorError("organism", f"the {kind} model needs an organism model")
        if options.get("hidden") is not None:
            options["hidden"] = tuple(options["hidden"])
        self.config = DeepModelConfig(kind=kind, organism=organism, ensemble=ensemble, **options)
        self.device = torch.device("cuda" if device == "auto" and torch.cuda.is_available() else
                                   ("cpu" if device == "auto" else device))
        self.search_space = search_space
        self.features: FeatureSpace | None = None
        self.x_scaler: Standardizer | None = None
        self.y_scaler: Standardizer | None = None
        self.names: list[str] = []
        self.net: nn.Module | None = None
        self.calibration: Calibration | None = None
        self.net_dims: dict[str, Any] = {}
        self._organism: Any = None
        self._prior: MechanisticPrior | None = None
        self.reference: np.ndarray | None = None
        """Wild-type flux reference of the MOMA prior anchored to measured wild-type runs (None: pFBA's)."""
        self.capacities: dict[str, float] = {}
        """Reaction id -> enzyme capacity (mmol/gDW/h) of the MOMA prior's caps, estimated from measurements."""

    # ---- organism and inputs -------------------------------------------------------------------
    @property
    def organism(self) -> Any:
        """The organism model (loaded on first use), or None."""
        if self._organism is None and self.config.organism is not None:
            self._organism = load_organism_model(self.config.organism)
        return self._organism

    @property
    def prior(self) -> MechanisticPrior:
        """The mechanistic prior (hybrid only)."""
        if self._prior is None:
            self._prior = shared_prior(self.organism, self.config.base_medium, self.config.prior, self.reference,
                                       self.config.capacity_headroom, self.capacities)
        return self._prior

    def batch(self, X: Inputs, omics: OmicsList | None = None, unseen: list[list[str]] | None = None) -> Batch:
        """Encode inputs into a (standardised) tensor batch on the model's device.

        Ids valid for the organism model (any id when the model has none) but absent from the training
        designs are left out of the features and listed per design in `unseen` when given.
        """
        assert self.features is not None and self.x_scaler is not None, "model is not trained"
        designs: list[Design] | None = None
        if isinstance(X, np.ndarray):
            Xf, mask = self.features.encode_matrix(X)
        else:
            designs = list(X)
            Xf, mask = self.features.encode(designs, omics, self.organism, [] if unseen is None else unseen)
        xz = np.nan_to_num(self.x_scaler.transform(Xf))
        batch = Batch(_f32(xz), torch.as_tensor(mask, dtype=torch.bool))
        if self.config.kind == "gnn":
            if designs is None:
                raise PredictorError("X", "the gnn model needs designs (it maps them onto the organism's graph)")
            return gnn.graph_batch(self, batch, designs, omics).to(self.device)
        if self.config.kind == "hybrid":
            if designs is None:
                raise PredictorError("X", "the hybrid model needs designs (it runs the organism model on them)")
            p = self.prior.compute(self.network_designs(designs))
            batch = dataclasses.replace(batch, prior=_f32(p.flux), feasible=_f32(p.feasible),
                                        lb=_f32(p.lb), ub=_f32(p.ub))
        return batch.to(self.device)

    # ---- training -----------------------------------------------------------------------------
    def train(self, X: Inputs, y: np.ndarray, *, names: Sequence[str] | None = None, sd: np.ndarray | None = None,
              omics: OmicsList | None = None, warm_start: bool = False,
              groups: Sequence[str] | None = None) -> dict[str, float]:
        """Fit the ensemble on targets `y` (n x outputs, NaN = not measured); returns a training report.

        `groups` (a label per row, e.g. the knockout set): calibrate on whole held-out groups, then (config
        `group_refit`) train again on all rows with the random split, keeping that calibration (`calibration.py`).
        """
        if groups is None or warm_start or not (self.config.group_refit and self.config.calibrate):
            return self._fit(X, y, names, sd, omics, warm_start, groups)
        started = time.perf_counter()
        self._fit(X, y, names, sd, omics, False, groups)
        grouped = self.calibration
        report = self._fit(X, y, names, sd, omics, False, None)
        if grouped is not None and grouped.n_points:
            self.calibration = grouped
        return {**report, "train_s": time.perf_counter() - started}

    def _fit(self, X: Inputs, y: np.ndarray, names: Sequence[str] | None, sd: np.ndarray | None,
             omics: OmicsList | None, warm_start: bool, groups: Sequence[str] | None) -> dict[str, float]:
        started = time.perf_counter()
        y = np.asarray(y, dtype=float)
        names = list(names) if names is not None else [f"y{j}" for j in range(y.shape[1] if y.ndim == 2 else 0)]
        self._check_targets(X, y, names, warm_start)
        if not warm_start:
            self._fit_spaces(X, y, names, omics)
            self.calibrate_prior(X, y)
        rng = np.random.default_rng(self.config.seed)
        val_idx, tr_idx = validation_split(len(y), self.config.val_fraction, rng, groups)
        n_val, n_train, n_rows = len(val_idx), len(tr_idx), len(y)
        designs = None if isinstance(X, np.ndarray) else list(X)
        assert self.features is not None
        aug = absent_copies(designs, omics, self.features.omics, tr_idx, val_idx) if self.config.omics_dropout \
            else None
        if aug is not None:  # rows with omics train twice: with them and marked absent (`omics_dropout.py`)
            designs, omics, y = aug.designs, aug.omics, y[aug.source]
            tr_idx, es_idx, cal_idx = aug.train, aug.val, aug.val_absent
        else:
            es_idx = cal_idx = val_idx
        batch = self.batch(X if designs is None else designs, omics)
        assert self.y_scaler is not None
        yz = torch.as_tensor(self.y_scaler.transform(y), dtype=torch.float32, device=self.device)
        held = held_out_batch(self, batch, designs, omics, tr_idx, cal_idx) if n_val and groups is not None else None
        if held is not None:
            es_idx = cal_idx
        if not warm_start:
            self.net = self._new_net(batch.select(torch.as_tensor(tr_idx, device=self.device)))
            if self.config.kind == "hybrid":
                self._init_hybrid_offset(batch, yz)
            elif self.config.kind == "gnn":
                gnn.init_offset(self, batch, yz)
        assert self.net is not None
        lr = self.config.lr or (3e-3 if self.config.kind == "fusion" else 1e-2)
        patience = self.config.patience or (25 if self.config.kind == "hybrid" else 40)
        settings = TrainSettings(self.config.epochs, patience, lr * (0.3 if warm_start else 1.0),
                                 self.config.weight_decay, self.config.batch_size)
        weights = bootstrap_weights(self.config.ensemble, len(tr_idx), rng, self.config.bootstrap)
        tr, va = (torch.as_tensor(i, device=self.device) for i in (tr_idx, es_idx))
        gen = torch.Generator().manual_seed(self.config.seed)
        val_batch = held.batch if held is not None else batch.select(va)
        epochs = fit_members(self.net, self.config.ensemble, batch.select(tr), yz[tr],
                             torch.as_tensor(weights, dtype=torch.float32, device=self.device),
                             val_batch if n_val else None, yz[va] if n_val else None, settings, gen)
        noise = typical_noise_sd(sd, len(names))
        cal_batch = held or (val_batch if aug is None else batch.select(torch.as_tensor(cal_idx, device=self.device)))
        self.calibration = (fit_calibration(self, cal_batch, y[cal_idx], noise, groups)
                            if n_val and self.config.calibrate else Calibration.identity(len(names), noise))
        return {"n_train": float(n_train), "n_val": float(n_val), "epochs": float(epochs.float().mean()),
                "omics_rows": float(0 if aug is None else len(aug.source) - n_rows),
                "train_s": time.perf_counter() - started}

    def calibrate_prior(self, X: Inputs, y: np.ndarray) -> None:
        """Hybrid with the MOMA prior: fit its wild-type reference and enzyme capacities to measurements
        (targets `y`, columns `self.names`; `prior_settings.fit_prior_settings`). Both are saved with the model."""
        fit_prior_settings(self, X, y)

    def network_designs(self, designs: Sequence[Design]) -> list[Design]:
        """The designs as the organism model sees them: ids outside it (`config.outside_ids`) removed."""
        outside = self.config.outside_ids or ()
        return [without_outside(d, outside) for d in designs]

    def _check_targets(self, X: Inputs, y: np.ndarray, names: list[str], warm_start: bool) -> None:
        n = len(X)
        if y.ndim != 2 or y.shape[0] != n:
            raise PredictorError("y", f"expected a matrix with {n} rows (one per design), got shape {y.shape}")
        if len(names) != y.shape[1]:
            raise PredictorError("names", f"{len(names)} names for {y.shape[1]} target columns")
        if np.isinf(y).any():
            r, c = np.argwhere(np.isinf(y))[0]
            raise PredictorError(f"y[{r}, {c}]", "infinite target (use NaN for not measured)")
        if n == 0 or np.isnan(y).all():
            raise PredictorError("y", "no measured targets to train on")
        if warm_start and names != self.names:
            raise PredictorError("names", f"fine-tuning needs the same outputs as before: {self.names}")

    def _fit_spaces(self, X: Inputs, y: np.ndarray, names: list[str], omics: OmicsList | None) -> None:
        if isinstance(X, np.ndarray):
            if self.config.kind in ("hybrid", "gnn"):
                raise PredictorError("X", f"the {self.config.kind} model needs designs (it uses the organism model)")
            self.features = FeatureSpace.for_matrix(np.asarray(X).shape[1])
            Xf = self.features.encode_matrix(X)[0]
        else:
            self.features = FeatureSpace.fit(list(X), omics, self.search_space, self.organism,
                                             self.config.outside_ids or ())
            Xf = self.features.encode(list(X), omics, self.organism)[0]
        self.x_scaler = Standardizer.fit(Xf)
        self.y_scaler = Standardizer.fit(y)
        self.names = names

    def _net_dims(self) -> dict[str, Any]:
        assert self.features is not None
        cfg = self.config
        if cfg.kind == "gnn":
            return gnn.net_dims(self)
        dims: dict[str, Any] = {"members": cfg.ensemble, "d_out": len(self.names)}
        hybrid = cfg.kind == "hybrid"
        hidden = cfg.hidden or ((128, 128) if hybrid else (64, 64))
        dropout = cfg.dropout if cfg.dropout is not None else (0.2 if hybrid else 0.0)
        n_blocks = len(self.features.omics)
        if cfg.kind == "mlp":
            dims.update(d_in=self.features.n_columns, n_blocks=n_blocks, hidden=hidden,
                        activation=cfg.activation, dropout=dropout)
        elif cfg.kind == "fusion":
            slices = {k: (s.start, s.stop) for k, s in self.features.modality_slices().items()}
            dims.update(slices=slices, omics_blocks=list(self.features.omics), d_model=cfg.d_model,
                        heads=cfg.heads, layers=cfg.layers, dropout=dropout)
        else:
            del dims["d_out"]
            dims.update(d_in=self.features.n_columns, n_blocks=n_blocks, hidden=hidden,
                        activation=cfg.activation, dropout=dropout, iterations=self._projection_iterations(),
                        flux_index=[self.prior.flux_index(n) for n in self.names])
        return dims

    def _init_hybrid_offset(self, batch: Batch, yz: torch.Tensor) -> None:
        """Start the hybrid's residual at the mean (standardised) gap between measurements and the prior."""
        assert self.net is not None and batch.prior is not None and self.y_scaler is not None
        idx = [self.prior.flux_index(n) for n in self.names]
        flux_cols = [j for j, i in enumerate(idx) if i >= 0]
        if not flux_cols:
            return
        mean = torch.as_tensor(self.y_scaler.mean, dtype=torch.float32, device=self.device)
        sd = torch.as_tensor(self.y_scaler.sd, dtype=torch.float32, device=self.device)
        prior_z = (batch.prior[:, [idx[j] for j in flux_cols]] - mean[flux_cols]) / sd[flux_cols]
        gap = torch.nan_to_num(torch.nanmean(yz[:, flux_cols] - prior_z, dim=0))
        self.net.init_offset(gap)  # type: ignore[operator]

    def _projection_iterations(self) -> int:
        """Bounds rounds (clip, then back onto S v = 0) of the hybrid, in training and prediction alike.

        Default 0: predictions are exactly mass balanced (v = prior + N z) but flux bounds are not
        enforced; on the benchmark each clipping round cost accuracy (see docs/predictor.md).
        """
        return self.config.projection_iterations or 0

    def _new_net(self, train: Batch | None) -> nn.Module:
        """A freshly initialised (seeded) network; `train` supplies the prior's scaling (hybrid)."""
        if train is not None:
            self.net_dims = self._net_dims()
        torch.manual_seed(self.config.seed)
        kw = dict(self.net_dims)
        if self.config.kind in ("hybrid", "gnn"):
            assert self.y_scaler is not None
            n_rxn = len(self.organism.reaction_ids)
            if train is not None and train.prior is not None:
                ps = Standardizer.fit(train.prior.cpu().numpy())
                prior_mean, prior_sd = _f32(ps.mean), _f32(np.maximum(ps.sd, 0.1))
            else:
                prior_mean, prior_sd = torch.zeros(n_rxn), torch.ones(n_rxn)
            kw.update(null_basis=_f32(null_basis(self.organism)), y_mean=_f32(self.y_scaler.mean),
                      y_sd=_f32(self.y_scaler.sd), prior_mean=prior_mean, prior_sd=prior_sd)
            if self.config.kind == "hybrid" and train is not None and train.prior is not None:
                basis = prior_directions(((train.prior.cpu() - prior_mean) / prior_sd).clamp(-5.0, 5.0))
                self.net_dims["prior_rank"] = None if basis is None else basis.shape[1]
                kw.update(prior_rank=self.net_dims["prior_rank"], prior_basis=basis)
        if self.config.kind == "gnn":
            kw.update(graph=gnn.build_graph(self.organism))
        return build_network(self.config.kind, **kw).to(self.device)

    def train_on_measurements(self, measurements: Sequence[Measurement], warm_start: bool = False,
                              use_omics: bool = False) -> dict[str, float]:
        """Train on lab measurements (targets: growth and every measured flux/product/titer/value).

        Omics are inputs only with `use_omics` (they exist only after a run, so a model that uses them
        predicts new, unmeasured designs with those modalities marked absent; with config `omics_dropout`
        every row with omics also trains with them marked absent, so it learns that case too). Rows without
        omics and rows with them can be mixed, also when fine-tuning (`warm_start`): blocks the model was
        first trained without are ignored then.
        """
        table = targets_from_measurements(measurements, self.names if warm_start else None)
        omics = omics_from_measurements(measurements) if use_omics else None
        return self.train([m.design for m in measurements], table.y, names=table.names, sd=table.sd,
                          omics=omics if omics and any(omics) else None, warm_start=warm_start)

    def fine_tune(self, X: Inputs, y: np.ndarray, *, sd: np.ndarray | None = None,
                  omics: OmicsList | None = None) -> dict[str, float]:
        """Continue training the current (e.g. pretrained or earlier campaign's) weights on new data."""
        if self.net is None:
            raise PredictorError("model", "fine_tune needs a trained or pretrained model")
        return self.train(X, y, names=self.names, sd=sd, omics=omics, warm_start=True)

    # ---- prediction ---------------------------------------------------------------------------
    def _raw_predict(self, batch: Batch) -> tuple[np.ndarray, np.ndarray]:
        assert self.y_scaler is not None
        assert self.net is not None
        mean_z, sd_z = mean_and_sd(member_outputs(self.net, batch))
        return self.y_scaler.inverse(mean_z), sd_z * self.y_scaler.sd

    def predict(self, X: Inputs, omics: OmicsList | None = None) -> PredictionResult:
        """Ensemble mean and calibrated sd per design and output."""
        if self.net is None or self.calibration is None:
            raise PredictorError("model", "the model is not trained")
        unseen: list[list[str]] = []
        batch = self.batch(X, omics, unseen)
        if self.config.kind == "gnn":  # the graph holds every id of the organism model: none is unseen
            unseen = [[] for _ in unseen]
        if not any(unseen):
            mean, ens_sd = self._raw_predict(batch)
            return PredictionResult(mean, self.calibration.predictive_sd(ens_sd), list(self.names), ens_sd, unseen)
        assert self.features is not None and self.x_scaler is not None and self.y_scaler is not None
        subs = stand_ins(self.features, self.x_scaler, batch.x.cpu().numpy(), list(X), unseen, seed=self.config.seed)
        raw = predict_stand_ins(self._raw_predict, batch, subs.matrices)
        mean, ens_sd, between = combine([r[0] for r in raw], [r[1] for r in raw])
        extra = between + np.outer(subs.no_pool, self.y_scaler.sd**2)
        sd = self.calibration.predictive_sd(ens_sd, extra)
        return PredictionResult(mean, sd, list(self.names), ens_sd, unseen)

    @torch.no_grad()
    def full_flux(self, designs: Sequence[Design]) -> np.ndarray:
        """Hybrid and gnn: ensemble-mean full flux vector per design (mmol/gDW/h), reactions in organism order."""
        if self.config.kind not in ("hybrid", "gnn"):
            raise PredictorError("kind", "full flux vectors come from the hybrid and gnn models only")
        assert self.net is not None
        self.net.eval()
        return self.net.full_flux(self.batch(designs)).double().mean(0).cpu().numpy()  # type: ignore[operator]

    def evaluate(self, X: Inputs, y: np.ndarray, *, sd: np.ndarray | None = None,
                 omics: OmicsList | None = None) -> dict[str, float]:
        """Held-out metrics: R² (per output and overall), MSE, 68/95 % coverage, chi², mass balance."""
        return held_out_metrics(self, X, y, sd=sd, omics=omics)

    # ---- persistence --------------------------------------------------------------------------
    def to_bytes(self) -> bytes:
        """Serialise configuration, feature space, scalers, calibration and weights."""
        payload = payload_of(self)
        buf = io.BytesIO()
        torch.save(payload, buf)
        return buf.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes, device: str = "auto") -> DeepModel:
        """Inverse of `to_bytes`."""
        payload = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
        cfg = check_format(payload)
        return restore(cls(cfg.pop("kind"), cfg.pop("organism"), cfg.pop("ensemble"), device=device, **cfg), payload)

    def save(self, path: str | Path) -> None:
        """Write the model to a file."""
        Path(path).write_bytes(self.to_bytes())

    @classmethod
    def load(cls, path: str | Path, device: str = "auto") -> DeepModel:
        """Read a model written by `save`."""
        return cls.from_bytes(Path(path).read_bytes(), device=device)
