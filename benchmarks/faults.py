"""Fault tolerance: kills, crashes between commit and ack, broker restarts, node loss, poison and hostile input.

Every figure is counted against a ledger: the work orders the tracker recorded as issued vs the measurements
and run failures it recorded, and vs what the events stream holds (read by a fresh consumer). `lost`: issued
runs with no outcome, or messages the tracker acked without recording; `duplicated`: runs measured twice,
designs proposed twice, runs with two measurements in the stream; `crashes`: service processes that exited
without the benchmark killing them; `recovery_s`: median seconds from a fault to the next recorded measurement.
Scenarios: a kills, b commit_ack_kills, c nats_restart, d cluster_node_loss, e poison, f hostile, g sigterm.
`--contention N` runs N CPU-burning processes beside it all (a busy machine: CI, a shared workstation).
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import subprocess
import sys
import tempfile
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

from benchmarks import faults_campaign as campaign
from benchmarks import faults_stream as stream
from benchmarks.common import emit, median, parser, progress_console
from services.runtime.nats_server import EmbeddedNats

FULL = {"kills_each": 10, "kill_budget": 100, "tracker_deaths": 100, "budget": 30, "hostile": 1000, "poison_after": 500,
        "drain": 5000}
QUICK = {"kills_each": 1, "kill_budget": 20, "tracker_deaths": 5, "budget": 15, "hostile": 200, "poison_after": 100,
         "drain": 1000}


async def _scenario(name: str, run: Callable[[], Awaitable[dict[str, Any]]]) -> dict[str, Any]:
    progress_console.print(f"[bold]faults: {name}[/bold]")
    try:
        result = await run()
    except Exception as exc:  # a scenario that cannot finish is reported, and counts as a failure
        progress_console.print(f"  {name} failed: {exc!r}")
        result = {"error": repr(exc)[:500], "completed": False}
    progress_console.print(f"  {name}: {result}")
    return result


async def run(size: dict[str, int], only: set[str] | None = None) -> dict[str, Any]:
    """Run the scenarios (all, or those named in `only`) and aggregate their figures."""
    scenarios: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="fluxlab-faults-") as tmp:
        workdir = Path(tmp)
        server = EmbeddedNats(workdir / "nats").start()

        def where(name: str) -> Path:
            path = workdir / name
            path.mkdir(parents=True, exist_ok=True)
            return path

        plan: dict[str, Callable[[], Awaitable[dict[str, Any]]]] = {
            "poison": lambda: stream.poison(server.url, where("e"), size["poison_after"]),
            "hostile": lambda: stream.hostile(server.url, where("f"), size["hostile"]),
            "sigterm": lambda: stream.sigterm_drain(server.url, where("g"), size["drain"]),
            "commit_ack_kills": lambda: stream.commit_ack_kills(server.url, where("b"), size["tracker_deaths"]),
            "nats_restart": lambda: campaign.restarted_nats(workdir, size["budget"]),
            "cluster_node_loss": lambda: campaign.cluster_node_loss(workdir, size["budget"]),
            "kills": lambda: campaign.killed_services(workdir, size["kills_each"], size["kill_budget"]),
        }
        try:
            for name, scenario in plan.items():
                if only is None or name in only:
                    scenarios[name] = await _scenario(name, scenario)
        finally:
            server.stop()
    return aggregate(scenarios, size)


def aggregate(scenarios: dict[str, Any], size: dict[str, int]) -> dict[str, Any]:
    """Top-level figures: sums over scenarios (dead letters: those the poison and hostile scenarios expect,
    plus any unexpected ones elsewhere), median recovery."""
    def total(key: str) -> int:
        return sum(int(s.get(key, 0)) for s in scenarios.values())

    recoveries = [r for s in scenarios.values() for r in s.get("recovery_samples_s", [])]
    expected = {"poison": 1, "hostile": size["hostile"]}
    unexpected = sum(int(s.get("dead_letters", 0)) for n, s in scenarios.items() if n not in expected)
    return {
        "lost": total("lost") + sum(int(s.get("acked_not_recorded", 0)) for s in scenarios.values()),
        "duplicated": total("duplicated"),
        "dead_letters": total("dead_letters"),
        "dead_letters_expected": sum(v for n, v in expected.items() if n in scenarios),
        "unexpected_dead_letters": unexpected,
        "crashes": total("crashes"),
        "recovery_s": round(median(recoveries), 2) if recoveries else math.nan,
        "all_completed": all(s.get("completed", True) and "error" not in s for s in scenarios.values()),
        "scenarios": scenarios,
        "size": size,
    }


@contextlib.contextmanager
def cpu_contention(n: int) -> Iterator[list[subprocess.Popen[bytes]]]:
    """N processes that each burn one CPU for as long as the block runs."""
    burners = [subprocess.Popen([sys.executable, "-c", "while True: pass"], stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for _ in range(n)]
    try:
        yield burners
    finally:
        for burner in burners:
            burner.kill()
            burner.wait()


def main(argv: list[str] | None = None) -> int:
    """`fluxlab bench faults [--json] [--quick] [--only a,b] [--contention N]`."""
    p = parser("fault tolerance: kills, commit/ack crashes, broker restarts, node loss, poison, hostile input")
    p.add_argument("--only", default="", help="comma-separated scenario names (default: all)")
    p.add_argument("--contention", type=int, default=0, help="CPU-burning processes to run beside the benchmark")
    args = p.parse_args(argv)
    if args.contention < 0:
        p.error("--contention: must be >= 0")
    only = {s.strip() for s in args.only.split(",") if s.strip()} or None
    with cpu_contention(args.contention) as burners:
        result = asyncio.run(run(QUICK if args.quick else FULL, only))
        alive = sum(b.poll() is None for b in burners)
    result["contention"] = {"processes": args.contention, "alive_at_end": alive}
    emit(result, args.json, "faults benchmark")
    return 0
