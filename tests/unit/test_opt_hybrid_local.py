"""The hybrid strategy reserves slots for one-step moves around the best measured designs."""

from __future__ import annotations

import numpy as np

from schemas import Design
from services.optimizer.context import Candidate, Context, History
from services.optimizer.hybrid import (
    black_box,
    bo_share,
    local_picks,
    local_share,
    novelty,
    stalled,
)
from services.optimizer.space import DesignSpace
from simulators.examples import hartmann6_spec, succinate_core_spec

CORE = ["b0723", "b1852"]  # sdhA, zwf


def _ctx(measured: list[tuple[Design, float]], pending: list[Design] | None = None) -> Context:
    history = History(measured=measured, pending=pending or [])
    return Context(DesignSpace.from_spec(succinate_core_spec()), history, np.random.default_rng(0))


def test_novelty_counts_designs_of_the_same_strain() -> None:
    ctx = _ctx([(Design(knockouts=CORE), 3.0), (Design(knockouts=[*CORE, "b1380"]), 3.1),
                (Design(knockouts=[*CORE, "b1380"], expression={"b3956": 0.25}), 3.2)],
               pending=[Design(knockouts=["b2297"])])
    assert novelty(Design(knockouts=[*CORE, "b2297"]), ctx) == 1.0  # a strain never built
    assert novelty(Design(knockouts=["b1852", "b0723"], expression={"b0720": 4.0}), ctx) == 0.5
    assert novelty(Design(knockouts=[*CORE, "b1380"], expression={"b0720": 4.0}), ctx) == 1 / 3
    assert novelty(Design(knockouts=["b2297"], expression={"b0720": 2.0}), ctx) == 0.5  # pending counts


def test_local_picks_alternate_new_strains_and_retuned_ones_one_per_strain() -> None:
    ctx = _ctx([(Design(knockouts=CORE), 3.0), (Design(knockouts=["b1380"]), 0.1)])
    pool = [
        Candidate(Design(knockouts=[*CORE, "b2297"]), "hybrid:local", acquisition=2.0, mean=3.1),
        Candidate(Design(knockouts=[*CORE, "b2297"], expression={"b0720": 4.0}), "hybrid:local",
                  acquisition=2.0, mean=3.2),
        Candidate(Design(knockouts=[*CORE, "b1380"]), "hybrid:local", acquisition=1.0, mean=2.0),
        Candidate(Design(knockouts=CORE, expression={"b3956": 0.25}), "hybrid:local", acquisition=1.5, mean=3.5),
        Candidate(Design(knockouts=CORE, expression={"b3956": 4.0}), "hybrid:local", acquisition=1.4, mean=2.5),
        Candidate(Design(knockouts=["b0723"]), "hybrid:local", acquisition=0.0, mean=0.0),
        Candidate(Design(knockouts=["b0903"]), "hybrid:ga", acquisition=5.0, mean=5.0),
    ]
    picks = local_picks(pool, 3, ctx, accept=lambda c: True)
    keys = [(c.design.knockouts, c.design.expression) for c in picks]
    # new strain with the best mean, then the best re-tuning of a built strain, then the next new strain
    assert keys == [
        (sorted([*CORE, "b2297"]), {"b0720": 4.0}),
        (sorted(CORE), {"b3956": 0.25}),
        (sorted([*CORE, "b1380"]), {}),
    ]
    assert all(not c.strategy.endswith(":ga") for c in picks)


def test_local_picks_lean_to_new_strains_when_asked() -> None:
    ctx = _ctx([(Design(knockouts=CORE), 3.0)])
    fresh = [Candidate(Design(knockouts=[*CORE, g]), "hybrid:local", mean=3.0) for g in ("b2297", "b1380", "b0903")]
    retuned = [Candidate(Design(knockouts=CORE, expression={"b3956": v}), "hybrid:local", mean=3.0)
               for v in (0.25, 4.0)]
    picks = local_picks(fresh + retuned, 4, ctx, accept=lambda c: True, fresh_share=0.75)
    assert sum(novelty(c.design, ctx) == 1.0 for c in picks) == 3


def test_stalled_when_the_incumbent_is_older_than_a_batch() -> None:
    rising = [(Design(knockouts=[g]), float(i)) for i, g in enumerate(["b2297", "b1380", "b0903", "b0723"])]
    assert not stalled(_ctx(rising), 2)
    flat = [(Design(knockouts=["b2297"]), 5.0), *rising]
    assert stalled(_ctx(flat), 2)
    assert not stalled(_ctx(flat[:2]), 2)  # not enough history to tell
    assert local_share(8) == 2 and local_share(8, stalled=True) == 6


def test_black_box_batches_give_the_gp_three_quarters_up_to_six_slots() -> None:
    cell = _ctx([])
    function = Context(DesignSpace.from_spec(hartmann6_spec()), History(), np.random.default_rng(0))
    assert not black_box(cell) and black_box(function)
    assert [bo_share(n) for n in (1, 4, 8, 16)] == [1, 1, 2, 4]  # cells: a quarter
    assert [bo_share(n, True) for n in (1, 4, 8, 16, 32)] == [1, 3, 6, 6, 8]  # three quarters, at most 6


def test_local_picks_cap_strains_with_knockouts_not_the_unmodified_chassis() -> None:
    ctx = _ctx([(Design(expression={"b3956": 2.0}), 3.0)])
    retuned = [Candidate(Design(expression={"b3956": v}), "hybrid:local", mean=3.0 + v) for v in (0.25, 0.5, 4.0)]
    variants = [Candidate(Design(knockouts=CORE, expression={"b3956": v}), "hybrid:local", mean=1.0)
                for v in (0.25, 4.0)]
    picks = local_picks(retuned + variants, 5, ctx, accept=lambda c: True)
    assert sum(not c.design.knockouts for c in picks) == 3  # every expression-only move may be picked
    assert sum(bool(c.design.knockouts) for c in picks) == 1  # one per knockout set
