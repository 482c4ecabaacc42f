"""The whole loop through a real nats-server, every service its own process."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from schemas import CampaignSpec, Design
from services.registry import service_names
from services.runtime.bus import Bus
from services.runtime.campaign_client import CampaignClient
from services.runtime.local_stack import executor_args, wait_until_ready
from services.runtime.settings import Settings
from services.runtime.specfile import load_spec
from services.runtime.supervisor import Stack

ROOT = Path(__file__).resolve().parents[2]


def _spec(name: str, **update: object) -> CampaignSpec:
    return load_spec(ROOT / "examples" / name).model_copy(update=update)


async def _run(settings: Settings, spec: CampaignSpec, during: object = None) -> dict:
    bus = await Bus.connect(settings.resolved_nats_url(), settings.namespace, user=settings.nats_user,
                            password=settings.nats_password)
    client = CampaignClient(bus)
    try:
        await client.start(spec)
        if during is not None:
            await during(client)  # type: ignore[operator]
        await client.wait_completed(spec, timeout_s=400)
        summary = await client.summary(spec)
        return {"summary": summary, "records": await client.records(spec.id)}
    finally:
        await bus.close()


@pytest.fixture
def stack_settings(tmp_path: Path, namespace: str) -> Settings:
    return Settings(data_dir=tmp_path / "stack", namespace=namespace, http_port=0, grace_s=2.0)


def _stack(settings: Settings, spec: CampaignSpec) -> Stack:
    executor, args = executor_args(spec)
    stack = Stack(settings, [*service_names(), executor], extra_args={executor: args}).start()  # secure: the default
    ready = stack.client_settings()
    wait_until_ready(ready, 120)
    stack.settings = ready
    return stack


@pytest.mark.slow
def test_function_campaign_runs_to_completion_through_every_service(stack_settings: Settings) -> None:
    spec = _spec("sin_cos.toml", id="e2e-sincos", budget=20, batch_size=5)
    stack = _stack(stack_settings, spec)
    try:
        result = asyncio.run(_run(stack.settings, spec))
    finally:
        stack.stop()
    summary, records = result["summary"], result["records"]
    assert summary["n_measurements"] == 20 and summary["n_failed"] == 0
    assert summary["best_value"] > 1.5  # sin(x0) + cos(x1) <= 2; random points average 0
    keys = [Design.model_validate(p["design"]).key() for p in records["proposals"]]
    assert len(keys) == len(set(keys)) == 20
    # Freed capacity is refilled as results arrive, so a round may be partial: at least 4 rounds of <= 5.
    per_round = Counter(p["round"] for p in records["proposals"])
    assert max(per_round.values()) <= 5 and len(summary["best_by_batch"]) == len(per_round) >= 4
    assert summary["model_versions"] >= 2
    assert all(r["reviewer"] == "policy:approve_all" for r in records["reviews"])


@pytest.mark.slow
def test_killing_each_service_mid_campaign_loses_nothing(stack_settings: Settings) -> None:
    spec = _spec("sin_cos.toml", id="e2e-kill", budget=30, batch_size=5)
    stack = _stack(stack_settings, spec)
    victims = [*service_names(), "robot-sim"]

    async def kill_each(client: CampaignClient) -> None:
        for name in victims:
            while True:  # wait for progress between kills so each lands mid-campaign
                try:
                    done = (await client.summaries(spec.id) or [{}])[0].get("n_measurements", 0)
                except Exception:  # not recorded yet, or the tracker is restarting
                    done = 0
                if done >= 3 * (victims.index(name) + 1) or done >= spec.budget - 5:
                    break
                await asyncio.sleep(0.2)
            stack.kill(name, signal.SIGKILL)
            await asyncio.sleep(1.2)
            stack.poll()  # the supervisor restarts it, as `fluxlab up` does

    try:
        result = asyncio.run(_run(stack.settings, spec, during=kill_each))
        restarts = {name: stack.children[name].restarts for name in victims}
    finally:
        stack.stop()
    summary, records = result["summary"], result["records"]
    assert all(count >= 1 for count in restarts.values()), restarts
    runs = [m["run_id"] for m in records["measurements"]]
    assert len(runs) == len(set(runs)), "a run was measured twice"
    issued = {w["run_id"] for w in records["work_orders"]}
    assert set(runs) <= issued
    assert summary["n_measurements"] + summary["n_failed"] == spec.budget
    keys = [Design.model_validate(p["design"]).key() for p in records["proposals"] if p["strategy"] != "replicate"]
    assert len(keys) == len(set(keys)), "a new design was proposed twice (replicates are allowed re-proposals)"
    replicated = {Design.model_validate(p["design"]).key() for p in records["proposals"]
                  if p["strategy"] == "replicate"}
    assert replicated <= set(keys), "a replicate re-proposes a design proposed before"


@pytest.mark.timeout(600)  # not slow: `make test` must show the demo's --json stdout is only JSON
def test_demo_writes_a_report_with_a_sane_summary(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "services.cli", "demo", "--budget", "16", "--batch", "8", "--out", str(out),
         "--http-port", "0", "--json"], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    summary = json.loads(result.stdout)
    for name in ("report.html", "best_so_far.png", "predicted_vs_measured.png", "model_metrics.png",
                 "summary.json"):
        assert (out / name).is_file(), name
    for key in ("best_value", "best_design", "best_by_batch", "n_measurements", "n_failed", "n_rejected",
                "model_versions", "true_optimum", "improvement_over_reference", "prospective"):
        assert key in summary
    spec = _spec("succinate_core.toml")
    best = Design.model_validate(summary["best_design"])
    assert set(best.knockouts) <= set(spec.search_space.knockout_candidates) and len(best.knockouts) <= 3
    assert set(best.expression) <= {e.gene for e in spec.search_space.expression}
    assert summary["improvement_over_reference"] > 0
    assert summary["n_measurements"] + summary["n_failed"] == 16
    assert time.monotonic() - started < 600


@pytest.mark.slow
def test_loop_runs_with_nats_permissions_on(stack_settings: Settings) -> None:
    spec = _spec("sin_cos.toml", id="e2e-secure", budget=10, batch_size=5)
    executor, args = executor_args(spec)
    stack = Stack(stack_settings, [*service_names(), executor], extra_args={executor: args}, secure=True,
                  stations=[spec.executor.station]).start()
    try:
        cli = stack_settings.model_copy(update={"nats_url": stack.nats_url, "nats_user": "cli",
                                                "nats_password": stack.credentials["cli"]})
        wait_until_ready(cli, 120)
        result = asyncio.run(_run(cli, spec))
    finally:
        stack.stop()
    assert result["summary"]["n_measurements"] + result["summary"]["n_failed"] == 10
    assert "Permissions Violation" not in (stack_settings.data_dir / "logs" / "tracker.log").read_text()


@pytest.mark.slow
def test_campaign_whose_spec_its_organism_lacks_is_stopped_with_the_field_and_the_rest_run(
        stack_settings: Settings) -> None:
    good = _spec("succinate_core.toml", id="e2e-good", budget=8, batch_size=8)
    space = good.search_space.model_copy(update={"knockout_candidates": ["b1380", "b9999"]})
    bad = good.model_copy(update={"id": "e2e-bad-gene", "search_space": space})  # past the CLI's own check
    stack = _stack(stack_settings, good)

    async def both() -> tuple[Any, dict]:
        bus = await Bus.connect(stack.settings.resolved_nats_url(), stack.settings.namespace,
                                user=stack.settings.nats_user, password=stack.settings.nats_password)
        client = CampaignClient(bus)
        try:
            await client.start(bad)
            stopped = await client.wait_completed(bad, timeout_s=120)
        finally:
            await bus.close()
        return stopped, await _run(stack.settings, good)

    try:
        stopped, result = asyncio.run(both())
    finally:
        stack.stop()
    assert stopped.kind == "stopped"
    assert "search_space.knockout_candidates[1]: unknown gene or reaction 'b9999'" in stopped.detail
    assert result["summary"]["n_measurements"] + result["summary"]["n_failed"] == 8  # the optimizer kept serving
