"""Speed and accuracy of the organism core and the true cell.

`solves_per_s_core`: random <= 3 gene-knockout designs (bounds precomputed) solved by
FastFBA on E. coli core, including its exact shortcut (wild-type optimum reused when it
stays feasible; `reused_fraction`); `lp_solves_per_s_core`: the same with the shortcut
off (every design an LP). `reference_solves_per_s_core`: the first designs through
COBRApy's default `model.optimize()` with `with model:` gene knockouts, same run;
`speedup` = solves_per_s_core / reference; `max_abs_objective_diff` over those designs.
`solves_per_s_ijo1366`: FastFBA on iJO1366. `truecell_responses_per_s_core`: unique
designs through TrueCell.respond (linear MOMA + enzyme budget). Figures are medians.
"""

from __future__ import annotations

import time
import warnings
from typing import Any

import numpy as np

from benchmarks.common import emit, median, parser, progress_console
from schemas.design import Design
from services.domain.organism import FastFBA, Organism, load_organism
from simulators.truecell import TrueCell


def random_designs(organism: Organism, n: int, seed: int, max_knockouts: int = 3) -> list[Design]:
    """n random designs of 1..max_knockouts gene knockouts."""
    rng = np.random.default_rng(seed)
    genes = sorted(organism.gene_ids)
    return [Design(knockouts=[str(g) for g in rng.choice(genes, rng.integers(1, max_knockouts + 1), replace=False)])
            for _ in range(n)]


def fastfba_rate(organism: Organism, designs: list[Design], reuse: bool) -> tuple[float, list[float], float]:
    """Solves per second, objective values, and the fraction answered by the shortcut."""
    bounds = [organism.design_bounds(d) for d in designs]
    fba = FastFBA(organism, reuse_reference=reuse)
    start = time.perf_counter()
    results = fba.batch(bounds)
    elapsed = time.perf_counter() - start
    return len(designs) / elapsed, [r.objective_value for r in results], fba.reused / len(designs)


def cobra_rate(organism: Organism, designs: list[Design]) -> tuple[float, list[float]]:
    """COBRApy reference: gene knockouts inside `with model:` then model.optimize()."""
    model = organism.cobra_model
    values = []
    start = time.perf_counter()
    for design in designs:
        with model, warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            for gene in design.knockouts:
                model.genes.get_by_id(gene).knock_out()
            solution = model.optimize()
            values.append(solution.objective_value if solution.status == "optimal" else 0.0)
    return len(designs) / (time.perf_counter() - start), values


def truecell_rate(cell: TrueCell, designs: list[Design]) -> float:
    """Unique true-cell responses per second (memo cleared first)."""
    cell._memo.clear()
    start = time.perf_counter()
    for design in designs:
        cell.respond(design)
    return len(designs) / (time.perf_counter() - start)


def main(argv: list[str] | None = None) -> int:
    """Run the simulator benchmark and print its figures."""
    args = parser(__doc__ or "simulator benchmark").parse_args(argv)
    n_core, n_ref, n_ijo, n_cell = (300, 50, 30, 100) if args.quick else (2000, 300, 300, 1000)
    core, ijo = load_organism("textbook"), load_organism("iJO1366")
    cell = TrueCell("textbook")
    runs: dict[str, list[float]] = {k: [] for k in ("fast", "lp", "ref", "ijo", "cell", "diff", "reused")}
    for rep in range(max(1, args.repeat)):
        progress_console.log(f"repeat {rep + 1}/{args.repeat}")
        designs = random_designs(core, n_core, seed=rep)
        rate, values, reused = fastfba_rate(core, designs, reuse=True)
        lp_rate, _, _ = fastfba_rate(core, designs, reuse=False)
        ref_rate, ref_values = cobra_rate(core, designs[:n_ref])
        runs["fast"].append(rate)
        runs["lp"].append(lp_rate)
        runs["reused"].append(reused)
        runs["ref"].append(ref_rate)
        runs["diff"].append(float(np.max(np.abs(np.array(values[:n_ref]) - np.array(ref_values)))))
        runs["ijo"].append(fastfba_rate(ijo, random_designs(ijo, n_ijo, seed=rep), reuse=True)[0])
        runs["cell"].append(truecell_rate(cell, random_designs(core, n_cell, seed=100 + rep)))
    result: dict[str, Any] = {
        "solves_per_s_core": round(median(runs["fast"]), 1),
        "lp_solves_per_s_core": round(median(runs["lp"]), 1),
        "reused_fraction": round(median(runs["reused"]), 3),
        "solves_per_s_ijo1366": round(median(runs["ijo"]), 1),
        "reference_solves_per_s_core": round(median(runs["ref"]), 1),
        "speedup": round(median(runs["fast"]) / median(runs["ref"]), 2),
        "max_abs_objective_diff": max(runs["diff"]),
        "truecell_responses_per_s_core": round(median(runs["cell"]), 1),
        "designs": {"core": n_core, "reference": n_ref, "ijo1366": n_ijo, "truecell": n_cell, "repeat": args.repeat},
    }
    emit(result, args.json, "simulator benchmark")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
