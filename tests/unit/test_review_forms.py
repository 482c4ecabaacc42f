"""Designs typed by reviewers, bench measurements entered by hand, and dashboard figures (no broker)."""

from __future__ import annotations

import pytest
from factories import campaign_spec

from schemas import Design, Measurement, Value
from services.review import bench, charts
from services.review.forms import DesignInputError, design_form_values, design_from_form


def test_form_round_trip_and_errors() -> None:
    design = Design(knockouts=["b2297", "b1380"], expression={"b3956": 2.5}, medium={"EX_o2_e": 5.0})
    form = design_form_values(design)
    assert design_from_form(**form).key() == design.key()
    assert design_from_form("b1380, b1380", "b3956=1", "").expression == {}
    with pytest.raises(DesignInputError, match=r"expression\.b3956"):
        design_from_form("", "b3956=lots", "")
    with pytest.raises(DesignInputError, match="NAME=NUMBER"):
        design_from_form("", "b3956", "")
    with pytest.raises(DesignInputError):
        design_from_form("", "b3956=-2", "")


def _order(run_id: str = "run-1") -> dict[str, object]:
    return {"run_id": run_id, "campaign_id": "c1", "design": Design(knockouts=["b1380"]).model_dump(mode="json")}


def test_bench_measurement_places_the_objective_readout() -> None:
    spec = campaign_spec("c1")
    m = bench.bench_measurement(_order(), spec, 0.4, 2.0, bench.parse_fluxes("PGI=4.2, PFK=7.1+-0.3"))
    assert m.id == "bench-run-1" and m.source == "bench"
    assert m.readout("EX_succ_e") == 2.0 and "EX_succ_e" in m.products and m.readout("growth") == 0.4
    assert m.fluxes["PFK"] == Value(value=7.1, sd=0.3)
    with pytest.raises(bench.BenchInputError, match="growth"):
        bench.bench_measurement(_order(), spec, None, None)
    with pytest.raises(bench.BenchInputError, match="not a number"):
        bench.parse_number("fast", "growth")
    with pytest.raises(bench.BenchInputError, match="REACTION=VALUE"):
        bench.parse_fluxes("PGI")


def test_bench_form_refuses_negative_growth_and_unknown_fluxes() -> None:
    spec = campaign_spec("c1")
    with pytest.raises(bench.BenchInputError, match=r"growth: -0\.2 is negative"):
        bench.bench_measurement(_order(), spec, -0.2, 1.0)
    with pytest.raises(bench.BenchInputError, match=r"fluxes\.FOO: unknown reaction 'FOO' in model 'textbook'"):
        bench.bench_measurement(_order(), spec, 0.4, 1.0, bench.parse_fluxes("FOO=1"))
    with pytest.raises(bench.BenchInputError, match=r"fluxes\.PGX: unknown reaction 'PGX'.*did you mean"):
        bench.bench_measurement(_order(), spec, 0.4, 1.0, bench.parse_fluxes("PGX=1"))
    with pytest.raises(bench.BenchInputError, match=r"row 1 \(run run-1\), column flux:FOO: unknown reaction"):
        bench.csv_bench_measurements("run_id,growth,flux:FOO\nrun-1,0.3,1\n", spec, {"run-1": _order()})
    with pytest.raises(bench.BenchInputError, match=r"column growth: -0\.3 is negative"):
        bench.csv_bench_measurements("run_id,growth\nrun-1,-0.3\n", spec, {"run-1": _order()})


def test_csv_rows_must_quote_open_runs_with_matching_designs() -> None:
    orders = {"run-1": _order()}
    (m,) = bench.csv_bench_measurements("run_id,growth\nrun-1,0.3\n", campaign_spec("c1"), orders)
    assert m.design.knockouts == ["b1380"] and m.source == "bench"
    with pytest.raises(bench.BenchInputError, match="not an open bench run"):
        bench.csv_bench_measurements("run_id,growth\nrun-2,0.3\n", campaign_spec("c1"), orders)
    with pytest.raises(bench.BenchInputError, match="does not match"):
        bench.csv_bench_measurements("run_id,ko,growth\nrun-1,b2297,0.3\n", campaign_spec("c1"), orders)
    with pytest.raises(bench.BenchInputError, match="column growth"):
        bench.csv_bench_measurements("run_id,growth\nrun-1,NaN\n", campaign_spec("c1"), orders)


def test_dashboard_series_and_pngs() -> None:
    spec = campaign_spec("c1")
    measurements = [Measurement(id=f"m{i}", campaign_id="c1", run_id=f"run-{i}", design=Design(),
                                products={"EX_succ_e": Value(value=v)}).model_dump(mode="json")
                    for i, v in enumerate([1.0, 3.0, 2.0])]
    orders = [{"run_id": f"run-{i}", "proposal_id": f"p{i}"} for i in range(3)]
    proposals = [{"id": "p1", "predicted": {"EX_succ_e": {"mean": 2.5, "sd": 0.3}}}]
    models = [{"version": 1, "metrics": {"r2": 0.4, "note": "x"}}, {"version": 2, "metrics": {"r2": 0.7}}]
    data = charts.dashboard_data(spec, measurements, orders, proposals, models)
    assert data.best_so_far == [1.0, 3.0, 3.0]
    assert data.predicted_vs_measured == [(2.5, 0.3, 3.0)]
    assert data.model_metrics == {"r2": [0.4, 0.7]}
    for render in charts.CHARTS.values():
        assert render(data).startswith(b"\x89PNG")
        assert render(charts.DashboardData(target="EX_succ_e")).startswith(b"\x89PNG")


def test_plate_map_template_round_trips_through_the_upload() -> None:
    spec = campaign_spec("c1")
    orders = [_order(f"run-{i}") for i in range(13)]
    orders[1]["design"] = Design(knockouts=["b2297"], expression={"b3956": 2.0}).model_dump(mode="json")
    text = bench.csv_template(spec, orders)
    lines = text.splitlines()
    assert lines[0] == "run_id,plate_id,well,ko,expr:b3956,growth,sd:growth,product:EX_succ_e,sd:product:EX_succ_e"
    assert lines[1].startswith("run-0,plate1,A1,b1380,") and lines[13].startswith("run-12,plate1,B1,")
    filled = "\n".join([lines[0], lines[2].replace(",,,,", ",0.5,0.01,2.5,0.1")]) + "\n"
    (m,) = bench.csv_bench_measurements(filled, spec, {o["run_id"]: o for o in orders})  # type: ignore[misc]
    assert m.run_id == "run-1" and m.readout("EX_succ_e") == 2.5 and m.well == "A2"


def test_two_objective_dashboard_draws_the_front_and_the_hypervolume() -> None:
    one = campaign_spec("c1")
    spec = one.model_copy(update={"objective": one.objective.model_copy(update={"second_target": "growth"})})
    assert "pareto" in charts.charts_for(spec) and "pareto" not in charts.charts_for(one)
    values = [(0.0, 0.9), (3.0, 0.4), (2.0, 0.6)]
    measurements = [Measurement(id=f"m{i}", campaign_id="c1", run_id=f"run-{i}",
                                design=Design() if i == 0 else Design(knockouts=[f"b000{i}"]),
                                growth_rate=Value(value=g), products={"EX_succ_e": Value(value=v)}
                                ).model_dump(mode="json") for i, (v, g) in enumerate(values)]
    orders = [{"run_id": f"run-{i}", "proposal_id": f"p{i}"} for i in range(3)]
    proposals = [{"id": f"p{i}", "round": 1 + i // 2} for i in range(3)]
    data = charts.dashboard_data(spec, measurements, orders, proposals, [])
    assert data.two_objectives == values and len(data.pareto) == 3
    assert data.hypervolume is not None and data.hypervolume["rounds"] == [1, 2]
    assert data.hypervolume["by_round"][1] > data.hypervolume["by_round"][0] > 0
    assert charts.pareto_png(data).startswith(b"\x89PNG")
