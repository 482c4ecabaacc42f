"""The measurement CSV format (import and export). Pure: no NATS, no database.

One row per run. Columns: `run_id` (required); `ko` (gene/reaction ids separated by `;`); `expr:<gene>`
(fold change); `medium:<exchange>` (max uptake, mmol/gDW/h); `param:<name>`; `growth` (1/h);
`flux:<reaction>` and `product:<exchange>` (mmol/gDW/h); `titer:<product>` (g/L); `value:<name>`;
`sd:<any of these>` for standard deviations; `omics.<block>:<feature>`; `batch_id`, `plate_id`, `well`.
An empty cell means "not measured".
"""

from __future__ import annotations

import csv
import hashlib
import io
import math
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from schemas import CampaignSpec, Design, Measurement, MeasurementSource, describe_validation_error

_PLAIN = {"run_id", "ko", "growth", "batch_id", "plate_id", "well", "sd:growth"}
_PREFIXES = ("expr:", "medium:", "param:", "flux:", "product:", "titer:", "value:", "omics.", "sd:")
_VALUE_TABLES = {"flux": "fluxes", "product": "products", "titer": "titers", "value": "values"}


class CsvRowError(ValueError):
    """A bad cell: row number (1 = first data row), column and reason."""

    def __init__(self, row: int, column: str, reason: str) -> None:
        super().__init__(f"row {row}, column '{column}': {reason}")
        self.row, self.column, self.reason = row, column, reason


def _number(cell: str, row: int, column: str) -> float:
    try:
        value = float(cell)
    except ValueError:
        raise CsvRowError(row, column, f"'{cell}' is not a number") from None
    if not math.isfinite(value):
        raise CsvRowError(row, column, "must be a finite number (NaN and infinity are rejected)")
    return value


def _check_header(header: Sequence[str]) -> None:
    if "run_id" not in header:
        raise CsvRowError(0, "run_id", "required column is missing")
    for column in header:
        if column not in _PLAIN and not column.startswith(_PREFIXES):
            raise CsvRowError(0, column, "unknown column")


def _row_to_payload(row: dict[str, str], n: int, campaign_id: str) -> dict[str, Any]:
    design: dict[str, Any] = {"knockouts": [k for k in (row.get("ko") or "").split(";") if k.strip()],
                              "expression": {}, "medium": {}, "parameters": {}}
    payload: dict[str, Any] = {"campaign_id": campaign_id, "run_id": row["run_id"], "design": design,
                               "source": MeasurementSource.IMPORT.value, "fluxes": {}, "products": {}, "titers": {},
                               "values": {}, "omics": {}}
    for key in ("batch_id", "plate_id", "well"):
        if row.get(key):
            payload[key] = row[key]
    for column, cell in row.items():
        if cell is None or cell.strip() == "" or column in ("run_id", "ko", "batch_id", "plate_id", "well"):
            continue
        if column.startswith("sd:"):
            continue
        value = _number(cell, n, column)
        sd_cell = row.get(f"sd:{column}") or ""
        sd = _number(sd_cell, n, f"sd:{column}") if sd_cell.strip() else 0.0
        prefix, _, name = column.partition(":")
        if column == "growth":
            if value < 0:
                raise CsvRowError(n, column, f"{value:g} is negative: a specific growth rate (1/h) is at least 0")
            payload["growth_rate"] = {"value": value, "sd": sd}
        elif prefix in ("expr", "medium", "param"):
            design[{"expr": "expression", "medium": "medium", "param": "parameters"}[prefix]][name] = value
        elif prefix in _VALUE_TABLES:
            payload[_VALUE_TABLES[prefix]][name] = {"value": value, "sd": sd}
        elif column.startswith("omics."):
            payload["omics"].setdefault(prefix[len("omics."):], {})[name] = value
    return payload


def _column_for(loc: Sequence[Any]) -> str:
    """Map a validation error location back to the CSV column."""
    parts = [str(p) for p in loc]
    names = {"expression": "expr", "medium": "medium", "parameters": "param", "knockouts": "ko"}
    if parts[:1] == ["design"] and len(parts) > 1:
        if parts[1] == "knockouts":
            return "ko"
        return f"{names.get(parts[1], parts[1])}:{parts[2] if len(parts) > 2 else ''}"
    if parts[:1] == ["growth_rate"]:
        return "sd:growth" if parts[-1] == "sd" else "growth"
    inverse = {v: k for k, v in _VALUE_TABLES.items()}
    if parts and parts[0] in inverse and len(parts) > 1:
        column = f"{inverse[parts[0]]}:{parts[1]}"
        return f"sd:{column}" if parts[-1] == "sd" else column
    return ".".join(parts) or "(row)"


def read_measurements(text: str, campaign_id: str) -> list[Measurement]:
    """Validate every row first; raise CsvRowError for the first bad cell (nothing is returned then)."""
    reader = csv.DictReader(io.StringIO(text))
    _check_header(reader.fieldnames or [])
    items: list[Measurement] = []
    seen: set[str] = set()
    for n, row in enumerate(reader, start=1):
        if not (row.get("run_id") or "").strip():
            raise CsvRowError(n, "run_id", "is empty")
        if row["run_id"] in seen:
            raise CsvRowError(n, "run_id", f"'{row['run_id']}' appears twice")
        seen.add(row["run_id"])
        payload = _row_to_payload(row, n, campaign_id)
        digest = hashlib.sha256(repr(sorted(row.items())).encode()).hexdigest()[:16]
        payload["id"] = f"import-{campaign_id}-{row['run_id']}-{digest}"[:128]
        try:
            items.append(Measurement.model_validate(payload))
        except ValidationError as exc:
            err = exc.errors(include_url=False)[0]
            raise CsvRowError(n, _column_for(err.get("loc", ())), describe_validation_error(exc)[1]) from None
    if not items:
        raise CsvRowError(1, "(file)", "no data rows")
    return items


_DESIGN_COLUMNS = {"knockouts": "ko", "expression": "expr:", "medium": "medium:", "parameters": "param:"}


def check_measurements(items: Sequence[Measurement], spec: CampaignSpec) -> list[Measurement]:
    """Every row's design buildable in the campaign (gene names become ids) and every flux/product a reaction
    of its organism model; CsvRowError names the first bad row and column, and nothing is returned then."""
    from services.domain.designcheck import DesignRefused, check_design, check_readouts

    checked: list[Measurement] = []
    for n, item in enumerate(items, start=1):
        try:
            design = check_design(item.design, spec)
        except DesignRefused as exc:
            table, _, name = exc.field.partition(".")
            prefix = _DESIGN_COLUMNS.get(table.split("[")[0], "")
            column = prefix if prefix in ("ko", "") else f"{prefix}{name}"
            raise CsvRowError(n, column or "(design)", exc.reason) from None
        for table, prefix in (("fluxes", "flux:"), ("products", "product:")):
            try:
                check_readouts(getattr(item, table), spec, table)
            except DesignRefused as exc:
                raise CsvRowError(n, prefix + exc.field.partition(".")[2], exc.reason) from None
        checked.append(item.model_copy(update={"design": design}))
    return checked


def load_measurements(path: Path, campaign_id: str) -> list[Measurement]:
    """Read and validate a measurement CSV file."""
    return read_measurements(path.read_text(), campaign_id)


def write_measurements(items: Iterable[Measurement]) -> str:
    """Serialise measurements in the same CSV format (export round-trips through import)."""
    rows: list[dict[str, Any]] = []
    for m in items:
        rows.append(_measurement_row(m))
    columns: list[str] = ["run_id", "ko"]
    for row in rows:
        columns += [c for c in row if c not in columns]
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns)
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def _measurement_row(m: Measurement) -> dict[str, Any]:
    d: Design = m.design
    row: dict[str, Any] = {"run_id": m.run_id, "ko": ";".join(d.knockouts), "batch_id": m.batch_id,
                           "plate_id": m.plate_id, "well": m.well}
    row.update({f"expr:{g}": v for g, v in d.expression.items()})
    row.update({f"medium:{r}": v for r, v in d.medium.items()})
    row.update({f"param:{n}": v for n, v in d.parameters.items()})
    if m.growth_rate:
        row["growth"], row["sd:growth"] = m.growth_rate.value, m.growth_rate.sd
    for prefix, table in _VALUE_TABLES.items():
        for name, value in getattr(m, table).items():
            row[f"{prefix}:{name}"], row[f"sd:{prefix}:{name}"] = value.value, value.sd
    for block, features in m.omics.items():
        row.update({f"omics.{block}:{f}": v for f, v in features.items()})
    return row


def design_summary(designs: Sequence[Design]) -> list[str]:
    """Human-readable designs (used by reports and pages)."""
    return [d.describe() for d in designs]
