"""The time-course CSV format (import and export), long form. Pure: no NATS, no database.

Curves table, one row per run and time point: `run_id`, `time_h` (h), `y:<readout>` (value), `sd:<readout>`
(replicate sd, optional), `qc:<readout>` (per-point QC flags separated by `;`, optional). The readout name
fixes its unit: `ln_od` (natural log of OD600), `od` (OD600), `biomass` (gDW/L), anything else is an
extracellular metabolite id in mM (e.g. `ac_e`). An empty cell means "not measured at that time".

Runs table, one row per run: `run_id`, `init:<metabolite id>` (initial concentration, mM) and the usual design
columns of the measurement CSV: `ko` (ids separated by `;`), `expr:<gene>`, `medium:<exchange>`, `param:<name>`.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from schemas import Measurement, MeasurementSource, describe_validation_error
from schemas.timecourse import TimeCourseUnit
from services.tracker.csvio import CsvRowError, _number

_DESIGN_PREFIXES = {"expr:": "expression", "medium:": "medium", "param:": "parameters"}
_UNITS = {"ln_od": TimeCourseUnit.LN_OD, "od": TimeCourseUnit.OD, "biomass": TimeCourseUnit.GDW_PER_L}


def unit_of(readout: str) -> TimeCourseUnit:
    """The unit a readout name implies."""
    return _UNITS.get(readout, TimeCourseUnit.MM)


def _rows(text: str, table: str, required: Sequence[str]) -> tuple[list[str], list[dict[str, str]]]:
    reader = csv.DictReader(io.StringIO(text))
    header = list(reader.fieldnames or [])
    for column in required:
        if column not in header:
            raise CsvRowError(0, column, f"required column is missing from the {table} table")
    return header, [dict(r) for r in reader]


def _read_runs(text: str) -> dict[str, dict[str, Any]]:
    header, rows = _rows(text, "runs", ["run_id"])
    for column in header:
        if column not in ("run_id", "ko") and not column.startswith(("init:", *_DESIGN_PREFIXES)):
            raise CsvRowError(0, column, "unknown column in the runs table")
    runs: dict[str, dict[str, Any]] = {}
    for n, row in enumerate(rows, start=1):
        run_id = (row.get("run_id") or "").strip()
        if not run_id:
            raise CsvRowError(n, "run_id", "must not be empty")
        if run_id in runs:
            raise CsvRowError(n, "run_id", f"run '{run_id}' appears twice in the runs table")
        design: dict[str, Any] = {"knockouts": [k for k in (row.get("ko") or "").split(";") if k.strip()],
                                  "expression": {}, "medium": {}, "parameters": {}}
        init: dict[str, float] = {}
        for column, cell in row.items():
            if not cell or not cell.strip() or column in ("run_id", "ko"):
                continue
            if column.startswith("init:"):
                init[column[5:]] = _number(cell, n, column)
            for prefix, key in _DESIGN_PREFIXES.items():
                if column.startswith(prefix):
                    design[key][column[len(prefix):]] = _number(cell, n, column)
        runs[run_id] = {"design": design, "initial_concentrations": init, "row": n}
    return runs


def _read_points(text: str, known_runs: dict[str, dict[str, Any]]) -> dict[str, dict[str, list[dict[str, Any]]]]:
    header, rows = _rows(text, "curves", ["run_id", "time_h"])
    readouts = [c[2:] for c in header if c.startswith("y:")]
    for column in header:
        if column not in ("run_id", "time_h") and not (column.startswith(("y:", "sd:", "qc:"))
                                                       and column.split(":", 1)[1] in readouts):
            raise CsvRowError(0, column, "unknown column in the curves table (sd:/qc: need a matching y: column)")
    if not readouts:
        raise CsvRowError(0, "y:<readout>", "the curves table has no y: column")
    courses: dict[str, dict[str, list[dict[str, Any]]]] = defaultdict(lambda: defaultdict(list))
    for n, row in enumerate(rows, start=1):
        run_id = (row.get("run_id") or "").strip()
        if run_id not in known_runs:
            raise CsvRowError(n, "run_id", f"run '{run_id}' is not in the runs table")
        time_h = _number(row.get("time_h") or "", n, "time_h")
        for readout in readouts:
            cell = (row.get(f"y:{readout}") or "").strip()
            if not cell:
                continue
            point: dict[str, Any] = {"time_h": time_h, "value": _number(cell, n, f"y:{readout}")}
            sd = (row.get(f"sd:{readout}") or "").strip()
            if sd:
                point["sd"] = _number(sd, n, f"sd:{readout}")
            qc = (row.get(f"qc:{readout}") or "").strip()
            if qc:
                point["qc_flags"] = [f for f in qc.split(";") if f.strip()]
            courses[run_id][readout].append(point)
    return courses


def read_time_courses(curves_text: str, runs_text: str, campaign_id: str) -> list[Measurement]:
    """Parse the curves and runs tables into one Measurement per run of the runs table (raises CsvRowError)."""
    runs = _read_runs(runs_text)
    courses = _read_points(curves_text, runs)
    out = []
    for run_id, run in runs.items():
        by_readout = courses.get(run_id, {})
        payload = {
            "campaign_id": campaign_id, "run_id": run_id, "design": run["design"],
            "initial_concentrations": run["initial_concentrations"], "source": MeasurementSource.IMPORT.value,
            "time_courses": {r: {"unit": unit_of(r).value, "points": sorted(p, key=lambda q: q["time_h"])}
                             for r, p in by_readout.items()},
        }
        try:
            out.append(Measurement.model_validate(payload))
        except ValidationError as exc:
            where, reason = describe_validation_error(exc)
            column = "y:" + where.split(".")[1] if where.startswith("time_courses.") else where
            raise CsvRowError(run["row"], column, f"run {run_id}: {reason}") from None
    return out


def load_time_courses(curves: Path, runs: Path, campaign_id: str) -> list[Measurement]:
    """Read the two tables from files."""
    return read_time_courses(curves.read_text(), runs.read_text(), campaign_id)


def write_time_courses(items: Iterable[Measurement]) -> tuple[str, str]:
    """Render measurements as (curves CSV, runs CSV); round-trips with read_time_courses."""
    items = list(items)
    readouts = sorted({r for m in items for r in m.time_courses})
    inits = sorted({k for m in items for k in m.initial_concentrations})
    design_cols = sorted({f"{p}{k}" for m in items for p, key in _DESIGN_PREFIXES.items()
                          for k in getattr(m.design, key)})
    curves = io.StringIO()
    cw = csv.writer(curves, lineterminator="\n")
    cw.writerow(["run_id", "time_h"] + [f"{p}:{r}" for r in readouts for p in ("y", "sd", "qc")])
    for m in items:
        table: dict[float, dict[str, list[str]]] = defaultdict(lambda: {r: ["", "", ""] for r in readouts})
        for r, course in m.time_courses.items():
            for p in course.points:
                table[p.time_h][r] = [repr(p.value), "" if p.sd is None else repr(p.sd), ";".join(p.qc_flags)]
        for t in sorted(table):
            cw.writerow([m.run_id, repr(t)] + [cell for r in readouts for cell in table[t][r]])
    runs = io.StringIO()
    rw = csv.writer(runs, lineterminator="\n")
    rw.writerow(["run_id", "ko"] + design_cols + [f"init:{k}" for k in inits])
    for m in items:
        design = {f"{p}{k}": v for p, key in _DESIGN_PREFIXES.items() for k, v in getattr(m.design, key).items()}
        rw.writerow([m.run_id, ";".join(m.design.knockouts)] + [_cell(design.get(c)) for c in design_cols]
                    + [_cell(m.initial_concentrations.get(k)) for k in inits])
    return curves.getvalue(), runs.getvalue()


def _cell(value: float | None) -> str:
    return "" if value is None else repr(value)
