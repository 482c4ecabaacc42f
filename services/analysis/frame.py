"""One observation table from measurements: readout, stratum keys, QC flags and interventions."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from schemas import Design, Measurement


class AnalysisError(ValueError):
    """Input the analysis cannot use; the message names the field and the reason."""


@dataclass(frozen=True)
class Observations:
    """Rows: one measured run. Columns: run_id, batch_id, plate_id, qc (';'-joined flags), value
    (the readout, NaN when not measured), control (wild type), and one 0/1 column per intervention."""

    table: pd.DataFrame
    interventions: list[str]
    readout: str


def intervention_labels(design: Design) -> list[str]:
    """Categorical interventions of a design: 'ΔsdhA', 'pgi↑' / 'pgi↓', 'medium:EX_o2_e'."""
    labels = [f"Δ{g}" for g in design.knockouts]
    labels += [f"{g}{'↑' if v > 1 else '↓'}" for g, v in sorted(design.expression.items()) if abs(v - 1.0) > 1e-9]
    labels += [f"medium:{r}" for r in sorted(design.medium)]
    return labels


def is_wild_type(design: Design) -> bool:
    """True for the unmodified reference strain (the on-plate control)."""
    return not intervention_labels(design) and not design.parameters


def choose_readout(measurements: Sequence[Measurement], readout: str | None) -> str:
    """The readout to analyse: the one asked for, else the only black-box value every run reports."""
    if readout:
        return readout
    names = Counter(name for m in measurements for name in m.values)
    if len(names) == 1:
        return next(iter(names))
    raise AnalysisError("readout: name the readout to analyse (--readout), e.g. a product exchange id or 'growth'")


def readout_table(measurements: Sequence[Measurement], name: str) -> pd.DataFrame:
    """One row per run (run_id, batch_id, plate_id, qc, value, control, labels), whatever the design."""
    rows: list[dict[str, Any]] = []
    for m in measurements:
        value = m.readout(name)
        rows.append({"run_id": m.run_id, "batch_id": m.batch_id or "(none)", "plate_id": m.plate_id or "(none)",
                     "qc": ";".join(m.qc_flags), "value": np.nan if value is None else float(value),
                     "control": is_wild_type(m.design), "labels": intervention_labels(m.design)})
    return pd.DataFrame(rows)


def observations(measurements: Sequence[Measurement], readout: str | None = None) -> Observations:
    """Build the observation table; the intervention columns are sorted by name."""
    if not measurements:
        raise AnalysisError("measurements: there are none to analyse")
    name = choose_readout(measurements, readout)
    table = readout_table(measurements, name)
    if table["value"].isna().all():
        raise AnalysisError(f"readout: no measurement reports '{name}'")
    labels = list(table["labels"])
    interventions = sorted({label for row in labels for label in row})
    if not interventions:
        raise AnalysisError("design: no run carries a categorical intervention (knockout, expression, medium)")
    for label in interventions:
        table[label] = [int(label in row) for row in labels]
    return Observations(table.drop(columns=["labels"]), interventions, name)
