"""The `fluxlab` command as a user runs it: help, bad input (one line, exit 2, nothing lost), import/export."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest
from factories import campaign_spec, created

from schemas import Measurement
from services.runtime.bus import Bus
from services.runtime.nats_server import EmbeddedNats


def fluxlab(*args: str, env: dict[str, str] | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run the CLI in a subprocess."""
    return subprocess.run([sys.executable, "-m", "services.cli", *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=timeout)


def test_help_lists_the_commands() -> None:
    result = fluxlab("--help")
    assert result.returncode == 0
    for command in ("up", "serve", "status", "schemas", "import", "export", "bench", "campaign", "demo"):
        assert command in result.stdout


def test_unknown_service_is_one_clear_line() -> None:
    result = fluxlab("serve", "nosuch")
    assert result.returncode == 2
    assert "unknown service 'nosuch'" in result.stderr and "Traceback" not in result.stderr


HEADER = "run_id,ko,growth,product:EX_succ_e"
GOOD_CSV = f"{HEADER}\nr1,b1380,0.6,1.2\nr2,b0903,0.5,1.1\n"


@pytest.fixture
async def c1_env(nats_server: EmbeddedNats, namespace: str, bus: Bus) -> dict[str, str]:
    """The CLI's environment on the test's bus, where campaign c1 has been created."""
    await bus.publish_event(created(campaign_spec("c1")))
    return {"FLUXLAB_NATS_URL": nats_server.url, "FLUXLAB_NAMESPACE": namespace}


async def import_csv(path: Path, text: str, campaign: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Write `text` to `path` and import it as measurements into `campaign` (the CLI, in a thread)."""
    path.write_text(text)
    return await asyncio.to_thread(fluxlab, "import", "measurements", str(path), "--campaign", campaign, env=env)


async def test_bad_csv_row_is_reported_and_nothing_is_published(tmp_path: Path, c1_env: dict[str, str],
                                                                bus: Bus) -> None:
    result = await import_csv(tmp_path / "bad.csv", f"{HEADER}\nr1,b1380,0.6,1.2\nr2,b0903,NaN,1.1\n", "c1", c1_env)
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines == ["error: row 2, column 'growth': must be a finite number (NaN and infinity are rejected)"]
    info = await bus.js.stream_info(bus.subjects.events_stream)
    assert info.state.messages == 1  # the campaign's 'created' only
    result = await import_csv(tmp_path / "good.csv", GOOD_CSV, "c1", c1_env)
    assert result.returncode == 0, result.stderr
    again = await import_csv(tmp_path / "good.csv", GOOD_CSV, "c1", c1_env)
    assert "0 measurement(s)" in again.stderr and "2 already present" in again.stderr
    info = await bus.js.stream_info(bus.subjects.events_stream)
    assert info.state.messages == 3


async def test_import_refuses_what_the_campaign_cannot_hold_and_commits_nothing(
    tmp_path: Path, c1_env: dict[str, str], bus: Bus
) -> None:
    cases = {  # CSV body -> the one error line
        "r1,b1380,0.6,1.2\nr2,b1380;b9999,0.5,1.1\n":
            "row 2, column 'ko': unknown gene or reaction 'b9999' in model 'textbook'",
        "r1,sdhA,0.6,1.2\n": "row 1, column 'ko': 'sdhA (b0723)' is not a knockout candidate of this campaign",
        "r1,ldhX,0.6,1.2\n": "row 1, column 'ko': unknown gene or reaction 'ldhX' in model 'textbook'; "
                               "did you mean b1380 (ldhA)?",
        "r1,b1380,-0.1,1.2\n": "row 1, column 'growth': -0.1 is negative: a specific growth rate (1/h) is at least 0",
    }
    for body, message in cases.items():
        result = await import_csv(tmp_path / "bad.csv", f"{HEADER}\n{body}", "c1", c1_env)
        assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
        assert message in result.stderr, result.stderr
    result = await import_csv(tmp_path / "flux.csv", "run_id,ko,growth,flux:FOO\nr1,b1380,0.6,1.0\n", "c1", c1_env)
    assert result.returncode == 2 and "row 1, column 'flux:FOO': unknown reaction 'FOO'" in result.stderr
    good = f"{HEADER}\nr1,ldhA;pta,0.6,1.2\n"
    typo = await import_csv(tmp_path / "good.csv", good, "nonexistent", c1_env)
    assert typo.returncode == 2 and "unknown campaign 'nonexistent' (known: c1); nothing imported" in typo.stderr
    info = await bus.js.stream_info(bus.subjects.events_stream)
    assert info.state.messages == 1  # nothing but the campaign's 'created'
    result = await import_csv(tmp_path / "good.csv", good, "c1", c1_env)
    assert result.returncode == 0, result.stderr
    msg = await bus.js.get_last_msg(bus.subjects.events_stream, bus.subjects.event("measurement", "c1"))
    assert msg.data is not None
    assert Measurement.model_validate_json(msg.data).design.knockouts == ["b1380", "b2297"]  # names became ids


async def test_import_into_a_campaign_that_does_not_exist_is_refused(tmp_path: Path, c1_env: dict[str, str],
                                                                     bus: Bus) -> None:
    """Bug 3 of issue 18: a typo in --campaign said 'imported 2 measurement(s)' (rc 0) and the data was lost."""
    typo = await import_csv(tmp_path / "good.csv", GOOD_CSV, "c1x", c1_env)
    assert typo.returncode == 2 and "Traceback" not in typo.stderr, typo.stderr
    assert "unknown campaign 'c1x' (known: c1); nothing imported" in typo.stderr
    info = await bus.js.stream_info(bus.subjects.events_stream)
    assert info.state.messages == 1  # the campaign's 'created' only


def test_missing_spec_file_is_one_line(tmp_path: Path) -> None:
    result = fluxlab("campaign", "start", str(tmp_path / "nope.toml"), "--nats-url", "nats://127.0.0.1:1")
    assert result.returncode == 2 and "does not exist" in result.stderr and "Traceback" not in result.stderr


def test_invalid_spec_names_the_field(tmp_path: Path) -> None:
    spec = tmp_path / "spec.toml"
    spec.write_text('budget = -3\n[objective]\ntarget = "EX_succ_e"\n[search_space]\nknockout_candidates = ["b1"]\n')
    result = fluxlab("campaign", "start", str(spec), "--nats-url", "nats://127.0.0.1:1")
    assert result.returncode == 2
    assert "budget: Input should be greater than or equal to 1" in result.stderr
