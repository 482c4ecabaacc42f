"""Convert the AMN library's E. coli 280-media growth table to the tabular dataset format."""

from __future__ import annotations

import csv
import math
from pathlib import Path

from services.predictor.tabular import TabularError

MEDIUM_SUFFIX = "_i"
GROWTH, GROWTH_SD = "GR_AVG", "GR_STD"


def convert_amn(src_csv: str | Path, dst_csv: str | Path) -> int:
    """Write `medium:<EX id>` presence flags (0/1), `y:growth` (GR_AVG) and `sd:growth` (GR_STD); returns rows.

    Source columns `EX_<met>_e_i` are medium components (1 = added to M9); the `_i` suffix is dropped so the
    ids are BiGG exchange ids (iML1515 = iJO1366 for these). Published prediction columns are not copied.
    """
    src, dst = Path(src_csv), Path(dst_csv)
    if not src.is_file():
        raise TabularError("src", f"no such file: {src}")
    with src.open(newline="") as fh:
        reader = csv.DictReader(fh)
        fields = [f.strip() for f in reader.fieldnames or []]
        medium = [f for f in fields if f.startswith("EX_") and f.endswith(MEDIUM_SUFFIX)]
        if not medium or GROWTH not in fields or GROWTH_SD not in fields:
            raise TabularError("src", f"not an AMN growth table: needs EX_*{MEDIUM_SUFFIX}, {GROWTH}, {GROWTH_SD}")
        rows = [{k.strip(): (v or "").strip() for k, v in r.items() if k} for r in reader]
    header = ["id", *(f"medium:{m[: -len(MEDIUM_SUFFIX)]}" for m in medium), "y:growth", "sd:growth"]
    with dst.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        for i, r in enumerate(rows, start=1):
            for col in medium:
                if r[col] not in ("0", "1"):
                    raise TabularError(f"row {i}, column '{col}'", f"expected 0 or 1, got {r[col]!r}")
            for col in (GROWTH, GROWTH_SD):
                try:
                    ok = math.isfinite(float(r[col]))
                except ValueError:
                    ok = False
                if not ok:
                    raise TabularError(f"row {i}, column '{col}'", f"expected a number, got {r[col]!r}")
            writer.writerow([f"amn{i}", *(r[c] for c in medium), r[GROWTH], r[GROWTH_SD]])
    return len(rows)
