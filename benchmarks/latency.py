"""Round latency: seconds from a round's last measurement being recorded to the next round's proposals.

A campaign on E. coli core (`examples/succinate_core.toml`, hybrid strategy, the robot simulator), every
service its own process as `fluxlab up` starts them. After it completes, the events stream is read back:
for each round after the first, the sample is the time from the last measurement recorded before the
round's first proposal to that proposal (both stream timestamps, so the harness's own polling adds nothing).
The gap covers the predictor's training (and its trigger), the model event reaching the optimizer and the
optimizer planning the batch. Figures: `p50_s`, `p95_s` over the rounds, `n_rounds`, `samples_s`, and per
run `after_model_s` (the part from the model event to the proposal: the optimizer's share).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import tempfile
import time
import uuid
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.common import emit, median, parser, progress_console
from benchmarks.faults_campaign import start_stack
from benchmarks.faults_ledger import stored_messages
from schemas import CampaignSpec
from services.runtime.bus import Bus
from services.runtime.campaign_client import CampaignClient
from services.runtime.settings import Settings
from services.runtime.specfile import load_spec

ROOT = Path(__file__).resolve().parents[1]


Event = tuple[str, datetime, dict[str, Any]]


def round_latencies(events: Sequence[Event]) -> list[float]:
    """Per round after the first: its first proposal's time minus the last measurement recorded before it.

    `events` are (kind, stream timestamp, payload) of one campaign in stream order.
    """
    return [total for total, _ in round_parts(events)]


def round_parts(events: Sequence[Event]) -> list[tuple[float, float | None]]:
    """Per round after the first: (latency, seconds of it from the last model event inside it to the proposal).

    The second part is the optimizer's share (the model's arrival to the batch); None when no model event
    fell between the round's last measurement and its first proposal.
    """
    first_proposal: dict[int, datetime] = {}
    measured: list[datetime] = []
    models: list[datetime] = []
    for kind, at, payload in events:
        if kind == "proposal":
            first_proposal.setdefault(int(payload["round"]), at)
        elif kind == "measurement":
            measured.append(at)
        elif kind in ("model", "model_declined"):
            models.append(at)
    parts: list[tuple[float, float | None]] = []
    for round_, at in sorted(first_proposal.items()):
        before = [m for m in measured if m <= at]
        if round_ == 1 or not before:
            continue
        last = max(before)
        answers = [m for m in models if last <= m <= at]
        parts.append(((at - last).total_seconds(), (at - max(answers)).total_seconds() if answers else None))
    return parts


async def campaign_events(bus: Bus, campaign_id: str) -> list[Event]:
    """Every event of one campaign with its stream timestamp, in stream order."""
    out: list[Event] = []
    for msg in await stored_messages(bus, bus.subjects.events("*", campaign_id)):
        with contextlib.suppress(ValueError):
            out.append((msg.subject.split(".")[-2], msg.metadata.timestamp, json.loads(msg.data)))
    return out


def latency_spec(budget: int, batch_size: int, seed: int) -> CampaignSpec:
    """The succinate core example with a budget of several rounds."""
    return load_spec(ROOT / "examples" / "succinate_core.toml").model_copy(
        update={"id": f"latency-{seed}", "budget": budget, "batch_size": batch_size, "seed": seed})


async def run_once(workdir: Path, budget: int, batch_size: int, seed: int) -> dict[str, Any]:
    """One campaign on a fresh stack; its per-round latencies."""
    settings = Settings(data_dir=workdir / f"run{seed}", namespace="l" + uuid.uuid4().hex[:8], http_port=0,
                        grace_s=2.0)
    spec = latency_spec(budget, batch_size, seed)
    stack = await asyncio.to_thread(start_stack, settings, spec)
    try:
        s = stack.settings
        bus = await Bus.connect(stack.nats_url, s.namespace, name="fluxlab-bench-latency", user=s.nats_user,
                                password=s.nats_password)
        try:
            started = time.monotonic()
            client = CampaignClient(bus)
            await client.start(spec)
            await client.wait_completed(spec, timeout_s=900)
            campaign_s = time.monotonic() - started
            parts = round_parts(await campaign_events(bus, spec.id))
        finally:
            await bus.close()
    finally:
        await asyncio.to_thread(stack.stop)
    return {"campaign_s": round(campaign_s, 1), "samples_s": [round(total, 2) for total, _ in parts],
            "after_model_s": [None if plan is None else round(plan, 2) for _, plan in parts]}


def summarise(runs: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """p50/p95 over every round of every run."""
    samples = [x for run in runs for x in run["samples_s"]]
    if not samples:
        return {"p50_s": None, "p95_s": None, "n_rounds": 0, "samples_s": [], "runs": list(runs)}
    return {"p50_s": round(float(np.percentile(samples, 50)), 2), "p95_s": round(float(np.percentile(samples, 95)), 2),
            "n_rounds": len(samples), "samples_s": samples,
            "campaign_s": median([run["campaign_s"] for run in runs]), "runs": list(runs)}


def main(argv: list[str] | None = None) -> int:
    """`fluxlab bench latency [--json] [--quick] [--repeat N] [--budget B] [--keep DIR]`."""
    p = parser(__doc__ or "")
    p.add_argument("--budget", type=int, default=48, help="experiments per campaign (batch 8: 6 rounds)")
    p.add_argument("--keep", help="run the stacks in this folder and keep it (the services' logs)")
    p.set_defaults(repeat=1)
    args = p.parse_args(argv)
    budget, batch = (16, 4) if args.quick else (args.budget, 8)
    runs = []
    with tempfile.TemporaryDirectory(prefix="fluxlab-latency-") as scratch:
        tmp = args.keep or scratch
        for seed in range(args.repeat):
            progress_console.print(f"latency: campaign {seed + 1} of {args.repeat} (budget {budget}, batch {batch})")
            runs.append(asyncio.run(run_once(Path(tmp), budget, batch, seed)))
    result = summarise(runs)
    result["load_avg_1m"] = round(os.getloadavg()[0], 2)
    emit(result, args.json, "latency")
    return 0
