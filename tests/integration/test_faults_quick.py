"""Quick fault scenarios as assertions: poison, hostile input, commit/ack crashes, SIGTERM drain."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks import faults_stream
from services.runtime.nats_server import EmbeddedNats


async def test_poison_message_is_dead_lettered_without_stalling_its_consumer(
    tmp_path: Path, nats_server: EmbeddedNats
) -> None:
    result = await faults_stream.poison(nats_server.url, tmp_path, n_after=50, max_deliver=3)
    assert result["dead_letters"] == 1
    assert result["deliveries"] == 3
    assert "poison" in result["reason"]
    assert result["later_recorded"] == 50
    assert not result["stalled"], "later messages waited for the poison message"
    assert result["crashes"] == 0


async def test_hostile_measurements_all_end_in_dead_letters_with_reasons(
    tmp_path: Path, nats_server: EmbeddedNats
) -> None:
    result = await faults_stream.hostile(nats_server.url, tmp_path, n=200, n_valid=50)
    assert result["dead_letters"] == 200
    assert result["with_reason"] == 200
    assert result["valid_recorded"] == 50
    assert result["crashes"] == 0
    for field in ("run_id", "station", "growth_rate.value", "(message)", "colour"):
        assert field in result["fields"], result["fields"]


@pytest.mark.slow
async def test_tracker_killed_between_commit_and_ack_duplicates_nothing(
    tmp_path: Path, nats_server: EmbeddedNats
) -> None:
    result = await faults_stream.commit_ack_kills(nats_server.url, tmp_path, deaths=3)
    assert result["deaths"] == 3
    assert result["duplicated"] == 0 and result["lost"] == 0
    assert result["recorded"] == result["published"] == result["event_log_measurements"]
    assert result["ledger"]["stream_runs_twice"] == 0
    assert result["crashes"] == 0


async def test_sigterm_mid_stream_drains_and_loses_nothing(tmp_path: Path, nats_server: EmbeddedNats) -> None:
    result = await faults_stream.sigterm_drain(nats_server.url, tmp_path, n=1000)
    assert result["exit_code"] == 0
    assert result["recorded_at_signal"] < 1000, "the signal should land mid-stream"
    assert result["in_flight_at_exit"] == 0
    assert result["acked_not_recorded"] == 0
    assert result["lost"] == 0 and result["duplicated"] == 0
    assert result["recorded_after_restart"] == 1000
