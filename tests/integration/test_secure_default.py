"""A stack started the default way (`fluxlab up`'s Stack) runs NATS with users: no credentials, no approvals."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import stat
import subprocess
import sys
from pathlib import Path

import nats
import nats.errors
import pytest
from nats.errors import TimeoutError as NatsTimeoutError

from schemas import ReviewAction, ReviewDecision
from services.cli.options import settings_from
from services.runtime.bus import Bus
from services.runtime.security import CREDENTIALS_FILE
from services.runtime.settings import NATS_URL_FILE, Settings
from services.runtime.status import answering_services
from services.runtime.supervisor import Stack


def _approval() -> ReviewDecision:
    return ReviewDecision(campaign_id="c1", proposal_id="p-1", action=ReviewAction.APPROVE, reviewer="mallory",
                          reason="looks fine")


async def test_default_stack_refuses_a_process_without_credentials(tmp_path: Path, namespace: str) -> None:
    stack = Stack(Settings(data_dir=tmp_path / "data", namespace=namespace), [])  # what `fluxlab up` builds
    await asyncio.to_thread(stack.start)
    try:
        credentials = tmp_path / "data" / CREDENTIALS_FILE
        assert stat.S_IMODE(credentials.stat().st_mode) == 0o600
        with pytest.raises(nats.errors.Error, match="Authorization Violation"):
            await nats.connect(stack.nats_url, allow_reconnect=False, max_reconnect_attempts=0)
        # a lab account is in, but may not decide: the approval is never stored
        robot = await Bus.connect(stack.nats_url, namespace, user="robot-sim1",
                                  password=stack.credentials["robot-sim1"], ensure=False)
        try:
            with pytest.raises(NatsTimeoutError):
                await robot.publish(robot.subjects.event("review", "c1"), _approval(), timeout=0.5)
        finally:
            await robot.close()
        operator = await Bus.connect(stack.nats_url, namespace, user="operator", password=stack.credentials["operator"])
        try:
            info = await operator.js.stream_info(operator.subjects.events_stream)
            assert info.state.messages == 0
        finally:
            await operator.close()
    finally:
        await asyncio.to_thread(stack.stop)


async def test_insecure_is_an_explicit_opt_out(tmp_path: Path, namespace: str) -> None:
    stack = Stack(Settings(data_dir=tmp_path / "data", namespace=namespace), [], secure=False)
    await asyncio.to_thread(stack.start)
    try:
        bus = await Bus.connect(stack.nats_url, namespace)
        await bus.publish(bus.subjects.event("review", "c1"), _approval())
        await bus.close()
        assert not (tmp_path / "data" / CREDENTIALS_FILE).exists()
    finally:
        await asyncio.to_thread(stack.stop)


@pytest.mark.slow
async def test_fluxlab_up_runs_nats_with_users(tmp_path: Path, namespace: str) -> None:
    """The real command: `fluxlab up` with no flags refuses an anonymous client's approval."""
    data = tmp_path / "up"
    env = {**os.environ, "FLUXLAB_HTTP_PORT": "0"}
    up = subprocess.Popen([sys.executable, "-m", "services.cli", "up", "--simulate", "--data-dir", str(data),
                           "--namespace", namespace], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        url_file = data / NATS_URL_FILE
        for _ in range(600):
            if url_file.is_file() and (data / CREDENTIALS_FILE).is_file():
                break
            await asyncio.sleep(0.1)
        url = url_file.read_text().strip()
        with pytest.raises(nats.errors.Error, match="Authorization Violation"):
            await nats.connect(url, allow_reconnect=False, max_reconnect_attempts=0)
        credentials = json.loads((data / CREDENTIALS_FILE).read_text())
        robot = await Bus.connect(url, namespace, user="robot-sim1", password=credentials["robot-sim1"],
                                  ensure=False)
        try:
            with pytest.raises(NatsTimeoutError):
                await robot.publish(robot.subjects.event("review", "c1"), _approval(), timeout=0.5)
        finally:
            await robot.close()
        everyone = {f"fluxlab-{name}" for name in
                    ("tracker", "predictor", "optimizer", "review", "robot-sim", "bench-sim")}
        settings = settings_from(data_dir=data, namespace=namespace)  # the `cli` user, as `fluxlab status`
        for _ in range(150):  # the lab simulators' users may answer $SRV.PING too
            if await answering_services(settings) >= everyone:
                break
            await asyncio.sleep(0.3)
        assert await answering_services(settings) >= everyone
    finally:
        up.send_signal(signal.SIGINT)
        output = (await asyncio.to_thread(up.communicate, timeout=120))[0].decode()
    assert "NATS users and permissions on" in output and "insecure" not in output
