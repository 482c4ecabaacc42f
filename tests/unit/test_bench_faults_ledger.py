"""The fault benchmarks' bookkeeping: ledger counts, aggregation, soak downsampling."""

from __future__ import annotations

import math
import sqlite3
from collections import Counter
from pathlib import Path

from benchmarks.faults import QUICK, aggregate
from benchmarks.faults_ledger import ledger
from benchmarks.soak import downsample


def _db(path: Path) -> Path:
    db = path / "t.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE work_orders (run_id TEXT, campaign_id TEXT)")
        conn.execute("CREATE TABLE measurements (run_id TEXT, campaign_id TEXT)")
        conn.execute("CREATE TABLE run_failures (run_id TEXT, campaign_id TEXT)")
        conn.execute("CREATE TABLE proposals (design_key TEXT, strategy TEXT, campaign_id TEXT)")
        conn.executemany("INSERT INTO work_orders VALUES (?, 'c')", [(f"r{i}",) for i in range(5)])
        conn.executemany("INSERT INTO measurements VALUES (?, 'c')", [("r0",), ("r1",), ("r1",)])
        conn.execute("INSERT INTO run_failures VALUES ('r2', 'c')")
        conn.executemany("INSERT INTO proposals VALUES (?, ?, 'c')", [
            ("a", "hybrid:ga"), ("b", "hybrid:bo"), ("a", "hybrid:local"),  # 'a' again as a new design: a duplicate
            ("b", "replicate"), ("b", "replicate"),  # replicates of 'b': allowed re-proposals
            ("wt", "control"), ("wt", "control"),  # the wild-type control of two batches
        ])
    return db


def test_ledger_counts_lost_and_duplicated_runs(tmp_path: Path) -> None:
    book = ledger(_db(tmp_path), "c", Counter({"r0": 1, "r1": 2, "r9": 1}))
    assert book.issued == 5 and book.failed == 1
    assert book.lost == 3  # r3, r4: issued, neither measured nor failed; r9: in the stream, never recorded
    assert book.detail["runs_measured_twice"] == 1 and book.detail["designs_proposed_twice"] == 1
    assert book.detail["proposals"] == 7 and book.detail["reproposals"] == 4
    assert book.detail["stream_runs_twice"] == 1 and book.detail["stream_not_in_db"] == 1
    assert book.duplicated == 3


def test_aggregate_sums_scenarios_and_separates_expected_dead_letters() -> None:
    scenarios = {
        "poison": {"dead_letters": 1},
        "hostile": {"dead_letters": QUICK["hostile"], "crashes": 0},
        "kills": {"lost": 0, "duplicated": 1, "dead_letters": 2, "recovery_samples_s": [1.0, 3.0, 2.0]},
        "sigterm": {"acked_not_recorded": 1},
    }
    result = aggregate(scenarios, QUICK)
    assert result["lost"] == 1 and result["duplicated"] == 1
    assert result["dead_letters_expected"] == 1 + QUICK["hostile"]
    assert result["unexpected_dead_letters"] == 2
    assert result["recovery_s"] == 2.0
    assert math.isnan(aggregate({}, QUICK)["recovery_s"])


def test_downsample_keeps_ends_and_bounds_length() -> None:
    values = [float(i) for i in range(1000)]
    kept = downsample(values, keep=10)
    assert len(kept) == 10 and kept[0] == 0.0 and kept[-1] == 999.0
    assert downsample([1.0, 2.0]) == [1.0, 2.0]
