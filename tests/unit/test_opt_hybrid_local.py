"""The hybrid strategy reserves slots for untried one-step moves around the best measured design."""

from __future__ import annotations

import numpy as np

from schemas import Design
from services.optimizer.context import Candidate, Context, History
from services.optimizer.hybrid import local_picks, novelty
from services.optimizer.space import DesignSpace
from simulators.examples import succinate_core_spec


def test_novelty_prefers_genes_never_knocked_out() -> None:
    spec = succinate_core_spec()
    history = History(measured=[(Design(knockouts=["b0723", "b1852"]), 3.0), (Design(knockouts=["b1380"]), 0.1)])
    ctx = Context(DesignSpace.from_spec(spec), history, np.random.default_rng(0))
    assert novelty(Design(knockouts=["b0723", "b1852", "b2297"]), ctx) == 1.0
    assert novelty(Design(knockouts=["b0723", "b1852", "b1380"]), ctx) == 0.5
    assert novelty(Design(), ctx) == 0.0


def test_local_picks_take_local_moves_only_ranked_by_acquisition_plus_novelty() -> None:
    spec = succinate_core_spec()
    history = History(measured=[(Design(knockouts=["b0723", "b1852"]), 3.0), (Design(knockouts=["b1380"]), 0.1)])
    ctx = Context(DesignSpace.from_spec(spec), history, np.random.default_rng(0))
    pool = [
        Candidate(Design(knockouts=["b0723", "b1852", "b1380"]), "hybrid:local", acquisition=1.0),
        Candidate(Design(knockouts=["b0723", "b1852", "b2297"]), "hybrid:local", acquisition=0.95),
        Candidate(Design(knockouts=["b0723"]), "hybrid:local", acquisition=0.0),
        Candidate(Design(knockouts=["b0903"]), "hybrid:ga", acquisition=5.0),
    ]
    picks = local_picks(pool, 1, ctx, accept=lambda c: True)
    assert [c.design.knockouts for c in picks] == [["b0723", "b1852", "b2297"]]
