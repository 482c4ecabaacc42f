"""Helpers shared by benchmarks: argument parsing, progress on stderr, one JSON object on stdout."""

from __future__ import annotations

import argparse
import json
import sqlite3
import statistics
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.console import Console

progress_console = Console(stderr=True)


def parser(description: str) -> argparse.ArgumentParser:
    """An argument parser with the flags every benchmark takes."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--json", action="store_true", help="print only one JSON object")
    p.add_argument("--quick", action="store_true", help="small smoke run (tests)")
    p.add_argument("--repeat", type=int, default=3, help="repetitions; figures are medians")
    return p


def campaign_parser(description: str) -> argparse.ArgumentParser:
    """`parser` with the flags of the simulated-campaign benchmarks: --seeds, --first-seed, --budget, --epochs."""
    p = parser(description)
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument("--first-seed", type=int, default=0)
    p.add_argument("--budget", type=int, default=48)
    p.add_argument("--epochs", type=int, default=150)
    return p


def emit(result: dict[str, Any], as_json: bool, title: str) -> None:
    """Print the result: JSON only, or a readable block with a final line."""
    if as_json:
        sys.stdout.write(json.dumps(result) + "\n")
        return
    progress_console.print_json(json.dumps(result))
    progress_console.print(f"[bold]{title} done[/bold]")


def median(values: Sequence[float]) -> float:
    """Median of a non-empty sequence."""
    return float(statistics.median(values))


def count_rows(db: Path, table: str) -> int:
    """Rows in a table of a SQLite file another process writes (0 while the table does not exist yet)."""
    try:
        with sqlite3.connect(db, timeout=5) as conn:
            return int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
    except sqlite3.OperationalError:
        return 0
