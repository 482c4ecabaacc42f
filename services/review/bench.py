"""Measurements entered by hand for bench work orders (form fields or the import CSV). Pure: no NATS."""

from __future__ import annotations

import csv
import io
import math
from typing import Any

from schemas import CampaignSpec, Design, FieldError, Measurement, MeasurementSource, Value
from services.domain.designcheck import DesignRefused, check_readouts
from services.tracker.csvio import CsvRowError, read_measurements


class BenchInputError(FieldError, ValueError):
    """A bad form field or CSV cell: which one, and why."""


def bench_measurement_id(run_id: str) -> str:
    """One bench measurement per run: a double-submitted form is a duplicate JetStream drops."""
    return f"bench-{run_id}"


def parse_number(text: str, field: str, required: bool = True) -> float | None:
    """A finite number from a form field (None when optional and empty)."""
    text = (text or "").strip()
    if not text:
        if required:
            raise BenchInputError(field, "is required")
        return None
    try:
        value = float(text)
    except ValueError:
        raise BenchInputError(field, f"'{text}' is not a number") from None
    if not math.isfinite(value):
        raise BenchInputError(field, "must be a finite number")
    return value


def parse_fluxes(text: str) -> dict[str, Value]:
    """`PGI=4.2, PFK=7.1±0.3` (comma or newline separated; optional ± or +- sd) -> fluxes."""
    fluxes: dict[str, Value] = {}
    for item in (text or "").replace("\n", ",").split(","):
        item = item.strip()
        if not item:
            continue
        name, sep, number = item.partition("=")
        if not sep or not name.strip():
            raise BenchInputError("fluxes", f"'{item}' is not REACTION=VALUE")
        number = number.replace("+-", "±")
        mean_text, _, sd_text = number.partition("±")
        mean = parse_number(mean_text, f"fluxes.{name.strip()}")
        sd = parse_number(sd_text, f"fluxes.{name.strip()} sd", required=False) or 0.0
        assert mean is not None
        fluxes[name.strip()] = Value(value=mean, sd=abs(sd))
    return fluxes


def objective_table(spec: CampaignSpec) -> str:
    """Which Measurement table carries the campaign's objective readout."""
    target = spec.objective.target
    if target == "growth":
        return "growth_rate"
    if spec.search_space.parameters or (spec.simulator is not None and spec.simulator.kind == "function"):
        return "values"
    return "products" if target.startswith("EX_") else "fluxes"


def objective_column(spec: CampaignSpec) -> str | None:
    """The import CSV column of the campaign's objective readout (None when it is the growth column)."""
    prefix = {"growth_rate": None, "values": "value", "products": "product", "fluxes": "flux"}[objective_table(spec)]
    return f"{prefix}:{spec.objective.target}" if prefix else None


def plate_well(i: int) -> str:
    """The i-th well of a 96-well plate in row order (A1 .. H12)."""
    return f"{'ABCDEFGH'[(i // 12) % 8]}{i % 12 + 1}"


def csv_template(spec: CampaignSpec, orders: list[dict[str, Any]]) -> str:
    """A plate map to fill in: one row per open bench run, run id, design and well given, readouts empty."""
    designs = [Design.model_validate(o["design"]) for o in orders]
    genes = sorted({g for d in designs for g in d.expression})
    exchanges = sorted({e for d in designs for e in d.medium})
    params = sorted({n for d in designs for n in d.parameters})
    readouts = ["growth", "sd:growth"]
    column = objective_column(spec)
    if column:
        readouts += [column, f"sd:{column}"]
    header = (["run_id", "plate_id", "well", "ko"] + [f"expr:{g}" for g in genes]
              + [f"medium:{e}" for e in exchanges] + [f"param:{n}" for n in params] + readouts)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    for i, (order, design) in enumerate(zip(orders, designs, strict=True)):
        writer.writerow([order["run_id"], f"plate{i // 96 + 1}", plate_well(i), ";".join(design.knockouts)]
                        + [repr(design.expression[g]) if g in design.expression else "" for g in genes]
                        + [repr(design.medium[e]) if e in design.medium else "" for e in exchanges]
                        + [repr(design.parameters[n]) if n in design.parameters else "" for n in params]
                        + [""] * len(readouts))
    return out.getvalue()


def bench_measurement(order: dict[str, Any], spec: CampaignSpec, growth: float | None, objective: float | None,
                      fluxes: dict[str, Value] | None = None, note: str = "") -> Measurement:
    """A bench measurement answering one issued work order (design and run id from the order)."""
    if growth is None and objective is None and not fluxes:
        raise BenchInputError("growth", "enter at least the growth or the objective readout")
    if growth is not None and growth < 0:
        raise BenchInputError("growth", f"{growth:g} is negative: a specific growth rate (1/h) is at least 0")
    if objective is not None and objective < 0 and spec.objective.target == "growth":
        raise BenchInputError("objective", f"{objective:g} is negative: a specific growth rate (1/h) is at least 0")
    try:
        check_readouts(fluxes or {}, spec)
    except DesignRefused as exc:
        raise BenchInputError(exc.field, exc.reason) from None
    fields: dict[str, Any] = {"fluxes": dict(fluxes or {})}
    if growth is not None:
        fields["growth_rate"] = Value(value=growth)
    if objective is not None:
        table = objective_table(spec)
        if table == "growth_rate":
            fields["growth_rate"] = Value(value=objective)
        else:
            fields.setdefault(table, {})[spec.objective.target] = Value(value=objective)
    return Measurement(
        id=bench_measurement_id(order["run_id"]), campaign_id=order["campaign_id"], run_id=order["run_id"],
        design=Design.model_validate(order["design"]), source=MeasurementSource.BENCH,
        qc_flags=[note[:200]] if note.strip() else [], **fields,
    )


def csv_bench_measurements(text: str, spec: CampaignSpec, orders: dict[str, dict[str, Any]]) -> list[Measurement]:
    """Measurements from the import CSV; every row must quote an issued bench run of the campaign.

    The design is taken from the work order; a row that states a different design is refused.
    """
    try:
        rows = read_measurements(text, spec.id)
    except CsvRowError as exc:
        raise BenchInputError(f"row {exc.row}, column {exc.column}", exc.reason) from None
    for n, row in enumerate(rows, start=1):
        for table, prefix in (("fluxes", "flux:"), ("products", "product:")):
            try:
                check_readouts(getattr(row, table), spec, table)
            except DesignRefused as exc:
                where = f"row {n} (run {row.run_id}), column {prefix}{exc.field.partition('.')[2]}"
                raise BenchInputError(where, exc.reason) from None
    items: list[Measurement] = []
    for n, row in enumerate(rows, start=1):
        order = orders.get(row.run_id)
        if order is None:
            reason = f"'{row.run_id}' is not an open bench run of this campaign"
            raise BenchInputError(f"row {n}, column run_id", reason)
        design = Design.model_validate(order["design"])
        if row.design.key() != Design().key() and row.design.key() != design.key():
            raise BenchInputError(f"row {n}", f"design does not match work order {row.run_id} ({design.describe()})")
        items.append(row.model_copy(update={"id": bench_measurement_id(row.run_id), "design": design,
                                            "source": MeasurementSource.BENCH}))
    return items
