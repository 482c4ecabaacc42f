"""fluxlab's one CSV format for measured runs (README "Measurement CSV"), and the older spelling it replaces.

`fluxlab export` writes it; `fluxlab import measurements`, `fluxlab predictor cv|fit|predict|evaluate`
and `fluxlab analyze` read it. One row per run; an empty cell means "not set" or "not measured":

  id                       the run id (required by import; a row label for the predictor)
  ko:<gene or reaction>    1 = knocked out, 0 or empty = not
  expr:<gene>              log2 expression fold change (0 or empty = unchanged)
  medium:<exchange>        max uptake, mmol/gDW/h (a column of only 0/1 is read as presence flags by the
                           predictor, `services/predictor/tabular.py`)
  param:<name>             a design parameter
  y:growth                 specific growth rate (1/h)
  y:flux:<reaction>        a measured flux (mmol/gDW/h); y:product:<exchange> a product rate,
  y:titer:<product>        a titer (g/L); y:value:<name> (or y:<name>) any other readout
  sd:<target>              standard deviation of y:<target> (sd:growth, sd:flux:PGI, ...)
  omics.<block>:<feature>  an omics value
  group:<name>             strata for cross-validation (import ignores them)
  batch_id, plate_id, well where the run was made

The older spelling (`run_id`, `ko` as a `;` list, `expr:<gene>` as a plain fold change, `growth`,
`flux:`/`product:`/`titer:`/`value:` without `y:`) is still read: a file with a `run_id` column is in
that spelling, and `canonical` rewrites it into the format above.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

LEGACY_TARGETS = ("flux:", "product:", "titer:", "value:")
"""Target prefixes of the older spelling (without `y:`)."""
LABELS = ("id", "batch_id", "plate_id", "well")
"""Plain columns: the run id and where the run was made."""
PREFIXES = ("ko:", "expr:", "medium:", "param:", "y:", "sd:", "omics.", "group:")
"""Column prefixes of the format."""


class CsvRowError(ValueError):
    """A bad cell: row number (1 = first data row, 0 = the header), column and reason."""

    def __init__(self, row: int, column: str, reason: str) -> None:
        super().__init__(f"row {row}, column '{column}': {reason}")
        self.row, self.column, self.reason = row, column, reason


def number(cell: str, row: int, column: str) -> float:
    """A finite number, or a CsvRowError naming row and column."""
    try:
        value = float(cell)
    except ValueError:
        raise CsvRowError(row, column, f"'{cell}' is not a number") from None
    if not math.isfinite(value):
        raise CsvRowError(row, column, "must be a finite number (NaN and infinity are rejected)")
    return value


def is_legacy(header: Sequence[str]) -> bool:
    """Whether a header is in the older spelling (it has `run_id`): there `expr:` columns are fold changes."""
    return "run_id" in header


def _renamed(column: str) -> str:
    if column == "run_id":
        return "id"
    if column == "growth":
        return "y:growth"
    if column.startswith(LEGACY_TARGETS):
        return f"y:{column}"
    return column


def canonical(header: Sequence[str], rows: Sequence[Sequence[str]]) -> tuple[list[str], list[list[str]],
                                                                            dict[str, str]]:
    """The table in the one format: (header, rows, canonical column -> the column as the file spelled it).

    Unambiguous old spellings (`run_id`, a `ko` list, `growth`, `flux:X`, ...) are renamed in any file; a
    file with `run_id` also has its `expr:` fold changes turned into log2. Raises CsvRowError for a bad
    cell (a fold change that is not a positive number) or a column spelled both ways.
    """
    legacy = is_legacy(header)
    out_header: list[str] = []
    origin: dict[str, str] = {}
    for column in header:
        if column == "ko":
            continue
        new = _renamed(column)
        if new in origin:
            raise CsvRowError(0, column, f"appears twice (also as '{origin[new]}')")
        origin[new] = column
        out_header.append(new)
    ko_at = header.index("ko") if "ko" in header else None
    listed: list[str] = []
    if ko_at is not None:
        for r in rows:
            listed += [k.strip() for k in (r[ko_at] if ko_at < len(r) else "").split(";") if k.strip()]
        for ident in dict.fromkeys(listed):
            if f"ko:{ident}" not in origin:
                origin[f"ko:{ident}"] = "ko"
                out_header.append(f"ko:{ident}")
    index = {c: i for i, c in enumerate(out_header)}
    out_rows: list[list[str]] = []
    for n, r in enumerate(rows, start=1):
        cells = [c for j, c in enumerate(r) if j != ko_at]
        cells += [""] * (len(out_header) - len(cells))
        if ko_at is not None and ko_at < len(r):
            for ident in (k.strip() for k in r[ko_at].split(";")):
                if ident:
                    cells[index[f"ko:{ident}"]] = "1"
        if legacy:
            for j, column in enumerate(out_header):
                if column.startswith("expr:") and cells[j].strip():
                    fold = number(cells[j].strip(), n, column)
                    if fold <= 0:
                        raise CsvRowError(n, column, f"a fold change must be greater than 0, got {cells[j]!r}")
                    cells[j] = repr(math.log2(fold))
        out_rows.append(cells)
    return out_header, out_rows, origin


def target_table(target: str) -> tuple[str, str]:
    """`y:` target name -> (Measurement table, readout name): growth, flux:PGI -> fluxes, PGI; plain -> values."""
    if target == "growth":
        return "growth_rate", "growth"
    for prefix, table in (("flux:", "fluxes"), ("product:", "products"), ("titer:", "titers"), ("value:", "values")):
        if target.startswith(prefix):
            return table, target[len(prefix):]
    return "values", target


def readout_name(target: str) -> str:
    """The name a model predicts a `y:` target as (the readout's name, as a campaign's model names it)."""
    return target_table(target)[1]
