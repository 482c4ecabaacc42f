"""A campaign whose spec asks for time courses, through every service on a real nats-server: the robot
simulator grows each design in batch culture, the tracker keeps the curves, and `fluxlab export --format
timecourse` writes them in the long form `fluxlab predictor ... --model dynamic` reads; the report draws them."""

from __future__ import annotations

from pathlib import Path

from test_cli import fluxlab
from test_json_stdout import fluxlab_json, running_stack

from services.runtime.specfile import load_spec
from services.tracker.timecourse_csv import load_time_courses

ROOT = Path(__file__).resolve().parents[2]
TIMES = [0.0, 2.0, 4.0, 6.0, 8.0, 10.0]


def test_a_time_course_campaign_measures_curves_and_exports_them(tmp_path: Path, namespace: str) -> None:
    text = (ROOT / "examples" / "succinate_core.toml").read_text()
    text = text.replace("budget = 48", "budget = 8").replace("batch_size = 8", "batch_size = 4")
    spec_file = tmp_path / "spec.toml"
    spec_file.write_text(f'id = "tc-campaign"\n{text}\n[readout.time_course]\ntimes_h = {TIMES}\n'
                         'initial_mM = { glc__D_e = 15.0 }\n')
    spec = load_spec(spec_file)
    with running_stack(tmp_path, namespace, spec) as (env, where):
        summary = fluxlab_json("campaign", "run", str(spec_file), *where, "--json", env=env)
        assert summary["n_measurements"] + summary["n_failed"] == 8 and summary["n_measurements"] >= 6
        assert summary["best_value"] is not None  # the end-point readouts still drive the loop
        out = tmp_path / "curves"
        exported = fluxlab("export", "tc-campaign", "--format", "timecourse", "--out", str(out), *where, env=env)
        assert exported.returncode == 0, exported.stderr[-2000:]
        runs = load_time_courses(out / "curves.csv", out / "runs.csv", "tc-campaign")
        assert len(runs) == summary["n_measurements"]
        for run in runs:
            assert run.initial_concentrations == {"glc__D_e": 15.0}
            assert run.time_courses["ln_od"].times == TIMES
            assert run.time_courses["glc__D_e"].unit == "mM" and "ac_e" in run.time_courses
        grown = [r.time_courses["ln_od"].values[-1] - r.time_courses["ln_od"].values[0] for r in runs]
        assert max(grown) > 2.0  # the growth-floor-respecting designs grow in batch
        assert any(r.design.knockouts for r in runs)  # designs, not just the wild type
        header = (out / "curves.csv").read_text().splitlines()[0]
        assert header.startswith("run_id,time_h,") and "y:ln_od" in header and "sd:ln_od" in header
        plain = fluxlab("export", "tc-campaign", "--out", str(tmp_path / "m.csv"), *where, env=env)
        assert plain.returncode == 0 and "y:growth" in (tmp_path / "m.csv").read_text().splitlines()[0]
        report = fluxlab_json("report", "tc-campaign", "--out", str(tmp_path / "report"), "--no-truth", "--json",
                              *where, env=env)
        assert report["time_courses"]["n_runs"] == len(runs) and report["time_courses"]["n_predicted"] == 0
        assert (tmp_path / "report" / "time_courses.png").read_bytes().startswith(b"\x89PNG")
        assert "measurements only" in (tmp_path / "report" / "report.html").read_text()
        bad = fluxlab("export", "tc-campaign", "--format", "timecourse", *where, env=env)
        assert bad.returncode == 2 and "out: --format timecourse writes two files" in bad.stderr
