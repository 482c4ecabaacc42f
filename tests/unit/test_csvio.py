"""The measurement CSV: every row validated first, errors name the row and column, export round-trips."""

from __future__ import annotations

import pytest

from services.tracker.csvio import CsvRowError, read_measurements, write_measurements

GOOD = ("run_id,ko,expr:b3956,growth,sd:growth,product:EX_succ_e,sd:product:EX_succ_e,flux:PGI,batch_id\n"
        "r1,b1380;b2297,2.0,0.61,0.02,1.5,0.1,4.2,B1\n"
        "r2,,1.0,0.70,0.02,0.1,0.01,,B1\n")


def test_good_file_parses_with_dropouts_as_missing() -> None:
    items = read_measurements(GOOD, "c1")
    assert [m.run_id for m in items] == ["r1", "r2"]
    assert items[0].design.knockouts == ["b1380", "b2297"] and items[0].design.expression == {"b3956": 2.0}
    assert items[0].products["EX_succ_e"].sd == 0.1 and "PGI" not in items[1].fluxes
    assert all(m.source == "import" for m in items)


@pytest.mark.parametrize("bad_cell, row, column, reason", [
    ("r2,,1.0,NaN,0.02,0.1,0.01,,B1", 2, "growth", "finite"),
    ("r2,,-1,0.7,0.02,0.1,0.01,,B1", 2, "expr:b3956", "greater than 0"),
    ("r2,,1.0,fast,0.02,0.1,0.01,,B1", 2, "growth", "not a number"),
    ("r1,,1.0,0.7,0.02,0.1,0.01,,B1", 2, "run_id", "twice"),
    ("r2,,1.0,0.7,-0.02,0.1,0.01,,B1", 2, "sd:growth", "greater than or equal to 0"),
    ("r2,,1.0,-0.05,0.02,0.1,0.01,,B1", 2, "growth", "negative: a specific growth rate (1/h) is at least 0"),
])
def test_a_bad_row_names_row_column_and_reason(bad_cell: str, row: int, column: str, reason: str) -> None:
    lines = GOOD.splitlines()
    text = "\n".join([lines[0], lines[1], bad_cell]) + "\n"
    with pytest.raises(CsvRowError) as info:
        read_measurements(text, "c1")
    assert (info.value.row, info.value.column) == (row, column)
    assert reason in info.value.reason


def test_unknown_column_is_refused() -> None:
    with pytest.raises(CsvRowError, match="column 'colour': unknown column"):
        read_measurements("run_id,colour\nr1,red\n", "c1")


def test_export_round_trips_through_import() -> None:
    items = read_measurements(GOOD, "c1")
    again = read_measurements(write_measurements(items), "c1")
    assert [(m.run_id, m.design.key(), m.readout("EX_succ_e"), m.readout("growth")) for m in again] == \
        [(m.run_id, m.design.key(), m.readout("EX_succ_e"), m.readout("growth")) for m in items]


def test_rows_are_checked_against_the_campaign() -> None:
    from factories import campaign_spec

    from services.tracker.csvio import check_measurements

    spec = campaign_spec("c1")
    items = check_measurements(read_measurements("run_id,ko,expr:ppc,growth\nr1,ldhA;pta,2,0.5\n", "c1"), spec)
    assert items[0].design.knockouts == ["b1380", "b2297"] and items[0].design.expression == {"b3956": 2.0}
    for text, column, reason in [
        ("run_id,ko,growth\nr1,b1380,0.5\nr2,b0723;b9999,0.5\n", "ko", "unknown gene or reaction 'b9999'"),
        ("run_id,expr:b3956,growth\nr1,9,0.5\n", "expr:b3956", "outside the campaign's range 0.25–4×"),
        ("run_id,growth,product:EX_foo_e\nr1,0.5,1\n", "product:EX_foo_e", "unknown reaction 'EX_foo_e'"),
    ]:
        with pytest.raises(CsvRowError) as info:
            check_measurements(read_measurements(text, "c1"), spec)
        assert info.value.column == column and reason in info.value.reason
