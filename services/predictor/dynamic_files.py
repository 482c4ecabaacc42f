"""Model `dynamic` from files: fit on a curves/runs CSV pair, save, predict curves with bands, evaluate.

The files are the time-course CSV pair of docs/dynamic.md (`run_id, time_h, y:ln_od, sd:ln_od` and
`run_id, init:<metabolite id>`). A model file holds the fitted kinetics network, its substrates (the
`init:` columns it was fitted on) and its configuration; it predicts any run whose initial medium uses
those substrates (absent ones are 0 mM), at the times of the file it is asked about.
"""

from __future__ import annotations

import csv
import io
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch

from schemas import Design
from services.predictor.curve_metrics import curve_report
from services.predictor.dynamic import DynamicConfig, DynamicModel
from services.predictor.dynamic_design import DesignEncoding
from services.predictor.dynamic_eval import CurveSet, load_curves
from services.predictor.dynamic_products import ProductDynamicModel
from services.predictor.errors import PredictorError
from services.tracker.csvio import CsvRowError
from services.tracker.timecourse_csv import read_time_courses

FORMAT = "fluxlab-dynamic-v3"
"""v2 adds the configuration's `parametrisation`, `span`, `slope_weight`, `holdout` and `eval_every`; v3 adds the
design inputs (`design`: the knockouts and genes its encoder reads) and the products it predicts (`products`,
`product_residual_var`: `services/predictor/dynamic_products.py`)."""
FORMATS_READ = ("fluxlab-dynamic-v1", "fluxlab-dynamic-v2", FORMAT)
"""Files of version 1 hold the encoder whose outputs are the kinetics (`parametrisation="free"`)."""


def save(model: DynamicModel, path: Path | io.BytesIO, times: np.ndarray | None = None,
         encoding: DesignEncoding | None = None) -> None:
    """Write a fitted dynamic model to `path` (with the sampling times it was fitted on, the default for predict,
    and the design encoding its encoder reads, when it reads one)."""
    if model.net is None:
        raise PredictorError("model", "the dynamic model is not fitted")
    products = model.products if isinstance(model, ProductDynamicModel) else []
    residual: list[float] = list(model.product_residual_var) if isinstance(model, ProductDynamicModel) else []
    torch.save({"format": FORMAT, "config": asdict(model.config), "substrates": model.substrates,
                "times": [] if times is None else [float(t) for t in times],
                "residual_var": model.residual_var, "scale": model._scale,
                "design": (encoding or DesignEncoding()).to_json() if model.n_design else None,
                "products": products,
                "product_residual_var": [float(v) for v in residual],
                "state": {k: v.cpu() for k, v in model.net.state_dict().items()}}, path)


def load(path: Path | io.BytesIO) -> tuple[DynamicModel, np.ndarray]:
    """Read a model file written by `save`: the model and its fitting times (PredictorError when it is not one)."""
    model, times, _ = load_with_encoding(path)
    return model, times


def load_with_encoding(path: Path | io.BytesIO) -> tuple[DynamicModel, np.ndarray, DesignEncoding]:
    """`load`, with the design encoding the model reads (empty for a model of the medium alone)."""
    try:
        payload = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as exc:
        raise PredictorError("--model", f"'{path}' is not a model file ({type(exc).__name__})") from None
    if not isinstance(payload, dict) or not str(payload.get("format", "")).startswith("fluxlab-dynamic-"):
        raise PredictorError("--model", f"'{path}' is not a dynamic model file (fit one with --model dynamic)")
    if payload["format"] not in FORMATS_READ:
        raise PredictorError("--model", f"'{path}' is a {payload['format']} file; this version reads "
                                        f"{', '.join(FORMATS_READ)} (refit it with --model dynamic)")
    config = dict(payload["config"])
    if payload["format"] == "fluxlab-dynamic-v1":
        config["parametrisation"] = "free"
    products = list(payload.get("products") or [])
    model: DynamicModel = DynamicModel(DynamicConfig(**config))
    if products:
        with_products = ProductDynamicModel(DynamicConfig(**config), products)
        with_products.product_residual_var = np.asarray(payload.get("product_residual_var") or [0.0] * len(products))
        model = with_products
    encoding = DesignEncoding.from_json(payload.get("design"))
    model.n_design = encoding.width
    model.substrates = list(payload["substrates"])
    model.residual_var, model._scale = float(payload["residual_var"]), float(payload["scale"])
    model.net = model._network(len(model.substrates))
    model.net.load_state_dict(payload["state"])
    model.net.eval()
    return model, np.asarray(payload.get("times") or [], dtype=float), encoding


def _aligned(model: DynamicModel, media: list[dict[str, float]]) -> np.ndarray:
    """Initial concentrations (one dict per run) in the model's substrate order; unknown substrates are an error."""
    for medium in media:
        unknown = sorted(s for s, mM in medium.items() if mM > 0 and s not in model.substrates)
        if unknown:
            raise PredictorError("--runs", f"init:{unknown[0]} is not a substrate the model was fitted on "
                                           f"(it knows {', '.join(model.substrates)})")
    return np.array([[medium.get(s, 0.0) for s in model.substrates] for medium in media]).reshape(len(media), -1)


def _media(data: CurveSet) -> list[dict[str, float]]:
    return [dict(zip(data.substrates, map(float, row), strict=True)) for row in data.init]


def _runs_only(runs: Path) -> tuple[list[str], list[dict[str, float]], list[Design]]:
    """Run ids, initial media and designs of a runs table read alone (no curves: runs never measured)."""
    try:
        items = read_time_courses("run_id,time_h,y:ln_od\n", runs.read_text(), "predict")
    except (CsvRowError, OSError) as exc:
        raise PredictorError("--runs", str(exc)) from None
    return [m.run_id for m in items], [dict(m.initial_concentrations) for m in items], [m.design for m in items]


def _design_inputs(model: DynamicModel, encoding: DesignEncoding, designs: list[Design]) -> np.ndarray | None:
    """The design features of the runs (None for a model of the medium alone); an id it never saw is an error."""
    if not model.n_design:
        return None
    try:
        return encoding.features(designs)
    except ValueError as exc:
        raise PredictorError("--runs", str(exc)) from None


def _product_courses(data: CurveSet, products: list[str]) -> np.ndarray:
    """Runs x T x products (mM) of the curves table (PredictorError naming a product it has no y: column of)."""
    for p in products:
        if p not in data.courses:
            raise PredictorError("--products", f"'{p}' has no y:{p} column in the curves table "
                                               f"(it has {', '.join(sorted(data.courses)) or 'none'})")
    return np.stack([data.courses[p] for p in products], -1)


def fit_file(curves: Path, runs: Path, out: Path, config: DynamicConfig | None = None,
             products: list[str] | None = None) -> dict[str, Any]:
    """Fit on every run of the CSV pair, save to `out`; returns n_runs, substrates, fit_s and the training fit.

    Design columns of the runs table (`ko`, `expr:`) become encoder inputs when any run has one; `products`
    (metabolites with a `y:` course) get Luedeking-Piret product states (`dynamic_products.py`).
    """
    data = load_curves(curves, runs)
    encoding = DesignEncoding.of(data.designs)
    design = encoding.features(data.designs) if encoding.width else None
    started = time.perf_counter()
    model: DynamicModel
    if products:
        courses = _product_courses(data, products)
        model = ProductDynamicModel(config, products).fit_with_products(data.substrates, data.init, data.times,
                                                                        data.ln_od, courses, design)
    else:
        model = DynamicModel(config).fit(data.substrates, data.init, data.times, data.ln_od, design=design)
    fit_s = time.perf_counter() - started
    save(model, out, data.times, encoding)
    fitted = model.predict(data.init, data.times, design)
    report = curve_report(data.times, data.ln_od, fitted.mean, fitted.sd)
    return {"model": "dynamic", "n_runs": len(data.run_ids), "substrates": data.substrates, "fit_s": fit_s,
            "design_inputs": encoding.width, "products": list(products or []),
            "train_curve_r2_mean": report["curve_r2_mean"], "out": str(out)}


def predict_file(model_path: Path, runs: Path, out: Path, curves: Path | None = None,
                 times: list[float] | None = None) -> dict[str, Any]:
    """Predicted ln OD (mean, sd band) per run, written as `run_id, time_h, mean:ln_od, sd:ln_od` (and
    `mean:<product>, sd:<product>` for a model with products).

    Runs and times: those of a curves file when given, else every run of the runs table at `times` (default:
    the times the model was fitted on) - media never grown included. A model fitted on design columns reads
    them from the runs table.
    """
    model, fitted_times, encoding = load_with_encoding(model_path)
    if curves is not None:
        data = load_curves(curves, runs)
        run_ids, media, designs, at = data.run_ids, _media(data), data.designs, data.times
    else:
        run_ids, media, designs = _runs_only(runs)
        at = np.asarray(times if times else fitted_times, dtype=float)
        if at.size == 0 or np.any(np.diff(at) <= 0) or at[0] < 0:
            raise PredictorError("--times", "need increasing times >= 0 (h)")
    init, design = _aligned(model, media), _design_inputs(model, encoding, designs)
    pred = model.predict(init, at, design)
    products = model.products if isinstance(model, ProductDynamicModel) else []
    p_mean, p_sd = (model.predict_products(init, at, design)[:2] if isinstance(model, ProductDynamicModel)
                    else (None, None))
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["run_id", "time_h", "mean:ln_od", "sd:ln_od", *(f"{k}:{p}" for p in products
                                                                      for k in ("mean", "sd"))])
    for i, run_id in enumerate(run_ids):
        for j, t in enumerate(at):
            extra = [] if p_mean is None or p_sd is None else [
                f"{a[i, j, k]:.6g}" for k in range(len(products)) for a in (p_mean, p_sd)]
            writer.writerow([run_id, f"{t:g}", f"{pred.mean[i, j]:.6g}", f"{pred.sd[i, j]:.6g}", *extra])
    out.write_text(buffer.getvalue())
    return {"model": "dynamic", "n_runs": len(run_ids), "n_points": int(pred.mean.size), "out": str(out),
            **({"products": products} if products else {})}


def evaluate_file(model_path: Path, curves: Path, runs: Path) -> dict[str, Any]:
    """Score a saved model on measured curves: curve_r2_mean, final_r2, mu_max_r2, coverage95, n_runs."""
    model, _, encoding = load_with_encoding(model_path)
    data = load_curves(curves, runs)
    pred = model.predict(_aligned(model, _media(data)), data.times, _design_inputs(model, encoding, data.designs))
    return {"model": "dynamic", **curve_report(data.times, data.ln_od, pred.mean, pred.sd)}
