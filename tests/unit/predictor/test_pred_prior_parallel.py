"""The prior's cache keyed by design, its worker processes and the MOMA shortcut (textbook model)."""

from __future__ import annotations

import numpy as np
import pytest

from schemas.design import Design
from services.predictor import prior as prior_module
from services.predictor.prior import MechanisticPrior, load_organism_model


def _designs(n: int) -> list[Design]:
    org = load_organism_model("textbook")
    rng = np.random.default_rng(0)
    genes = org.gene_ids
    return [Design(knockouts=sorted(rng.choice(genes, size=int(rng.integers(0, 3)), replace=False).tolist()),
                   expression={str(rng.choice(genes)): float(2 ** rng.uniform(-1, 1))}) for _ in range(n)]


def _moma_objective(prior: MechanisticPrior, design: Design, flux: np.ndarray) -> float:
    assert prior.moma is not None
    target = prior.moma.reference(design).copy()
    for r, level in prior.organism.reaction_levels(prior.organism.gene_levels(design)).items():
        target[r] *= level
    return float(np.abs(flux - target).sum() + 1e-4 * np.abs(flux).sum())


@pytest.mark.parametrize("method", ["moma", "pfba"])
def test_workers_give_the_serial_answer(method: str) -> None:
    org = load_organism_model("textbook")
    designs = _designs(prior_module.PARALLEL_MIN + 6)
    p1, p2 = MechanisticPrior(org, method=method), MechanisticPrior(org, method=method)
    serial, parallel = p1.compute(designs, workers=1), p2.compute(designs, workers=2)
    assert (serial.feasible == parallel.feasible).all()
    same = np.abs(serial.flux - parallel.flux).max(axis=1) < 1e-6
    assert same.mean() >= 0.9  # the rest are alternative optima of a degenerate LP (warm starts differ)
    if method == "moma":
        for i in np.flatnonzero(~same):
            assert _moma_objective(p1, designs[i], serial.flux[i]) == pytest.approx(
                _moma_objective(p2, designs[i], parallel.flux[i]), rel=1e-6, abs=1e-6)
    else:
        assert np.allclose(serial.flux[:, org.biomass_index], parallel.flux[:, org.biomass_index], atol=1e-6)
    assert np.abs(org.S @ parallel.flux.T).max() < 1e-6
    assert np.array_equal(serial.lb, parallel.lb) and np.array_equal(serial.ub, parallel.ub)


def test_each_design_is_solved_once(monkeypatch: pytest.MonkeyPatch) -> None:
    org = load_organism_model("textbook")
    prior = MechanisticPrior(org, method="moma")
    calls: list[str] = []
    solve = prior.solve
    monkeypatch.setattr(prior, "solve", lambda d: calls.append(d.key()) or solve(d))
    designs = _designs(10)
    first = prior.compute(designs + designs[:4], workers=1)  # repeats within one call: solved once
    assert len(calls) == len({d.key() for d in designs})
    again = prior.compute(list(reversed(designs)), workers=1)
    assert len(calls) == len({d.key() for d in designs})  # all cached
    assert np.array_equal(again.flux[::-1], first.flux[:10])


def test_moma_needs_no_lp_when_the_reference_already_fits() -> None:
    org = load_organism_model("textbook")
    prior = MechanisticPrior(org, method="moma")
    assert prior.moma is not None
    reference = prior.wild_type_reference()
    idle = [r for i, r in enumerate(org.reaction_ids) if abs(reference[i]) < 1e-12 and r != org.biomass_id]
    calls = prior.lp_calls
    out = prior.compute([Design(knockouts=[idle[0]]), Design(knockouts=idle[1:3])], workers=1)
    assert prior.lp_calls == calls and prior.reused >= 2
    assert np.allclose(out.flux, reference) and out.feasible.all()
    busy = org.reaction_ids[int(np.argmax(np.abs(reference) * (np.arange(len(reference)) != org.biomass_index)))]
    moved = prior.compute([Design(knockouts=[busy])], workers=1)
    assert prior.lp_calls == calls + 1 and not np.allclose(moved.flux[0], reference)


@pytest.mark.parametrize("method", ["moma", "pfba"])
def test_lanes_give_the_same_answer_in_threads_or_one_after_the_other(method: str,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    org = load_organism_model("textbook")
    designs = _designs(40)
    monkeypatch.setenv("FLUXLAB_PRIOR_THREADS", "1")
    serial = MechanisticPrior(org, method=method).compute(designs, workers=1)
    monkeypatch.setenv("FLUXLAB_PRIOR_THREADS", "2")
    threaded_prior = MechanisticPrior(org, method=method)
    threaded = threaded_prior.compute(designs, workers=1)
    assert prior_module.lane_threads() == 2 and len(designs) >= prior_module.LANE_THREADS_MIN
    assert {prior_module.lane_of(d) for d in designs} == set(range(prior_module.LANES))  # both lanes had work
    assert np.array_equal(serial.flux, threaded.flux) and np.array_equal(serial.feasible, threaded.feasible)
    assert np.abs(org.S @ threaded.flux.T).max() < 1e-6


def test_a_prior_with_new_capacities_keeps_the_answers_whose_lp_did_not_change() -> None:
    org = load_organism_model("textbook")
    reference = MechanisticPrior(org, method="moma").wild_type_reference()
    busy = [r for i, r in enumerate(org.reaction_ids) if abs(reference[i]) > 1.0 and r != org.biomass_id]
    gene = {r: sorted(org.cobra_model.reactions.get_by_id(r).genes, key=lambda g: g.id) for r in busy}
    capped, other = next((r, s) for r in busy for s in busy if r != s and len(gene[r]) == 1 and len(gene[s]) == 1)
    lowered = Design(expression={gene[capped][0].id: 0.5})  # its cap reads the capacity of `capped`
    untouched = Design(expression={gene[other][0].id: 0.5})
    first = prior_module.shared_prior(org, None, "moma", None, 3.0, {capped: 40.0})
    before = first.compute([lowered, untouched], workers=1)
    second = prior_module.shared_prior(org, None, "moma", None, 3.0, {capped: 2.0})
    assert second.predecessor is first
    after = second.compute([lowered, untouched], workers=1)
    assert second.inherited == 1  # `untouched` lowers a reaction whose capacity stayed: its LP is the same
    assert np.array_equal(after.flux[1], before.flux[1])
    assert abs(after.flux[0][org.reaction_index(capped)]) <= 0.5 * 2.0 + 1e-6  # solved again under the new cap
    assert prior_module.shared_prior(org, None, "moma", None, 3.0, {capped: 40.0}) is first  # found again


def test_genome_bench_quick_smoke() -> None:
    from benchmarks.predictor_genome import run

    out = run("textbook", 70, "moma", 2, seed=0)
    assert out["designs"] == 70 and out["workers"] == 2 and out["extrapolated"]
    assert out["designs_per_s"] > 0 and out["cached_seconds"] < out["seconds"]
