"""A campaign that optimises a titre at harvest (`objective.over_time`), through every service on a real
nats-server: the work orders follow succinate, the robot simulator grows each design in batch culture, the
predictor trains the design-aware dynamic model on the curves and answers the objective with its predicted
titre, so later proposals carry the dynamic model's predictions; the summary names the best titre."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_cli import fluxlab
from test_json_stdout import fluxlab_json, running_stack

from services.domain.objective import objective_reading
from services.runtime.specfile import load_spec
from services.tracker.timecourse_csv import load_time_courses

ROOT = Path(__file__).resolve().parents[2]
TIMES = [0.0, 2.0, 4.0, 6.0, 8.0, 10.0, 12.0, 14.0, 16.0]


def test_a_titre_campaign_plans_with_the_dynamic_model(tmp_path: Path, namespace: str,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLUXLAB_PREDICTOR_DYNAMIC_EPOCHS", "150")
    monkeypatch.setenv("FLUXLAB_PREDICTOR_DYNAMIC_MEMBERS", "2")
    text = (ROOT / "examples" / "succinate_core.toml").read_text()
    text = text.replace("budget = 48", "budget = 12").replace("batch_size = 8", "batch_size = 4")
    text = text.replace('growth_floor = 0.2\n', 'growth_floor = 0.2\n\n[objective.over_time]\nkind = "titre"\n'
                        'metabolite = "succ_e"\nharvest_h = 16.0\n')
    spec_file = tmp_path / "spec.toml"
    spec_file.write_text(f'id = "titre-campaign"\n{text}\n[readout.time_course]\ntimes_h = {TIMES}\n'
                         'initial_mM = { glc__D_e = 20.0 }\n')
    spec = load_spec(spec_file)
    assert spec.objective.over_time is not None
    with running_stack(tmp_path, namespace, spec) as (env, where):
        summary = fluxlab_json("campaign", "run", str(spec_file), *where, "--json", env=env)
        assert summary["n_measurements"] + summary["n_failed"] == 12 and summary["n_measurements"] >= 10
        out = tmp_path / "curves"
        exported = fluxlab("export", "titre-campaign", "--format", "timecourse", "--out", str(out), *where, env=env)
        assert exported.returncode == 0, exported.stderr[-2000:]
        runs = load_time_courses(out / "curves.csv", out / "runs.csv", "titre-campaign")
        assert all(r.time_courses["succ_e"].times == TIMES for r in runs)  # the product is followed
        titres = [objective_reading(spec, r) for r in runs]
        values = [v.value for v in titres if v is not None]
        assert len(values) == len(runs)
        assert any(v == pytest.approx(summary["best_reading"], rel=1e-4) for v in values)  # a titre at 16 h
        assert summary["best_reading"] > 0.5 and max(values) < 40.0  # mM: bounded by the glucose's carbon
        report = fluxlab_json("report", "titre-campaign", "--out", str(tmp_path / "report"), "--no-truth", "--json",
                              *where, env=env)
        dynamic = [m for m in report["models"] if m["kind"] == "hybrid+dynamic"]
        assert dynamic and all(m["metrics"]["dynamic_objective"] == 1.0 for m in dynamic)
        assert dynamic[-1]["metrics"]["dynamic_n_curves"] >= 4
        listed = fluxlab("review", "list", "-c", "titre-campaign", "--status", "measured", "--json", *where, env=env)
        assert listed.returncode == 0, listed.stderr[-2000:]
        records = json.loads(listed.stdout)["proposals"]
        planned = [r for r in records if r.get("model_version") and "EX_succ_e" in r.get("predicted", {})]
        assert planned, "no proposal was planned with a trained model"
        dynamic_versions = {m["version"] for m in dynamic}
        assert any(r["model_version"] in dynamic_versions for r in planned)
        for r in planned:
            p = r["predicted"]["EX_succ_e"]
            assert p["sd"] > 0 and -1.0 < p["mean"] < 30.0  # a titre in mM with its band, not a flux
