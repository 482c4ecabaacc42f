"""The line `fluxlab demo` ends with names genes and gives units, as the rest of the UI does."""

from __future__ import annotations

from pathlib import Path

from schemas import Design
from services.cli.demo import final_line
from simulators.examples import succinate_core_spec


def test_final_demo_line_names_the_best_design_by_gene_with_units() -> None:
    spec = succinate_core_spec(seed=0, budget=16, batch_size=8)
    best = Design(knockouts=["b0723", "b1852"], expression={"b0720": 4.0, "b3956": 0.25})
    full = {"best_value": 3.792960691410685, "best_true_value": 3.679680682, "true_optimum": 4.06543144,
            "best_design": best.model_dump(mode="json")}
    line = final_line(spec, full, Path("out/report.html"))
    assert line == ("best (posterior) 3.793 mmol/gDW/h, true value 3.68, true optimum 4.065 "
                    "(ΔsdhA (b0723) Δzwf (b1852), gltA (b0720)×4, ppc (b3956)×0.25); report: out/report.html")


def test_final_demo_line_without_a_measurement() -> None:
    spec = succinate_core_spec(seed=0, budget=16, batch_size=8)
    line = final_line(spec, {"best_value": None, "best_design": None, "true_optimum": None}, Path("r.html"))
    assert line == "best (posterior) – (no design measured); report: r.html"


def test_final_demo_line_gives_the_posterior_interval() -> None:
    spec = succinate_core_spec(seed=0, budget=16, batch_size=8)
    best = Design(knockouts=["b0723"])
    full = {"best_value": 3.75, "best_interval95": [3.6, 3.9], "best_posterior": {"n_readings": 3},
            "best_true_value": 3.7, "true_optimum": 4.0, "best_design": best.model_dump(mode="json")}
    line = final_line(spec, full, Path("r.html"))
    assert line.startswith("best (posterior) 3.75 mmol/gDW/h (95 % 3.6 to 3.9, 3 reading(s)), true value 3.7,")
