"""What an FBA prior can buy on Biolog knockouts never seen: gradient boosting with and without FBA features.

`fluxlab bench biolog-fba-probe [--seeds 0,1,2] [--json]` (needs `../shared/data/biolog_ko_dev` and
scikit-learn; skips with the reason otherwise). For every row, iJO1366 FBA growth with the row's
knockout reactions removed (ids iJO1366 lacks are left out) on the README's medium rule: every exchange
closed for uptake, the base medium open (20 components at 10, CO2/H+/H2O at 50 mmol/gDW/h), each listed
component present at 10. `fba_ratio` = that growth / the wild type's on the same medium (1 where the
wild type does not grow). Then HistGradientBoosting (500 iterations), 5 folds holding whole knockout
groups out, on: the medium columns (`media`), plus `fba_ratio` (`media+fba_ratio`), plus FBA growth, wild
type and ratio (`media+fba`), and all columns plus those (`all+fba`). JSON: {"fba_s", "fba_auc" (FBA
growth alone scoring y >= 0.165), "seeds", "results": {features: {"q2", "roc_auc"} medians over seeds},
"per_seed"}.
"""

from __future__ import annotations

import csv
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.common import emit, parser, progress_console
from benchmarks.predictor_real import DATA_DIR

BASE_10 = ["EX_nh4_e", "EX_pi_e", "EX_fe3_e", "EX_mn2_e", "EX_fe2_e", "EX_zn2_e", "EX_mg2_e", "EX_ca2_e", "EX_ni2_e",
           "EX_cu2_e", "EX_sel_e", "EX_cobalt2_e", "EX_mobd_e", "EX_so4_e", "EX_k_e", "EX_na1_e", "EX_cl_e", "EX_o2_e",
           "EX_tungs_e", "EX_slnt_e"]
BASE = {**dict.fromkeys(BASE_10, 10.0), "EX_co2_e": 50.0, "EX_h_e": 50.0, "EX_h2o_e": 50.0}
"""The base medium of biolog_ko_dev/README.txt (uptake bounds, mmol/gDW/h)."""


def fba_growth(header: list[str], rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """FBA growth per row (knockouts applied) and of the wild type on the row's medium."""
    from services.domain.organism import FastFBA, load_organism

    org = load_organism("iJO1366")
    fba = FastFBA(org)
    lb0, ub0 = org.lb.copy(), org.ub.copy()
    org.medium_bounds(lb0, ub0, {ex: 0.0 for ex in org.exchange_ids})
    org.medium_bounds(lb0, ub0, BASE)
    names = [c.split(":", 1) for c in header]
    cache: dict[tuple[tuple[str, ...], tuple[str, ...]], float] = {}

    def solve(kos: tuple[str, ...], medium: tuple[str, ...]) -> float:
        if (kos, medium) not in cache:
            lb, ub = lb0.copy(), ub0.copy()
            org.medium_bounds(lb, ub, {ex: 10.0 for ex in medium})
            for k in kos:
                lb[org.reaction_index(k)] = ub[org.reaction_index(k)] = 0.0
            cache[(kos, medium)] = fba.optimize(lb, ub).growth
        return cache[(kos, medium)]

    growth, wild = np.zeros(len(rows)), np.zeros(len(rows))
    for i, row in enumerate(rows):
        on = [names[j] for j in np.flatnonzero(row == 1.0)]
        kos = tuple(n for p, n in on if p == "ko" and org.has_reaction(n))
        medium = tuple(n for p, n in on if p == "medium" and n in org.exchange_ids)
        growth[i], wild[i] = solve(kos, medium), solve((), medium)
    return growth, wild


def grouped_cv(X: np.ndarray, y: np.ndarray, groups: list[str], seed: int) -> dict[str, float]:
    """Q² and ROC-AUC (y >= 0.165) of out-of-fold gradient boosting, whole groups per fold."""
    from sklearn.ensemble import HistGradientBoostingRegressor
    from sklearn.metrics import roc_auc_score

    unique = sorted(set(groups))
    perm = np.random.default_rng(seed).permutation(len(unique))
    fold = {g: perm[i] % 5 for i, g in enumerate(unique)}
    f = np.array([fold[g] for g in groups])
    oof = np.zeros(len(y))
    for k in range(5):
        test = f == k
        reg = HistGradientBoostingRegressor(max_iter=500, random_state=seed, early_stopping=False)
        oof[test] = reg.fit(X[~test], y[~test]).predict(X[test])
    q2 = 1.0 - float(((y - oof) ** 2).sum() / ((y - y.mean()) ** 2).sum())
    return {"q2": q2, "roc_auc": float(roc_auc_score(y >= 0.165, oof))}


def run(path: Path, seeds: list[int]) -> dict[str, Any]:
    """FBA features, then grouped gradient-boosting CV per feature set and seed."""
    with path.open(newline="") as fh:
        lines = list(csv.reader(fh))
    header, A = lines[0], np.array(lines[1:], dtype=float)
    y = A[:, header.index("y:growth")]
    ko = [j for j, c in enumerate(header) if c.startswith("ko:")]
    md = [j for j, c in enumerate(header) if c.startswith("medium:")]
    groups = ["|".join(str(j) for j in ko if A[i, j] == 1.0) for i in range(len(A))]
    started = time.perf_counter()
    growth, wild = fba_growth(header, A)
    fba_s = time.perf_counter() - started
    ratio = np.where(wild > 1e-6, growth / np.maximum(wild, 1e-9), 1.0)
    from sklearn.metrics import roc_auc_score

    sets = {"media": A[:, md], "media+fba_ratio": np.column_stack([A[:, md], ratio]),
            "media+fba": np.column_stack([A[:, md], ratio, growth, wild]),
            "all+fba": np.column_stack([A[:, md + ko], ratio, growth, wild])}
    per_seed: dict[str, list[dict[str, float]]] = {}
    for seed in seeds:
        for name, X in sets.items():
            progress_console.print(f"seed {seed}: {name}")
            per_seed.setdefault(name, []).append(grouped_cv(X, y, groups, seed))
    results = {name: {k: float(np.median([r[k] for r in runs])) for k in ("q2", "roc_auc")}
               for name, runs in per_seed.items()}
    return {"rows": len(y), "fba_s": fba_s, "fba_auc": float(roc_auc_score(y >= 0.165, growth)),
            "fba_lethal_rows": float((ratio < 0.5).mean()), "seeds": seeds, "results": results,
            "per_seed": per_seed}


def main(argv: list[str] | None = None) -> int:
    """`fluxlab bench biolog-fba-probe [--seeds 0,1,2] [--json]`."""
    p = parser("What an FBA prior buys on Biolog knockout groups never seen (gradient boosting)")
    p.add_argument("--seeds", default="0")
    p.add_argument("--data-dir", type=Path, default=DATA_DIR)
    args = p.parse_args(argv)
    path = args.data_dir / "biolog_ko_dev" / "biolog_ko_dev.csv"
    try:
        import sklearn  # noqa: F401
    except ImportError:
        emit({"skipped": "scikit-learn is not installed (a test dependency)"}, args.json, "biolog-fba-probe")
        return 0
    if not path.is_file():
        emit({"skipped": f"not present at {path}"}, args.json, "biolog-fba-probe")
        return 0
    emit(run(path, [int(s) for s in args.seeds.split(",")]), args.json, "biolog-fba-probe")
    return 0
