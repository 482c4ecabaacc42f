"""The wire contract: strict models, committed schemas in sync."""

from __future__ import annotations

from datetime import datetime

import pytest
from pydantic import ValidationError

from schemas import CampaignSpec, Design, Measurement, Value, describe_validation_error
from schemas.export import drift, json_schemas


def test_committed_json_schemas_and_asyncapi_match_the_models() -> None:
    stale = drift()
    assert not stale, f"run `fluxlab schemas export`: stale {[p.name for p in stale]}"


def test_every_schema_is_versioned() -> None:
    assert all(name.rsplit(".", 1)[-1].startswith("v") for name in json_schemas())


@pytest.mark.parametrize("payload, field", [
    ({"campaign_id": "c", "run_id": "r", "design": {}, "growth_rate": {"value": float("nan")}}, "growth_rate.value"),
    ({"campaign_id": "c", "run_id": "r", "design": {}, "colour": "red"}, "colour"),
    ({"campaign_id": "c", "run_id": "r", "design": {"expression": {"b1": -2}}}, "design.expression.b1"),
    ({"campaign_id": "c", "run_id": "r", "design": {}, "fluxes": {"PGI": {"value": float("inf")}}},
     "fluxes.PGI.value"),
    ({"campaign_id": "c", "run_id": "bad id!", "design": {}}, "run_id"),
])
def test_bad_measurements_are_rejected_naming_the_field(payload: dict, field: str) -> None:
    with pytest.raises(ValidationError) as info:
        Measurement.model_validate(payload)
    assert describe_validation_error(info.value)[0] == field


def test_naive_timestamps_are_refused_and_aware_ones_normalised_to_utc() -> None:
    with pytest.raises(ValidationError):
        Measurement(campaign_id="c", run_id="r", design=Design(), measured_at=datetime(2026, 1, 1))
    m = Measurement.model_validate_json(
        '{"campaign_id":"c","run_id":"r","design":{},"measured_at":"2026-01-01T02:00:00+02:00"}')
    assert m.measured_at.utcoffset().total_seconds() == 0 and m.measured_at.hour == 0


def test_design_key_is_canonical() -> None:
    a = Design(knockouts=["b2", "b1"], expression={"g": 1.0, "h": 2.0})
    b = Design(knockouts=["b1", "b2"], expression={"h": 2.0})
    assert a.key() == b.key()
    assert "Δb1" in a.describe()


def test_campaign_spec_requires_a_search_space() -> None:
    with pytest.raises(ValidationError) as info:
        CampaignSpec.model_validate({"objective": {"target": "EX_succ_e"}, "search_space": {}})
    assert "empty" in describe_validation_error(info.value)[1]


def test_readout_lookup() -> None:
    m = Measurement(campaign_id="c", run_id="r", design=Design(), growth_rate=Value(value=0.5),
                    products={"EX_succ_e": Value(value=2.0)})
    assert m.readout("growth") == 0.5 and m.readout("EX_succ_e") == 2.0 and m.readout("x") is None
