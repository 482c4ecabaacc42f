"""The measurement CSV (import and export). Pure: no NATS, no database.

The format is fluxlab's one CSV format (`services/tracker/csvformat.py`, README "Measurement CSV"):
`id`, `ko:<id>` flags, `expr:<gene>` log2 fold changes, `medium:<exchange>`, `param:<name>`, `y:growth`,
`y:flux:<reaction>`, `y:product:<exchange>`, `y:titer:<product>`, `y:value:<name>`, `sd:<target>`,
`omics.<block>:<feature>`, `group:<name>`, `batch_id`, `plate_id`, `well`. Export writes it; import also
reads the older spelling (`run_id`, `ko` as a `;` list, fold changes, `growth`, `flux:<reaction>`, ...).
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
from services.tracker.csvformat import LABELS, PREFIXES, CsvRowError, canonical, target_table
from services.tracker.csvformat import number as _number

__all__ = ["CsvRowError", "check_measurements", "load_measurements", "read_measurements", "write_measurements"]

_VALUE_TABLES = {"flux": "fluxes", "product": "products", "titer": "titers", "value": "values"}


def _check_header(header: Sequence[str], origin: dict[str, str]) -> None:
    if "id" not in header:
        raise CsvRowError(0, "id", "required column is missing (the run id; the older spelling 'run_id' is read too)")
    for column in header:
        if column not in LABELS and not column.startswith(PREFIXES):
            raise CsvRowError(0, origin.get(column, column), "unknown column")
    for column in header:
        if column.startswith("sd:") and f"y:{column[3:]}" not in header:
            raise CsvRowError(0, origin.get(column, column), f"no matching target column 'y:{column[3:]}'")


def _row_to_payload(row: dict[str, str], n: int, campaign_id: str, origin: dict[str, str]) -> dict[str, Any]:
    design: dict[str, Any] = {"knockouts": [], "expression": {}, "medium": {}, "parameters": {}}
    payload: dict[str, Any] = {"campaign_id": campaign_id, "run_id": row["id"].strip(), "design": design,
                               "source": MeasurementSource.IMPORT.value, "fluxes": {}, "products": {}, "titers": {},
                               "values": {}, "omics": {}}
    for key in ("batch_id", "plate_id", "well"):
        if row.get(key):
            payload[key] = row[key]
    for column, cell in row.items():
        if cell.strip() == "" or column in LABELS or column.startswith(("sd:", "group:")):
            continue
        shown = origin.get(column, column)
        value = _number(cell.strip(), n, shown)
        prefix, _, name = column.partition(":")
        if prefix == "ko":
            if value not in (0.0, 1.0):
                raise CsvRowError(n, shown, f"expected 0 or 1, got {cell!r}")
            if value == 1.0:
                design["knockouts"].append(name)
        elif prefix == "expr":
            design["expression"][name] = 2.0**value
        elif prefix in ("medium", "param"):
            design["medium" if prefix == "medium" else "parameters"][name] = value
        elif prefix == "y":
            sd_column = f"sd:{name}"
            sd_cell = (row.get(sd_column) or "").strip()
            sd = _number(sd_cell, n, origin.get(sd_column, sd_column)) if sd_cell else 0.0
            table, readout = target_table(name)
            if table == "growth_rate":
                if value < 0:
                    raise CsvRowError(n, shown, f"{value:g} is negative: a specific growth rate (1/h) is at least 0")
                payload["growth_rate"] = {"value": value, "sd": sd}
            else:
                payload[table][readout] = {"value": value, "sd": sd}
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
        return "sd:growth" if parts[-1] == "sd" else "y:growth"
    inverse = {v: k for k, v in _VALUE_TABLES.items()}
    if parts and parts[0] in inverse and len(parts) > 1:
        column = f"{inverse[parts[0]]}:{parts[1]}"
        return f"sd:{column}" if parts[-1] == "sd" else f"y:{column}"
    return ".".join(parts) or "(row)"


def read_measurements(text: str, campaign_id: str) -> list[Measurement]:
    """Validate every row first; raise CsvRowError for the first bad cell (nothing is returned then).

    Reads the one format and the older spelling (see the module docstring); errors name the column as
    the file spells it.
    """
    table = list(csv.reader(io.StringIO(text)))
    raw_header = [h.strip() for h in (table[0] if table else [])]
    body = [r for r in table[1:] if any(c.strip() for c in r)]
    for n, r in enumerate(body, start=1):
        if len(r) != len(raw_header):
            raise CsvRowError(n, "(row)", f"{len(r)} cells for {len(raw_header)} columns")
    header, rows, origin = canonical(raw_header, body)
    _check_header(header, origin)
    id_column = origin.get("id", "id")
    items: list[Measurement] = []
    seen: set[str] = set()
    for n, cells in enumerate(rows, start=1):
        row = dict(zip(header, cells, strict=True))
        run_id = row["id"].strip()
        if not run_id:
            raise CsvRowError(n, id_column, "is empty")
        if run_id in seen:
            raise CsvRowError(n, id_column, f"'{run_id}' appears twice")
        seen.add(run_id)
        payload = _row_to_payload(row, n, campaign_id, origin)
        as_written = dict(zip(table[0], body[n - 1], strict=True))  # the same id as before the one format
        digest = hashlib.sha256(repr(sorted(as_written.items())).encode()).hexdigest()[:16]
        payload["id"] = f"import-{campaign_id}-{run_id}-{digest}"[:128]
        try:
            items.append(Measurement.model_validate(payload))
        except ValidationError as exc:
            err = exc.errors(include_url=False)[0]
            column = _column_for(err.get("loc", ()))
            raise CsvRowError(n, origin.get(column, column), describe_validation_error(exc)[1]) from None
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
    """Serialise measurements in the one CSV format (what import and `fluxlab predictor cv|fit` read)."""
    measurements = list(items)
    kos = list(dict.fromkeys(k for m in measurements for k in m.design.knockouts))
    rows = [_measurement_row(m, kos) for m in measurements]
    columns: list[str] = ["id", *(f"ko:{k}" for k in kos)]
    for row in rows:
        columns += [c for c in row if c not in columns]
    labels: list[str] = [c for c in ("batch_id", "plate_id", "well") if c in columns]
    columns = [c for c in columns if c not in labels] + labels
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns)
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def _measurement_row(m: Measurement, kos: Sequence[str]) -> dict[str, Any]:
    d: Design = m.design
    row: dict[str, Any] = {"id": m.run_id, **{f"ko:{k}": int(k in d.knockouts) for k in kos},
                           "batch_id": m.batch_id, "plate_id": m.plate_id, "well": m.well}
    row.update({f"expr:{g}": repr(math.log2(v)) for g, v in d.expression.items()})
    row.update({f"medium:{r}": v for r, v in d.medium.items()})
    row.update({f"param:{n}": v for n, v in d.parameters.items()})
    if m.growth_rate:
        row["y:growth"], row["sd:growth"] = m.growth_rate.value, m.growth_rate.sd
    for prefix, table in _VALUE_TABLES.items():
        for name, value in getattr(m, table).items():
            row[f"y:{prefix}:{name}"], row[f"sd:{prefix}:{name}"] = value.value, value.sd
    for block, features in m.omics.items():
        row.update({f"omics.{block}:{f}": v for f, v in features.items()})
    return row


def design_summary(designs: Sequence[Design]) -> list[str]:
    """Human-readable designs (used by reports and pages)."""
    return [d.describe() for d in designs]
