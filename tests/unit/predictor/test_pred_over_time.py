"""The predictor's model for an objective over time: the dynamic model answers the objective, the steady-state
model the rest; it is stored and read back (a restarted predictor loads it) and needs a few curves."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch
from factories import campaign_spec

from schemas import CampaignSpec, Design, Measurement, Proposal
from services.domain.objective import objective_view
from services.predictor.deepmodel import DeepModel
from services.predictor.dynamic import DynamicConfig
from services.predictor.over_time import OverTimeModel, load_campaign_model, with_over_time
from services.review.dispatch import work_order_for
from simulators.cells import make_cell
from simulators.lab import Lab

TIMES = [0.0, 4.0, 8.0, 12.0, 16.0]
DESIGNS = [Design(), Design(knockouts=["b1380"]), Design(knockouts=["b2297"]), Design(knockouts=["b0903"]),
           Design(knockouts=["b1380", "b2297"]), Design(expression={"b3956": 2.0}),
           Design(knockouts=["b0903"], expression={"b3956": 0.5}), Design(knockouts=["b1380", "b0903"])]
SMALL = DynamicConfig(epochs=40, members=2, hidden=8, device="cpu")


def _spec(kind: str = "titre") -> CampaignSpec:
    body: dict[str, Any] = campaign_spec().model_dump(mode="json")
    body["objective"]["over_time"] = {"kind": kind, "metabolite": "succ_e", "harvest_h": 12.0,
                                      **({"substrate": "glc__D_e"} if kind == "yield" else {})}
    body["readout"] = {"time_course": {"times_h": TIMES, "initial_mM": {"glc__D_e": 20.0}}}
    return CampaignSpec.model_validate(body)


@pytest.fixture(scope="module")
def measured() -> list[Measurement]:
    lab = Lab(make_cell("textbook"), seed=1)
    spec = _spec()
    out = []
    for i, d in enumerate(DESIGNS):
        order = work_order_for(Proposal(id=f"p{i}", campaign_id=spec.id, round=0, design=d, strategy="ga"), spec)
        m = lab.run_order(order)
        assert isinstance(m, Measurement)
        out.append(m)
    return out


@pytest.fixture(scope="module")
def steady(measured: list[Measurement]) -> DeepModel:
    torch.set_num_threads(1)
    spec = _spec()
    model = DeepModel(kind="mlp", organism="textbook", ensemble=2, search_space=spec.search_space, epochs=20, seed=0)
    model.train_on_measurements(objective_view(spec, measured), False, False)
    return model


@pytest.mark.parametrize("kind", ["titre", "yield", "productivity"])
def test_the_objective_comes_from_the_dynamic_model_and_survives_a_restart(
        kind: str, steady: DeepModel, measured: list[Measurement]) -> None:
    spec = _spec(kind)
    model, report = with_over_time(steady, spec, objective_view(spec, measured), SMALL)
    assert isinstance(model, OverTimeModel) and report["dynamic_objective"] == 1.0
    assert report["dynamic_n_curves"] == len(DESIGNS) and model.announced_kind == "mlp+dynamic"
    result = model.predict(DESIGNS)
    base = steady.predict(DESIGNS)
    j, g = result.names.index("EX_succ_e"), result.names.index("growth")
    mean, sd = model.objective(DESIGNS)
    assert np.allclose(result.mean[:, j], mean) and np.allclose(result.sd[:, j], sd) and np.all(sd > 0)
    assert np.allclose(result.mean[:, g], base.mean[:, g])  # growth stays the steady-state model's
    again = load_campaign_model(model.to_bytes())
    assert isinstance(again, OverTimeModel)
    assert np.allclose(again.predict(DESIGNS).mean, result.mean, atol=1e-5)
    assert isinstance(load_campaign_model(steady.to_bytes()), DeepModel)


def test_too_few_curves_leave_the_steady_state_model(steady: DeepModel, measured: list[Measurement]) -> None:
    spec = _spec()
    bare = [m.model_copy(update={"time_courses": {}}) for m in measured]
    model, report = with_over_time(steady, spec, bare, SMALL)
    assert model is steady and report == {"dynamic_objective": 0.0}
    plain, nothing = with_over_time(steady, campaign_spec(), measured, SMALL)
    assert plain is steady and nothing == {}
