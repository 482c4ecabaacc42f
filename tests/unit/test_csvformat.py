"""One CSV format: what `fluxlab export` writes, import and `fluxlab predictor cv|fit` read; the older spelling too."""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path

import numpy as np
import pytest

from schemas import Measurement
from services.predictor.files import fit_file
from services.predictor.tabular import TabularError, load_dataset, run_cv
from services.tracker.csvio import CsvRowError, read_measurements, write_measurements

OLD = ("run_id,ko,expr:b3956,medium:EX_glc__D_e,growth,sd:growth,product:EX_succ_e,sd:product:EX_succ_e,"
       "flux:PGI,titer:succ,value:score,batch_id\n"
       "r1,b1380;b2297,2.0,8,0.61,0.02,1.5,0.1,4.2,3.0,7,B1\n"
       "r2,,1.0,10,0.70,0.02,0.1,0.01,,,,B1\n")
NEW = ("id,ko:b1380,ko:b2297,expr:b3956,medium:EX_glc__D_e,y:growth,sd:growth,y:product:EX_succ_e,"
       "sd:product:EX_succ_e,y:flux:PGI,y:titer:succ,y:value:score,batch_id\n"
       "r1,1,1,1,8,0.61,0.02,1.5,0.1,4.2,3.0,7,B1\n"
       "r2,0,,0,10,0.70,0.02,0.1,0.01,,,,B1\n")


def _summary(items: list[Measurement]) -> list[tuple[object, ...]]:
    return [(m.run_id, m.design.key(), m.batch_id, m.readout("growth"), m.growth_rate and m.growth_rate.sd,
             dict(m.products), dict(m.fluxes), dict(m.titers), dict(m.values)) for m in items]


def test_both_spellings_import_to_the_same_measurements() -> None:
    old, new = read_measurements(OLD, "c1"), read_measurements(NEW, "c1")
    assert _summary(old) == _summary(new)
    assert new[0].design.knockouts == ["b1380", "b2297"] and new[0].design.expression == {"b3956": 2.0}
    assert new[0].fluxes["PGI"].value == 4.2 and new[0].titers["succ"].value == 3.0
    assert new[0].values["score"].value == 7.0 and "PGI" not in new[1].fluxes


def test_export_writes_the_one_format_and_round_trips() -> None:
    items = read_measurements(OLD, "c1")
    text = write_measurements(items)
    header = next(csv.reader(io.StringIO(text)))
    assert header[:3] == ["id", "ko:b1380", "ko:b2297"] and "run_id" not in header and "ko" not in header
    assert {"y:growth", "sd:growth", "y:product:EX_succ_e", "y:flux:PGI", "y:titer:succ", "y:value:score",
            "expr:b3956"} <= set(header)
    rows = list(csv.DictReader(io.StringIO(text)))
    assert math.isclose(float(rows[0]["expr:b3956"]), 1.0) and rows[1]["ko:b1380"] == "0"  # log2 fold, flags
    assert _summary(read_measurements(text, "c1")) == _summary(items)


@pytest.mark.parametrize("text, column, reason", [
    ("id,ko:b1,y:growth\nr1,2,0.5\n", "ko:b1", "expected 0 or 1"),
    ("run_id,expr:b1,growth\nr1,0,0.5\n", "expr:b1", "greater than 0"),
    ("run_id,growth,y:growth\nr1,0.5,0.5\n", "y:growth", "appears twice"),
    ("id,y:growth,sd:flux:PGI\nr1,0.5,0.1\n", "sd:flux:PGI", "no matching target"),
    ("ko,growth\nb1,0.5\n", "id", "required column"),
])
def test_bad_cells_name_the_column_as_the_file_spells_it(text: str, column: str, reason: str) -> None:
    with pytest.raises(CsvRowError) as info:
        read_measurements(text, "c1")
    assert info.value.column == column and reason in info.value.reason


def _campaign_like(n: int = 48) -> list[Measurement]:
    rng = np.random.default_rng(0)
    genes = ["g1", "g2", "g3", "g4"]
    lines = ["run_id,ko,expr:e1,growth,sd:growth,product:EX_succ_e,plate_id"]
    for i in range(n):
        kos = [g for g in genes if rng.random() < 0.3]
        fold = float(2 ** rng.uniform(-1, 1))
        growth = max(0.0, 0.8 - 0.2 * len(kos) + 0.1 * math.log2(fold) + rng.normal(0, 0.02))
        succ = 1.0 + 0.5 * ("g2" in kos) + rng.normal(0, 0.05)
        lines.append(f"r{i},{';'.join(kos)},{fold!r},{growth:.4f},0.02,{succ:.4f},P{i % 4}")
    return read_measurements("\n".join(lines) + "\n", "c1")


def test_an_export_file_is_a_predictor_dataset(tmp_path: Path) -> None:
    items = _campaign_like()
    path = tmp_path / "export.csv"
    path.write_text(write_measurements(items))
    data = load_dataset(path)
    assert data.names == ["growth", "EX_succ_e"]  # the readout names a campaign's model predicts
    assert [d.key() for d in data.designs] == [m.design.key() for m in items]
    assert data.ids == [m.run_id for m in items] and data.group_columns["plate_id"][:2] == ["P0", "P1"]
    np.testing.assert_allclose(data.y[:, 0], [m.readout("growth") for m in items])
    assert data.sd is not None and np.allclose(data.sd[:, 0], 0.02)
    out = run_cv(path, folds=3, model="mlp", ensemble=2, epochs=40, group_by="plate_id")
    assert out["grouped"] and np.isfinite(out["q2"]) and out["n_rows"] == len(items)
    fit = fit_file(path, tmp_path / "m.pt", model="mlp", ensemble=2, epochs=40)
    assert fit["targets"] == ["growth", "EX_succ_e"] and (tmp_path / "m.pt").is_file()


def test_the_older_spelling_is_a_predictor_dataset_too(tmp_path: Path) -> None:
    old, new = tmp_path / "old.csv", tmp_path / "new.csv"
    old.write_text(OLD)
    new.write_text(NEW)
    a, b = load_dataset(old), load_dataset(new)
    assert a.names == b.names == ["growth", "EX_succ_e", "PGI", "succ", "score"]
    assert [d.key() for d in a.designs] == [d.key() for d in b.designs]
    np.testing.assert_array_equal(a.y, b.y)
    assert a.ids == ["r1", "r2"]
    bad = tmp_path / "bad.csv"
    bad.write_text("run_id,expr:b1,growth\nr1,-1,0.5\n")
    with pytest.raises(TabularError, match=r"row 1, column 'expr:b1': a fold change must be greater than 0"):
        load_dataset(bad)


def test_a_file_imported_before_the_one_format_keeps_its_measurement_ids() -> None:
    import hashlib

    # The id digest is over the row as written, so re-importing an old file is recognised as a duplicate.
    rows = list(csv.DictReader(io.StringIO(OLD)))
    expected = [f"import-c1-{r['run_id']}-{hashlib.sha256(repr(sorted(r.items())).encode()).hexdigest()[:16]}"
                for r in rows]
    assert [m.id for m in read_measurements(OLD, "c1")] == expected
