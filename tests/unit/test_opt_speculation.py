"""The hybrid's GP fitted ahead (while the predictor trains) gives the batch the plan would have made."""

from __future__ import annotations

import time

import numpy as np
import pytest

from schemas import Design
from services.domain.organism import load_organism
from services.optimizer import bo
from services.optimizer.context import History
from services.optimizer.ga import GAConfig
from services.optimizer.insilico import insilico_for
from services.optimizer.planner import PlannerOptions, gp_request, plan_batch
from services.optimizer.speculation import GPAhead, fingerprint
from services.optimizer.surrogate import Surrogate
from simulators.examples import succinate_core_spec

SEED = 1234
SMALL_GA = GAConfig(population=16, generations=2)


@pytest.fixture(autouse=True)
def ax_imported() -> None:
    """The service fits ahead only once Ax is imported (it imports it in the background after a batch)."""
    deadline = time.monotonic() + 120
    while not bo.ax_ready(load_in_background=True):
        assert time.monotonic() < deadline, "Ax did not import"
        time.sleep(0.1)


def _history(surrogate: Surrogate) -> History:
    designs = [Design(), Design(knockouts=["b0723"]), Design(knockouts=["b1380", "b2297"]),
               Design(knockouts=["b0903"], expression={"b3956": 4.0}), Design(knockouts=["b4025"]),
               Design(expression={"b0720": 0.5})]
    mean, _ = surrogate.predict(designs)
    return History(measured=[(d, float(v)) for d, v in zip(designs, mean, strict=True)],
                   failed=[Design(knockouts=["b1101", "b1676"])])


def _plan(spec: object, history: History, surrogate: Surrogate, options: PlannerOptions) -> list[tuple[str, str]]:
    batch = plan_batch(spec, history, surrogate, 8, np.random.default_rng(SEED), options=options)  # type: ignore[arg-type]
    return [(p.design.key(), p.strategy) for p in batch]


def test_a_fit_started_ahead_is_handed_over_and_gives_the_same_batch() -> None:
    spec = succinate_core_spec(seed=3)
    surrogate = insilico_for(spec, load_organism("textbook"))
    assert surrogate is not None
    history = _history(surrogate)
    fitted_then = _plan(spec, history, surrogate, PlannerOptions(gp_beside_ga=True, ga=SMALL_GA))

    ahead = GPAhead()
    request = gp_request(spec, history, 8, SEED, PlannerOptions(ga=SMALL_GA))
    assert request is not None and request[0] == 2  # a quarter of the batch: no control after the first round
    assert ahead.start("c1", *request) and not ahead.start("c1", *request)  # the same fit is not started twice
    options = PlannerOptions(gp_beside_ga=True, ga=SMALL_GA, gp_source=ahead.source("c1"))
    fitted_ahead = _plan(spec, history, surrogate, options)
    assert (ahead.handed_over, ahead.refitted) == (1, 0)
    assert fitted_ahead == fitted_then
    assert any(strategy.endswith(":bo") for _, strategy in fitted_ahead)
    ahead.shutdown()


def test_a_fit_for_another_history_is_dropped_and_the_plan_fits_its_own() -> None:
    spec = succinate_core_spec(seed=3)
    surrogate = insilico_for(spec, load_organism("textbook"))
    assert surrogate is not None
    history = _history(surrogate)
    ahead = GPAhead()
    request = gp_request(spec, history, 8, SEED)
    assert request is not None and ahead.start("c1", *request)
    later = History(measured=history.measured, failed=[*history.failed, Design(knockouts=["b1852"])])
    assert fingerprint(*request) != fingerprint(request[0], request[1].__class__(
        request[1].space, later, np.random.default_rng(0)), request[2])
    options = PlannerOptions(gp_beside_ga=True, ga=SMALL_GA, gp_source=ahead.source("c1"))
    planned = _plan(spec, later, surrogate, options)
    assert (ahead.handed_over, ahead.refitted) == (0, 1)
    assert planned == _plan(spec, later, surrogate, PlannerOptions(gp_beside_ga=True, ga=SMALL_GA))
    ahead.shutdown()


def test_no_fit_ahead_for_strategies_without_a_gp_or_too_few_measurements() -> None:
    spec = succinate_core_spec(seed=3).model_copy(update={"strategy": "ga"})
    assert gp_request(spec, History(), 8, SEED) is None
    hybrid = succinate_core_spec(seed=3)
    request = gp_request(hybrid, History(measured=[(Design(), 0.1)]), 8, SEED)
    assert request is not None and not GPAhead().start("c1", *request)  # Sobol below 3 measurements: nothing to fit
