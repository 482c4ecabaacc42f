"""Cleaning: QC flags, missing readouts, batch normalisation against on-plate controls, robust outliers.

Nothing is dropped silently: every excluded row keeps its run id and the reason in `Cleaned.flags`,
and the report prints them. Policies:

* QC: a run whose `qc_flags` include anything but an *outcome* flag (default: `no_growth`, which is
  biology, not a failed assay) is excluded.
* Missing readout: `exclude` (default) drops the run from the analysis; `non_hit` keeps it as a
  run that did not reach the threshold (e.g. a product that was not detected).
* Normalisation: each value is divided by the median readout of the wild-type controls in its
  batch (column `by`), so a multiplicative batch offset cancels. A batch without a control is
  normalised against the median of all controls and flagged; with no control at all the values
  stay raw and the report says so.
* Outliers: per batch, robust z = 0.6745 (x - batch median) / MAD on log values (linear values
  when any is <= 0); |z| > `outlier_z` (3.5, Iglewicz & Hoaglin) is flagged and, by default,
  excluded. The MAD is the batch's own, floored at the pooled MAD of every batch's deviations, so
  a small batch of near-identical strains does not turn its ordinary mutants into outliers.
  Batches with fewer than `min_batch` finite values are not screened.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Literal

import numpy as np
import pandas as pd

from schemas import Measurement
from services.analysis.frame import Observations, readout_table

MissingPolicy = Literal["exclude", "non_hit"]


@dataclass(frozen=True)
class CleaningPolicy:
    """How to clean; the defaults are the documented ones."""

    by: str = "batch_id"
    normalise: bool = True
    outlier_z: float = 3.5
    exclude_outliers: bool = True
    min_batch: int = 5
    missing: MissingPolicy = "exclude"
    outcome_flags: frozenset[str] = frozenset({"no_growth"})


@dataclass(frozen=True)
class Flag:
    """A run the cleaning set aside (or marked), and why."""

    run_id: str
    reason: str
    excluded: bool = True


@dataclass
class Cleaned:
    """Rows kept for analysis (with `norm`, the normalised value) and every flag raised."""

    table: pd.DataFrame
    flags: list[Flag] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    normalised: bool = False


def clean(obs: Observations, policy: CleaningPolicy | None = None) -> Cleaned:
    """Apply the QC, missing-readout, normalisation and outlier policies, in that order."""
    policy = policy or CleaningPolicy()
    table = obs.table.copy()
    result = Cleaned(table)
    table = _qc(table, policy, result)
    table = _missing(table, policy, result)
    table = _normalise(table, policy, result)
    result.table = _outliers(table, policy, result)
    return result


def _qc(table: pd.DataFrame, policy: CleaningPolicy, result: Cleaned) -> pd.DataFrame:
    bad = []
    for run_id, qc in zip(table["run_id"], table["qc"], strict=True):
        failing = [f for f in str(qc).split(";") if f and f not in policy.outcome_flags]
        if failing:
            bad.append(run_id)
            result.flags.append(Flag(run_id, f"qc: {', '.join(failing)}"))
    return table[~table["run_id"].isin(bad)]


def _missing(table: pd.DataFrame, policy: CleaningPolicy, result: Cleaned) -> pd.DataFrame:
    missing = table["value"].isna()
    for run_id in table.loc[missing, "run_id"]:
        if policy.missing == "exclude":
            result.flags.append(Flag(run_id, "missing readout: excluded"))
        else:
            result.flags.append(Flag(run_id, "missing readout: counted as not a hit", excluded=False))
    return table[~missing] if policy.missing == "exclude" else table


def _normalise(table: pd.DataFrame, policy: CleaningPolicy, result: Cleaned) -> pd.DataFrame:
    table = table.copy()
    controls = table[table["control"] & table["value"].notna()]
    if not policy.normalise:
        table["norm"] = table["value"]
        return table
    if controls.empty or float(controls["value"].median()) <= 0:
        result.notes.append("no usable wild-type control: values are not normalised")
        table["norm"] = table["value"]
        return table
    overall = float(controls["value"].median())
    per_batch = controls.groupby(policy.by)["value"].median()
    scale = []
    for run_id, key in zip(table["run_id"], table[policy.by], strict=True):
        ref = per_batch.get(key)
        if ref is None or not np.isfinite(ref) or ref <= 0:
            result.flags.append(Flag(run_id, f"{policy.by} {key} has no control: normalised against all controls",
                                     excluded=False))
            ref = overall
        scale.append(float(ref))
    table["norm"] = table["value"] / np.asarray(scale)
    result.normalised = True
    return table


def _outliers(table: pd.DataFrame, policy: CleaningPolicy, result: Cleaned) -> pd.DataFrame:
    values = table["norm"].to_numpy(dtype=float)
    finite = np.isfinite(values)
    use_log = bool(finite.any() and (values[finite] > 0).all())
    scaled = np.where(finite, np.log(np.where(finite & (values > 0), values, 1.0)) if use_log else values, np.nan)
    outlier = np.zeros(len(table), dtype=bool)
    groups = table.groupby(policy.by).indices
    deviations = [scaled[i] - np.nanmedian(scaled[i]) for i in groups.values() if np.isfinite(scaled[i]).any()]
    pooled = np.concatenate(deviations) if deviations else np.array([np.nan])
    pooled_mad = float(np.nanmedian(np.abs(pooled))) if np.isfinite(pooled).any() else 0.0
    for _key, index in groups.items():
        x = scaled[index]
        ok = np.isfinite(x)
        if ok.sum() < policy.min_batch:
            continue
        median = float(np.median(x[ok]))
        mad = max(float(np.median(np.abs(x[ok] - median))), pooled_mad)
        if mad <= 0:
            continue
        z = 0.6745 * (x - median) / mad
        for i, zi in zip(index, z, strict=True):
            if np.isfinite(zi) and abs(zi) > policy.outlier_z:
                outlier[i] = True
                what = "excluded" if policy.exclude_outliers else "kept"
                result.flags.append(Flag(
                    str(table["run_id"].iloc[i]),
                    f"outlier: robust z {zi:+.1f} in {policy.by} {table[policy.by].iloc[i]} "
                    f"({'log ' if use_log else ''}median {median:.3g}, MAD {mad:.3g}); {what}",
                    excluded=policy.exclude_outliers))
    return table[~outlier] if policy.exclude_outliers else table


def set_aside_runs(measurements: Sequence[Measurement], readout: str, policy: CleaningPolicy | None = None) -> set[str]:
    """Runs a best-so-far should not quote: a failed QC flag, or a wild-type control whose readout is a robust
    outlier among all the campaign's controls (a mutant far above its batch may be the breakthrough the campaign
    is looking for, so the per-batch screen does not apply here)."""
    if not measurements:
        return set()
    policy = policy or CleaningPolicy()
    result = Cleaned(readout_table(measurements, readout))
    kept = _qc(result.table, policy, result)
    controls = kept[kept["control"] & kept["value"].notna()].assign(norm=lambda t: t["value"], campaign="all")
    _outliers(controls, replace(policy, by="campaign", exclude_outliers=True), result)
    return {f.run_id for f in result.flags if f.excluded}
