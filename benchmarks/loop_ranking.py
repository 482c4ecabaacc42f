"""How wrong the organism model's own ranking is on each cell landscape of the loop benchmark.

For ``--designs`` random valid designs of the campaign (seeded), the in-silico answer (linear MOMA on the
planning model, services.optimizer.insilico) against the noise-free truth of the landscape (0 below the
growth floor): Spearman and Pearson correlation, and the truth of the in-silico top design as a fraction of
the sample's best. ``python -m benchmarks.loop_ranking --landscapes genome --json``.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
from scipy.stats import pearsonr, spearmanr

from benchmarks.common import emit, parser
from benchmarks.loop_landscapes import CELLS, make_landscape
from services.optimizer.insilico import insilico_for
from services.optimizer.space import DesignSpace


def ranking(name: str, n: int = 150, seed: int = 0) -> dict[str, Any]:
    """In-silico vs truth over ``n`` random designs of one cell landscape."""
    landscape = make_landscape(name, 0)
    space = DesignSpace.from_spec(landscape.spec)
    designs = space.sample_unique(n, np.random.default_rng(seed))
    prior = insilico_for(landscape.spec, landscape.organism)
    assert prior is not None
    predicted = prior.predict(designs)[0]
    started = time.perf_counter()
    truth = np.array([landscape.truth(d) for d in designs])
    per_design = (time.perf_counter() - started) / len(designs)
    top = int(np.argmax(predicted))
    return {"designs": len(designs), "spearman": round(float(spearmanr(predicted, truth)[0]), 3),
            "pearson": round(float(pearsonr(predicted, truth)[0]), 3),
            "insilico_top_fraction_of_sample_best": round(float(truth[top] / truth.max()), 3) if truth.max() > 0
            else None, "sample_best_fraction_of_optimum": round(float(truth.max() / landscape.optimum), 3),
            "truth_s_per_design": round(per_design, 3)}


def main(argv: list[str] | None = None) -> int:
    """Print one JSON object: per landscape, the ranking figures."""
    p = parser("In-silico ranking vs the truth on the loop benchmark's cells.")
    p.add_argument("--landscapes", default=",".join(CELLS))
    p.add_argument("--designs", type=int, default=150)
    args = p.parse_args(argv)
    names = [n for n in args.landscapes.split(",") if n]
    unknown = [n for n in names if n not in CELLS]
    if unknown:
        p.error(f"--landscapes: unknown cell landscape {unknown[0]!r}")
    emit({name: ranking(name, args.designs) for name in names}, args.json, "in-silico ranking")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
