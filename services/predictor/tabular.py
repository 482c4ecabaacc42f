"""Tabular path for existing data: one CSV row per experiment -> designs, omics, targets; cross-validation.

The file is fluxlab's one CSV format (`services/tracker/csvformat.py`; what `fluxlab export` writes):
`ko:<gene or reaction>` (0/1), `expr:<gene>` (log2 fold change), `medium:<exchange>` (uptake bound in
mmol/gDW/h, or 0/1 presence), `param:<name>`, `omics.<block>:<feature>`, `y:<target>`, `sd:<target>`,
`group:<name>`; `id`, `batch_id`, `plate_id` and `well` are kept as labels. The older measurement
spelling (`run_id`, a `ko` list, fold changes, `growth`, `flux:<reaction>`) is read too. A typed target
(`y:flux:PGI`, `y:product:EX_succ_e`, `y:titer:succ`, `y:value:score`) is predicted under its readout
name (`PGI`, ...), as a campaign's model names it.
"""

from __future__ import annotations

import csv
import math
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import ValidationError

from schemas.design import Design
from schemas.errors import describe_validation_error
from services.predictor import metrics
from services.predictor.errors import PredictorError
from services.tracker.csvformat import LABELS, CsvRowError, canonical, readout_name

CARBON_SOURCES = frozenset({
    "EX_glc__D_e", "EX_xyl__D_e", "EX_succ_e", "EX_fru_e", "EX_gal_e", "EX_glyc_e", "EX_ac_e", "EX_lac__D_e",
    "EX_pyr_e", "EX_mal__L_e", "EX_fum_e", "EX_arab__L_e", "EX_rib__D_e", "EX_mnl_e", "EX_sbt__D_e",
})
"""Exchanges read as main carbon sources when a medium column holds presence flags."""

CARBON_UPTAKE = 10.0
OTHER_UPTAKE = 1.0
PREFIXES = ("ko:", "expr:", "medium:", "param:", "omics.", "y:", "sd:", "group:")
OUTSIDE_MODES = ("error", "raw")
"""Ids the organism model lacks: an error naming the field (default), or plain tabular inputs ('raw')."""


def presence_uptake(exchange: str) -> float:
    """Uptake bound (mmol/gDW/h) that presence flag 1 stands for: 10 for a carbon source, 1 otherwise."""
    return CARBON_UPTAKE if exchange in CARBON_SOURCES else OTHER_UPTAKE


class TabularError(PredictorError):
    """A bad cell or header of a dataset CSV: row, column and reason."""


@dataclass
class TabularDataset:
    """A parsed dataset: one design (+ omics, targets, sds, groups) per row."""

    designs: list[Design]
    omics: list[dict[str, dict[str, float]] | None]
    y: np.ndarray
    sd: np.ndarray | None
    names: list[str]
    groups: list[str] | None
    presence_columns: list[str]
    group_columns: dict[str, list[str]] = field(default_factory=dict)
    """`group:<name>` column -> its value per row."""
    ids: list[str] = field(default_factory=list)
    """The `id` column (row numbers from 1 when there is none)."""

    @property
    def has_omics(self) -> bool:
        """Whether any row carries omics values."""
        return any(self.omics)


def _number(text: str, row: int, col: str, kind: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise TabularError(f"row {row}, column '{col}'", f"expected {kind}, got {text!r}") from None
    if not math.isfinite(value):
        raise TabularError(f"row {row}, column '{col}'", f"expected a finite number, got {text!r}")
    return value


def _check_header(header: list[str], targets: bool = True) -> None:
    if not header:
        raise TabularError("header", "the file is empty")
    seen: set[str] = set()
    for col in header:
        if col in seen:
            raise TabularError(f"column '{col}'", "appears twice")
        seen.add(col)
        if col not in LABELS and not col.startswith(PREFIXES):
            raise TabularError(f"column '{col}'", "unknown column; use ko:, expr:, medium:, param:, omics.<block>:, "
                               "y:, sd:, group:, id, batch_id, plate_id or well")
        if col.startswith("omics.") and ":" not in col:
            raise TabularError(f"column '{col}'", "omics columns are named omics.<block>:<feature>")
    if targets and not any(c.startswith("y:") for c in header):
        raise TabularError("header", "no target column (y:<name>)")
    for col in header:
        if col.startswith("sd:") and f"y:{col[3:]}" not in seen:
            raise TabularError(f"column '{col}'", f"no matching target column 'y:{col[3:]}'")


def _presence_columns(header: list[str], rows: list[list[str]]) -> list[str]:
    out = []
    for j, col in enumerate(header):
        if col.startswith("medium:") and all(r[j].strip() in ("", "0", "1", "0.0", "1.0") for r in rows):
            out.append(col)
    return out


def _parse_row(header: list[str], cells: list[str], row: int, presence: set[str]) -> dict[str, Any]:
    kos: list[str] = []
    expr: dict[str, float] = {}
    medium: dict[str, float] = {}
    params: dict[str, float] = {}
    omics: dict[str, dict[str, float]] = {}
    y: dict[str, float] = {}
    sd: dict[str, float] = {}
    groups: dict[str, str] = {}
    for col, raw in zip(header, cells, strict=True):
        text = raw.strip()
        if col.startswith("group:"):
            groups[col[6:]] = text
        if col in LABELS or col.startswith("group:") or text == "":
            continue
        prefix, name = col.split(":", 1)
        if prefix == "ko":
            value = _number(text, row, col, "0 or 1")
            if value not in (0.0, 1.0):
                raise TabularError(f"row {row}, column '{col}'", f"expected 0 or 1, got {text!r}")
            if value == 1.0:
                kos.append(name)
        elif prefix == "expr":
            expr[name] = 2.0 ** _number(text, row, col, "a log2 fold change")
        elif prefix == "medium":
            value = _number(text, row, col, "an uptake bound (mmol/gDW/h)")
            if value < 0:
                raise TabularError(f"row {row}, column '{col}'", f"uptake bound must be >= 0, got {text!r}")
            medium[name] = value * presence_uptake(name) if col in presence else value
        elif prefix == "param":
            params[name] = _number(text, row, col, "a number")
        elif prefix.startswith("omics."):
            omics.setdefault(prefix[6:], {})[name] = _number(text, row, col, "a number")
        elif prefix == "y":
            y[name] = _number(text, row, col, "a number (or empty for not measured)")
        elif prefix == "sd":
            sd[name] = _number(text, row, col, "a standard deviation >= 0")
            if sd[name] < 0:
                raise TabularError(f"row {row}, column '{col}'", f"standard deviation must be >= 0, got {text!r}")
    try:
        design = Design(knockouts=kos, expression=expr, medium=medium, parameters=params)
    except ValidationError as exc:
        field, reason = describe_validation_error(exc)
        raise TabularError(f"row {row}, design.{field}", reason) from None
    return {"design": design, "omics": omics or None, "y": y, "sd": sd, "group": "|".join(groups.values()),
            "groups": groups}


def load_dataset(path: str | Path, targets: bool = True) -> TabularDataset:
    """Read and validate a dataset CSV (raises TabularError naming row, column and reason).

    `targets=False` accepts a file without `y:` columns (designs to predict).
    """
    path = Path(path)
    if not path.is_file():
        raise TabularError("data", f"no such file: {path}")
    with path.open(newline="") as fh:
        reader = csv.reader(fh)
        header = [h.strip() for h in next(reader, [])]
        rows = [r for r in reader if any(c.strip() for c in r)]
    for i, r in enumerate(rows, start=1):
        if len(r) != len(header):
            raise TabularError(f"row {i}", f"{len(r)} cells for {len(header)} columns")
    try:
        header, rows, _ = canonical(header, rows)
    except CsvRowError as exc:
        raise TabularError(f"row {exc.row}, column '{exc.column}'" if exc.row else f"column '{exc.column}'",
                           exc.reason) from None
    _check_header(header, targets)
    if not rows:
        raise TabularError("data", "the file has a header but no rows")
    presence = _presence_columns(header, rows)
    parsed = [_parse_row(header, r, i, set(presence)) for i, r in enumerate(rows, start=1)]
    targets_in = [c[2:] for c in header if c.startswith("y:")]
    names = [readout_name(t) for t in targets_in]
    if len(set(names)) < len(names):
        twice = next(n for n in names if names.count(n) > 1)
        raise TabularError("header", f"two target columns predict the same readout '{twice}'")
    y = np.array([[p["y"].get(t, np.nan) for t in targets_in] for p in parsed], dtype=float)
    has_sd = any(c.startswith("sd:") for c in header)
    sd = np.array([[p["sd"].get(t, np.nan) for t in targets_in] for p in parsed], dtype=float) if has_sd else None
    has_groups = any(c.startswith("group:") for c in header)
    return TabularDataset(
        designs=[p["design"] for p in parsed], omics=[p["omics"] for p in parsed], y=y, sd=sd, names=names,
        groups=[p["group"] for p in parsed] if has_groups else None, presence_columns=presence,
        group_columns={**{c[6:]: [p["groups"][c[6:]] for p in parsed] for c in header if c.startswith("group:")},
                       **{c: [r[header.index(c)].strip() for r in rows] for c in LABELS[1:] if c in header}},
        ids=[r[header.index("id")].strip() for r in rows] if "id" in header else [str(i + 1) for i in range(len(rows))],
    )


def intervention_groups(data: TabularDataset, group_by: str) -> list[str]:
    """Fold strata: `ko` (the knockout set), `expr` (the changed genes), `medium`, or a `group:` column name."""
    designs = data.designs
    if group_by == "ko":
        return ["|".join(sorted(d.knockouts)) or "-" for d in designs]
    if group_by == "expr":
        return ["|".join(sorted(g for g, f in d.expression.items() if abs(f - 1.0) > 1e-12)) or "-" for d in designs]
    if group_by == "medium":
        return ["|".join(f"{k}={v:g}" for k, v in sorted(d.medium.items())) or "-" for d in designs]
    name = group_by.removeprefix("group:")
    if name not in data.group_columns:
        known = ", ".join(["ko", "expr", "medium", *data.group_columns]) or "ko, expr, medium"
        raise TabularError("group_by", f"no column 'group:{name}' in the data (choose {known})")
    return data.group_columns[name]


def run_cv(path: str | Path, folds: int = 5, model: str = "hybrid", organism: str | None = None, seed: int = 0,
           threshold: float | None = None, ensemble: int = 5, group_by: str | None = None,
           baselines: bool = False, progress: Any = None, baseline_iter: int = 500,
           outside_ids: str = "error", tune: bool = False, **options: Any) -> dict[str, Any]:
    """k-fold cross-validation of a model kind on a dataset CSV.

    Folds keep `group_by` strata together (`intervention_groups`; default: the `group:` columns when
    present), else shuffled KFold. `roc_auc` scores the call "growth above `threshold`" (default: the
    median measured growth) with the out-of-fold predicted growth; it is None without a `y:growth`
    column. Rows whose knockouts, genes or medium components the training folds never had are
    `unseen`: their share and their own coverage are reported. `baselines` adds the gradient-boosting
    baselines (`services/predictor/baselines.py`, `baseline_iter` boosting iterations) on the same folds.
    `outside_ids` ("error" or "raw"): see `check_organism`; the raw ids are listed in `outside_ids`.
    `tune`: each fold's model chooses its network size by inner CV on that fold's training rows only
    (`services/predictor/tuning.py`); `tuned` lists the choice and inner Q² per fold.
    """
    from services.predictor.deepmodel import DeepModel
    from services.predictor.tuning import TunedModel

    data = load_dataset(path)
    if folds < 2 or folds > len(data.designs):
        raise TabularError("folds", f"need 2 <= folds <= number of rows ({len(data.designs)}), got {folds}")
    organism = organism or ("textbook" if model in ("hybrid", "gnn") else None)
    outside = check_organism(data, organism, outside_ids)
    if outside:
        options["outside_ids"] = outside
    groups = intervention_groups(data, group_by) if group_by else data.groups
    started = time.perf_counter()
    tuned: list[TunedModel] = []

    def factory() -> Any:
        if not tune:
            return DeepModel(model, organism, ensemble=ensemble, seed=seed, **options)
        tuned.append(TunedModel(model, organism, ensemble=ensemble, seed=seed, **options))
        return tuned[-1]

    result = _cv(factory, data, folds, seed, groups, progress)
    out: dict[str, Any] = {
        "model": model, "organism": organism, "outside_ids": outside, "folds": folds, "n_rows": len(data.designs),
        "seed": seed,
        "group_by": group_by, "grouped": groups is not None, "train_s": time.perf_counter() - started,
        **_scores(data, result, threshold, with_coverage=True),
    }
    if tune:
        out["tuned"] = [{"chosen": t.chosen, "inner_q2": t.inner_q2} for t in tuned]
    if baselines:
        from services.predictor.baselines import BASELINES, baseline

        out["baselines"] = {}
        for name in BASELINES:
            started = time.perf_counter()
            res = _cv(lambda name=name: baseline(name, seed, baseline_iter), data, folds, seed, groups, None)
            out["baselines"][name] = {**_scores(data, res, threshold, with_coverage=False),
                                      "train_s": time.perf_counter() - started}
    return out


def _cv(factory: Any, data: TabularDataset, folds: int, seed: int, groups: list[str] | None,
        progress: Any) -> dict[str, Any]:
    try:
        return metrics.cross_validate(factory, data.designs, data.y, folds=folds, seed=seed, groups=groups,
                                      names=data.names, sd=data.sd, progress=progress)
    except ValueError as exc:
        if isinstance(exc, PredictorError):
            raise
        raise TabularError("folds", str(exc)) from None


def _scores(data: TabularDataset, result: dict[str, Any], threshold: float | None,
            with_coverage: bool) -> dict[str, Any]:
    """Q² (overall, per target), ROC-AUC and F1 on growth, coverage (overall and on unseen rows)."""
    out: dict[str, Any] = {"q2": result["q2"], "q2_per_target": result["q2_per_output"],
                           "roc_auc": None, "threshold": None}
    unseen = result["oof_unseen"]
    if with_coverage:
        out.update(coverage95=result["coverage95"], coverage68=result["coverage68"],
                   unseen_rows=float(unseen.mean()),
                   coverage95_unseen=metrics.coverage(data.y[unseen], result["oof_mean"][unseen],
                                                      result["oof_sd"][unseen], 1.959964),
                   coverage95_seen=metrics.coverage(data.y[~unseen], result["oof_mean"][~unseen],
                                                    result["oof_sd"][~unseen], 1.959964))
    if "growth" in data.names:
        j = data.names.index("growth")
        truth = data.y[:, j]
        thr = float(np.nanmedian(truth)) if threshold is None else float(threshold)
        cls = metrics.classification(truth, result["oof_mean"][:, j], thr)
        out.update(roc_auc=cls["roc_auc"], threshold=thr, f1=cls["f1"])
    return out


def check_organism(data: TabularDataset, organism: str | None, outside_ids: str = "error") -> list[str]:
    """Validate every design against the organism model up front; returns the ids kept outside it.

    `outside_ids="error"` (default): the first id the organism model lacks is an error naming row and
    field. `"raw"`: such ids (`ko:<id>`, `expr:<gene>`, `medium:<exchange>`) stay plain tabular inputs,
    are not mapped into the network prior, and are listed once in a warning on stderr and returned.
    """
    if outside_ids not in OUTSIDE_MODES:
        raise TabularError("outside_ids", f"unknown mode {outside_ids!r} (choose {', '.join(OUTSIDE_MODES)})")
    if organism is None:
        return []
    from services.predictor.outside import outside_ids as find_outside
    from services.predictor.outside import without_outside
    from services.predictor.prior import load_organism_model

    try:
        org = load_organism_model(organism)
    except ValueError as exc:
        raise TabularError("organism", getattr(exc, "reason", str(exc))) from None
    outside = find_outside(data.designs, org) if outside_ids == "raw" else []
    for i, design in enumerate(data.designs, start=1):
        try:
            org.validate_design(without_outside(design, outside))
        except ValueError as exc:
            field = getattr(exc, "field", "design")
            raise TabularError(f"row {i}, design.{field}", getattr(exc, "reason", str(exc))) from None
    if outside:
        print(f"warning: {len(outside)} ids outside the organism model {organism!r} stay plain tabular inputs "
              f"(not mapped into the network prior): {', '.join(outside)}", file=sys.stderr)
    return outside
