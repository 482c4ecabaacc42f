"""Genome-scale priors of the hybrid: designs per second on iJO1366, worker processes and the design cache.

`fluxlab bench predictor-genome [--designs N] [--method moma|pfba] [--workers W] [--organism O] [--json]`

Designs: random, seeded (`--seed`): 1-3 gene knockouts and one gene at a 0.25-4x expression fold, drawn
from the organism model's genes. Each is solved once by `MechanisticPrior.compute` (warm-started HiGHS
LPs, `--workers` forked processes; default `default_workers()`), then the same designs are asked again to
time the cache keyed by design. JSON: {"organism", "method", "designs", "workers", "seconds",
"designs_per_s", "seconds_for_10000" (seconds x 10,000 / designs: extrapolated when fewer were run),
"extrapolated", "cpu_seconds" (CPU time of this process and its workers: what the priors cost whatever else
the machine runs), "cpu_seconds_for_10000", "cached_seconds", "feasible", "target_s": 60, "met"}.
`--quick`: 80 designs on `textbook` (a smoke run, not figures).
"""

from __future__ import annotations

import resource
import time
from typing import Any

import numpy as np

from benchmarks.common import emit, parser, progress_console


def random_designs(organism: Any, n: int, seed: int) -> list[Any]:
    """`n` random designs: 1-3 gene knockouts plus one gene at a 0.25-4x fold."""
    from schemas.design import Design

    rng = np.random.default_rng(seed)
    genes = organism.gene_ids
    return [Design(knockouts=sorted(rng.choice(genes, size=int(rng.integers(1, 4)), replace=False).tolist()),
                   expression={str(rng.choice(genes)): float(2 ** rng.uniform(-2, 2))}) for _ in range(n)]


def _cpu_seconds() -> float:
    """CPU seconds of this process and its finished children (the worker processes)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def run(organism: str, designs: int, method: str, workers: int | None, seed: int) -> dict[str, Any]:
    """Time the priors of `designs` new designs, then the same designs from the cache."""
    from services.predictor.prior import MechanisticPrior, default_workers, load_organism_model

    org = load_organism_model(organism)
    batch = random_designs(org, designs, seed)
    prior = MechanisticPrior(org, method=method)
    workers = default_workers() if workers is None else workers
    started, cpu_started = time.perf_counter(), _cpu_seconds()
    out = prior.compute(batch, workers=workers)
    seconds, cpu = time.perf_counter() - started, _cpu_seconds() - cpu_started
    started = time.perf_counter()
    prior.compute(batch, workers=workers)
    cached = time.perf_counter() - started
    per_10k = seconds * 10_000 / designs
    return {"organism": organism, "method": method, "designs": designs, "workers": workers, "seed": seed,
            "seconds": seconds, "designs_per_s": designs / seconds, "seconds_for_10000": per_10k,
            "cpu_seconds": cpu, "cpu_seconds_for_10000": cpu * 10_000 / designs,
            "extrapolated": designs < 10_000, "cached_seconds": cached, "feasible": float(out.feasible.mean()),
            "target_s": 60.0, "met": per_10k <= 60.0}


def main(argv: list[str] | None = None) -> int:
    """`fluxlab bench predictor-genome [--designs N] [--method moma|pfba] [--workers W] [--json]`."""
    p = parser("Hybrid priors at genome scale: designs per second, workers, design cache")
    p.add_argument("--designs", type=int, default=10_000)
    p.add_argument("--method", choices=("moma", "pfba"), default="moma")
    p.add_argument("--workers", type=int, default=None)
    p.add_argument("--organism", default="iJO1366")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    organism, designs = ("textbook", 80) if args.quick else (args.organism, args.designs)
    progress_console.print(f"priors of {designs} designs on {organism} ({args.method})")
    emit(run(organism, designs, args.method, args.workers, args.seed), args.json, "predictor-genome")
    return 0


if __name__ == "__main__":
    main()
