"""Historical data from files: fit a model on a dataset CSV, predict another, evaluate on measured rows.

The CSVs are fluxlab's one CSV format (`services/tracker/csvformat.py`; what `fluxlab export` writes),
read by `services/predictor/tabular.py` (docs/predictor.md). A training file's `group:` columns make the
calibration hold out whole groups (`services/predictor/calibration.py`). A file to
predict or evaluate may hold knockouts, genes and medium components the training file never had:
they are answered and marked `unseen` (see `services/predictor/unseen.py`).
"""

from __future__ import annotations

import csv
import time
from pathlib import Path
from typing import Any

import numpy as np

from services.predictor import metrics
from services.predictor.deepmodel import DeepModel, PredictionResult
from services.predictor.errors import PredictorError
from services.predictor.tabular import TabularDataset, TabularError, check_organism, load_dataset
from services.predictor.tuning import TunedModel

KINDS = ("hybrid", "mlp", "fusion", "gnn")


def fit_file(data: str | Path, out: str | Path, model: str = "mlp", organism: str | None = None,
             ensemble: int = 5, seed: int = 0, outside_ids: str = "error", tune: bool = False,
             **options: Any) -> dict[str, Any]:
    """Train a model on a dataset CSV and save it to `out`; returns a summary.

    `outside_ids` ("error" or "raw"): ids the organism model lacks (see `tabular.check_organism`).
    `tune`: choose the network size by inner CV on the file's rows (`tuning.py`; `tuned`, `inner_q2`).
    """
    if model not in KINDS:
        raise PredictorError("model", f"unknown model kind '{model}' (choose {', '.join(KINDS)})")
    table = load_dataset(data)
    organism = organism or ("textbook" if model in ("hybrid", "gnn") else None)
    outside = check_organism(table, organism, outside_ids)
    if outside:
        options["outside_ids"] = outside
    started = time.perf_counter()
    net: DeepModel | TunedModel = (TunedModel if tune else DeepModel)(model, organism, ensemble=ensemble,
                                                                       seed=seed, **options)
    report = net.train(table.designs, table.y, names=table.names, sd=table.sd,
                       omics=table.omics if table.has_omics else None, groups=table.groups)
    net.save(out)
    summary = {"model": model, "organism": organism, "outside_ids": outside, "n_rows": len(table.designs),
               "targets": table.names, "epochs": report["epochs"], "train_s": time.perf_counter() - started,
               "out": str(out)}
    if tune:
        summary.update(tuned=report["tuned"], inner_q2=report["inner_q2"])
    return summary


def _predict(model_path: str | Path, data: str | Path, targets: bool) -> tuple[DeepModel, TabularDataset,
                                                                                PredictionResult]:
    path = Path(model_path)
    if not path.is_file():
        raise PredictorError("model", f"no such model file: {path}")
    try:
        net = DeepModel.load(path)
    except PredictorError:
        raise
    except Exception as exc:  # torch raises many kinds of errors on a file that is not a model
        raise PredictorError("model", f"not a fluxlab model file: {path} ({type(exc).__name__})") from None
    table = load_dataset(data, targets=targets)
    pred = net.predict(table.designs, table.omics if table.has_omics else None)
    return net, table, pred


def predict_file(model_path: str | Path, data: str | Path, out: str | Path) -> dict[str, Any]:
    """Write `id`, `mean:<target>`, `sd:<target>` per target and `unseen` (ids joined by ';') per row."""
    net, table, pred = _predict(model_path, data, targets=False)
    with Path(out).open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["id", *(c for n in net.names for c in (f"mean:{n}", f"sd:{n}")), "unseen"])
        for i, row_id in enumerate(table.ids):
            cells = [f"{v:.6g}" for j in range(len(net.names)) for v in (pred.mean[i, j], pred.sd[i, j])]
            writer.writerow([row_id, *cells, ";".join(pred.unseen[i]) if pred.unseen else ""])
    return {"n_rows": len(table.ids), "targets": net.names, "out": str(out),
            "unseen_rows": sum(bool(u) for u in pred.unseen)}


def evaluate_file(model_path: str | Path, data: str | Path, threshold: float | None = None) -> dict[str, Any]:
    """`q2` (overall and per target) on the file's measured rows, `roc_auc` on growth, coverage, `n_rows`."""
    net, table, pred = _predict(model_path, data, targets=True)
    missing = [n for n in table.names if n not in net.names]
    if missing:
        raise TabularError(f"column 'y:{missing[0]}'", f"the model does not predict it (it predicts {net.names})")
    cols = [net.names.index(n) for n in table.names]
    mean, sd = pred.mean[:, cols], pred.sd[:, cols]
    per = metrics.r2(table.y, mean)
    unseen = np.array([bool(u) for u in pred.unseen]) if pred.unseen else np.zeros(len(mean), dtype=bool)
    out: dict[str, Any] = {
        "q2": metrics.overall(per), "q2_per_target": dict(zip(table.names, map(float, per), strict=True)),
        "coverage68": metrics.coverage(table.y, mean, sd, 1.0),
        "coverage95": metrics.coverage(table.y, mean, sd, 1.959964),
        "n_rows": len(table.designs), "unseen_rows": float(unseen.mean()),
        "coverage95_unseen": metrics.coverage(table.y[unseen], mean[unseen], sd[unseen], 1.959964),
        "roc_auc": None, "threshold": None,
    }
    if "growth" in table.names:
        j = table.names.index("growth")
        thr = float(np.nanmedian(table.y[:, j])) if threshold is None else float(threshold)
        out.update(roc_auc=metrics.classification(table.y[:, j], mean[:, j], thr)["roc_auc"], threshold=thr)
    return out
