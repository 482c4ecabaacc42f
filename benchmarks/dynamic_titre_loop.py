"""A short closed loop on the titre objective: fluxlab's hybrid (planning with the dynamic model's titre) vs random.

Per seed and strategy: the succinate demo (examples/succinate_core.toml) with `objective.over_time` = the titre
of succ_e at 16 h, batch cultures from 20 mM glucose sampled every 2 h, run to completion with
`fluxlab campaign run` on a fresh embedded stack (every service, nats-server, the robot simulator). Scored on the
simulated cell without noise: the titre at harvest of the campaign's named best design, and the best noise-free
titre among every design it built whose noise-free growth meets the floor (read from the stopped stack's
tracker database).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from schemas import Design
from services.runtime.specfile import load_spec
from services.tracker.queries import measurements
from services.tracker.repository import Repository
from simulators.batch_runs import BatchRuns
from simulators.cells import make_cell

ROOT = Path(__file__).resolve().parents[1]
TIMES = [float(t) for t in range(0, 17, 2)]


def spec_text(seed: int, strategy: str, budget: int, batch: int) -> str:
    """The demo spec with the titre objective, a time course, this seed, strategy and budget (`hybrid_endpoint`:
    fluxlab's hybrid on the demo's own end-point objective, EX_succ_e, with the same time course)."""
    endpoint = strategy == "hybrid_endpoint"
    strategy = "hybrid" if endpoint else strategy
    text = (ROOT / "examples" / "succinate_core.toml").read_text()
    text = text.replace("budget = 48", f"budget = {budget}").replace("batch_size = 8", f"batch_size = {batch}")
    text = text.replace("seed = 0", f"seed = {seed}").replace('strategy = "hybrid"', f'strategy = "{strategy}"')
    if not endpoint:
        text = text.replace("growth_floor = 0.2\n", 'growth_floor = 0.2\n\n[objective.over_time]\nkind = "titre"\n'
                            'metabolite = "succ_e"\nharvest_h = 16.0\n')
    name = f"titre-{strategy}{'-endpoint' if endpoint else ''}-{seed}"
    return (f'id = "{name}"\n{text}\n[readout.time_course]\ntimes_h = {TIMES}\n'
            "initial_mM = { glc__D_e = 20.0 }\n")


def true_titre(runs: BatchRuns, design: Design) -> float:
    """Noise-free titre of succ_e at 16 h."""
    curve = runs.culture().simulate({"glc__D_e": 20.0}, np.asarray(TIMES), runs.regulated(design),
                                    runs.coupled(design, ["succ_e"], ["glc__D_e"]))
    return float(curve.concentrations["succ_e"][-1])


def run_one(seed: int, strategy: str, budget: int, batch: int) -> dict[str, Any]:
    """One campaign; its named best's true titre and the best true titre it built (meeting the floor)."""
    folder = Path(tempfile.mkdtemp(prefix="titre-loop-"))
    spec_file = folder / "spec.toml"
    spec_file.write_text(spec_text(seed, strategy, budget, batch))
    spec = load_spec(spec_file)
    done = subprocess.run([sys.executable, "-m", "services.cli", "campaign", "run", str(spec_file), "--data-dir",
                           str(folder / "stack"), "--json"], capture_output=True, text=True, timeout=1800,
                          env={**os.environ, "FLUXLAB_NAMESPACE": f"tl{seed}{strategy.replace('_', '')}"})
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-2000:])
    summary = json.loads(done.stdout)
    cell = make_cell("textbook")
    runs = BatchRuns(cell)
    floor = spec.objective.growth_floor * cell.respond(Design()).growth
    best = Design.model_validate(summary["best_design"]) if summary.get("best_design") else None
    repo = Repository(f"sqlite:///{(folder / 'stack' / 'fluxlab.db').resolve()}", migrate=False)
    built = {m.design.key(): m.design for m in measurements(repo, spec.id)}
    feasible = [true_titre(runs, d) for d in built.values() if cell.respond(d).growth >= floor]
    return {"seed": seed, "strategy": strategy, "n_measurements": summary["n_measurements"],
            "named_best_true_titre": true_titre(runs, best) if best is not None else None,
            "best_built_true_titre": max(feasible) if feasible else None, "n_designs": len(built)}


def main(seeds: tuple[int, ...] = (0, 1, 2), budget: int = 24, batch: int = 8,
         strategies: tuple[str, ...] = ("hybrid", "random", "hybrid_endpoint")) -> dict[str, Any]:
    """Every seed for each strategy, and the medians."""
    rows = [run_one(s, strategy, budget, batch) for s in seeds for strategy in strategies]
    medians = {}
    for strategy in strategies:
        mine = [r for r in rows if r["strategy"] == strategy]
        medians[strategy] = {k: float(np.median([r[k] for r in mine if r[k] is not None]))
                             for k in ("named_best_true_titre", "best_built_true_titre")}
    return {"per_run": rows, "median": medians, "budget": budget, "batch_size": batch}


if __name__ == "__main__":
    args = dict(a.split("=") for a in sys.argv[1:])
    seeds = tuple(int(s) for s in args.pop("seeds", "0,1,2").split(","))
    strategies = tuple(args.pop("strategies", "hybrid,random,hybrid_endpoint").split(","))
    print(json.dumps(main(seeds, strategies=strategies, **{k: int(v) for k, v in args.items()}), indent=1))
