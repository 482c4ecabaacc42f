"""`fluxlab analyze` as a user runs it: over a campaign in the running tracker, over a CSV, and bad input."""

from __future__ import annotations

import asyncio
import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from factories import campaign_spec, created
from sqlalchemy import func, select

from schemas import MeasurementSource
from services.runtime.bus import Bus
from services.runtime.nats_server import EmbeddedNats
from services.runtime.settings import Settings
from services.tracker.csvio import write_measurements
from services.tracker.service import TrackerService
from services.tracker.tables import MeasurementRow
from simulators.screening import ScreenConfig, simulate_screen


def fluxlab(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run the CLI in a subprocess."""
    return subprocess.run([sys.executable, "-m", "services.cli", *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=300)


def _one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, lines
    return lines[0]


def test_csv_json_is_one_document_with_sorted_effects(tmp_path: Path) -> None:
    screen = simulate_screen(ScreenConfig(n_batches=12), seed=4)
    path = tmp_path / "screen.csv"
    path.write_text(write_measurements(screen.measurements))
    result = fluxlab("analyze", "--data", str(path), "--by", "plate_id", "--json")
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["by"] == "plate_id" and document["n_runs"] == len(screen.measurements)
    effects = [abs(math.log(a["mh_rr"])) for a in document["associations"]]
    assert effects == sorted(effects, reverse=True)
    assert {a["intervention"] for a in document["associations"]} == set(screen.true_rr)
    assert document["classifier"]["roc_auc"] is not None


def test_bad_input_is_one_line(tmp_path: Path) -> None:
    text = tmp_path / "text.csv"
    text.write_text("run_id,ko,value:EX_succ_e,batch_id\nr1,sdhA,high,b1\n")
    assert _one_error_line(fluxlab("analyze", "--data", str(text))) == (
        "error: row 1, column 'value:EX_succ_e': 'high' is not a number")
    assert "does not exist" in _one_error_line(fluxlab("analyze", "--data", str(tmp_path / "nope.csv")))
    assert "give a campaign id or --data" in _one_error_line(fluxlab("analyze"))
    flat = tmp_path / "flat.csv"
    flat.write_text("run_id,ko,value:EX_succ_e,batch_id\nr1,sdhA,1.0,b1\nr2,,1.0,b1\nr3,pta,0.5,b1\n")
    assert _one_error_line(fluxlab("analyze", "--data", str(flat), "--by", "well")) == (
        "error: by: 'well' is not a stratum column (use batch_id or plate_id)")
    result = fluxlab("analyze", "--data", str(flat), "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["notes"][-1].startswith("no run is a hit")


async def test_campaign_analysis_reads_the_tracker(settings: Settings, bus: Bus, nats_server: EmbeddedNats,
                                                   namespace: str) -> None:
    screen = simulate_screen(ScreenConfig(n_batches=10), seed=3, campaign_id="c1")
    await bus.publish_event(created(campaign_spec("c1")))
    items = [m.model_copy(update={"source": MeasurementSource.IMPORT}) for m in screen.measurements]
    await bus.publish_many([(bus.subjects.event("measurement", "c1"), m) for m in items])
    async with TrackerService(settings, bus=bus) as tracker:
        repo = tracker.repo
        assert repo is not None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with repo.engine.connect() as conn:
                if conn.execute(select(func.count()).select_from(MeasurementRow)).scalar_one() >= len(items):
                    break
            await asyncio.sleep(0.2)
        env = {"FLUXLAB_NATS_URL": nats_server.url, "FLUXLAB_NAMESPACE": namespace}
        result = await asyncio.to_thread(fluxlab, "analyze", "c1", "--readout", "EX_succ_e", "--json", env=env)
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["n_runs"] == len(items) and document["n_strata"] == 10
    assert document["log_binomial"]["model"] in ("log-binomial", "poisson-robust")


SINGLE_STRATUM = ("run_id,ko,value:EX_succ_e,batch_id\nr1,,1.0,b1\nr2,,1.0,b1\nr3,sdhA,2.0,b1\nr4,sdhA,2.1,b1\n"
                  "r5,sdhA,0.5,b1\nr6,pta,0.5,b1\nr7,pta,0.6,b1\nr8,pta,2.2,b1\n")
ZERO_CELL = ("run_id,ko,value:EX_succ_e,batch_id\nr1,,1.0,b1\nr2,,1.0,b1\nr3,sdhA,2.0,b1\nr4,sdhA,0.5,b1\n"
             "r5,pta,0.5,b1\nr6,pta,0.6,b1\nr7,,1.0,b2\nr8,,1.0,b2\nr9,sdhA,2.0,b2\nr10,sdhA,2.1,b2\n"
             "r11,pta,0.5,b2\nr12,pta,0.4,b2\n")


def _analyze_csv(tmp_path: Path, text: str) -> dict[str, dict[str, object]]:
    path = tmp_path / "data.csv"
    path.write_text(text)
    result = fluxlab("analyze", "--data", str(path), "--json")
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
    return {a["intervention"]: a for a in json.loads(result.stdout)["associations"]}


def test_single_stratum_is_the_crude_estimate_with_homogeneity_undefined(tmp_path: Path) -> None:
    sdha = _analyze_csv(tmp_path, SINGLE_STRATUM)["ΔsdhA"]
    assert sdha["n_strata"] == 1 and sdha["homogeneity_p"] is None
    assert sdha["mh_rr"] == pytest.approx(sdha["crude_rr"]) and sdha["crude_rr"] == pytest.approx((2 / 3) / (1 / 5))
    assert any("homogeneity not testable" in w for w in sdha["warnings"])  # type: ignore[union-attr]
    assert any(w.startswith("sparse") for w in sdha["warnings"])  # type: ignore[union-attr]


def test_zero_cells_get_the_haldane_correction(tmp_path: Path) -> None:
    """No non-carrier of ΔsdhA is a hit in any batch: crude and pooled tables are Haldane-corrected (+0.5 in
    every cell): crude RR (3.5/5) / (0.5/9)."""
    sdha = _analyze_csv(tmp_path, ZERO_CELL)["ΔsdhA"]
    assert sdha["haldane"] is True
    assert sdha["crude_rr"] == pytest.approx((3.5 / 5) / (0.5 / 9))
    assert {w.split(":")[0] for w in sdha["warnings"]} >= {  # type: ignore[union-attr]
        "crude table has a zero cell", "a pooled numerator or denominator is zero"}
    assert all(math.isfinite(x) for x in sdha["mh_rr_ci"])  # type: ignore[union-attr]
