"""The organism model's in-silico answer scores the first batch; batches spread over strains."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from schemas import Design, Strategy
from services.domain.organism import load_organism
from services.optimizer.context import Candidate, History, PlannedProposal
from services.optimizer.feasibility import feasibility_for
from services.optimizer.insilico import InSilicoSurrogate, insilico_for
from services.optimizer.ledger import CampaignLedger
from services.optimizer.planner import plan_batch
from services.optimizer.selection import select_diverse
from services.optimizer.service import OptimizerService
from services.optimizer.space import DesignSpace
from services.runtime.settings import Settings
from simulators.examples import sin_cos_spec, succinate_core_spec


def test_insilico_surrogate_predicts_the_model_flux() -> None:
    organism = load_organism("textbook")
    surrogate = InSilicoSurrogate(organism, "EX_succ_e")
    mean, sd = surrogate.predict([Design(), Design(knockouts=["b0723", "b1852"])])
    assert mean[0] < 0.1 < mean[1]  # wild type secretes no succinate; sdhA + zwf does in silico
    assert (sd == 0).all()
    assert insilico_for(sin_cos_spec(), organism) is None
    bad = succinate_core_spec().model_copy(update={"objective": succinate_core_spec().objective.model_copy(
        update={"target": "titer:EX_succ_e"})})
    assert insilico_for(bad, organism) is None


def test_first_cell_batch_is_scored_in_silico_only_for_model_based_strategies() -> None:
    spec = succinate_core_spec(seed=3)
    organism = load_organism("textbook")
    prior = insilico_for(spec, organism)
    feasibility = feasibility_for(spec, organism)
    batch = plan_batch(spec, History(), None, 8, np.random.default_rng(0), feasibility=feasibility,
                       strategy=Strategy.HYBRID, prior=prior)
    assert len(batch) == 8 and batch[0].design == Design()  # the wild-type control
    scored = [p for p in batch[1:] if p.mean is not None]
    assert scored and max(p.mean or 0.0 for p in scored) > 1.0
    assert all(feasibility is not None and feasibility.is_feasible(p.design) for p in batch)
    plain = plan_batch(spec, History(), None, 8, np.random.default_rng(0), feasibility=feasibility,
                       strategy=Strategy.RANDOM, prior=prior)
    assert all(p.mean is None for p in plain)


def test_per_strain_caps_expression_variants_of_one_knockout_set() -> None:
    space = DesignSpace.from_spec(succinate_core_spec())
    same = [Candidate(Design(knockouts=["b0723"], expression={"b3956": v}), "ga", acquisition=10.0 - i)
            for i, v in enumerate((0.25, 0.5, 2.0, 4.0))]
    other = [Candidate(Design(knockouts=["b2297"]), "ga", acquisition=1.0)]
    picks = select_diverse(same + other, 3, space, penalty=0.0, per_strain=2)
    assert [tuple(c.design.knockouts) for c in picks] == [("b0723",), ("b0723",), ("b2297",)]
    assert len(select_diverse(same + other, 3, space, penalty=0.0)) == 3


def test_a_proposal_scored_in_silico_carries_that_score_labelled_not_a_prediction(tmp_path: Path) -> None:
    spec = succinate_core_spec(seed=3)
    service = OptimizerService(Settings(data_dir=tmp_path))
    ledger = CampaignLedger(spec=spec)
    item = PlannedProposal(design=Design(knockouts=["b0723"]), strategy="hybrid", acquisition=2.5, mean=2.5, sd=0.0)
    before_model = service._proposal("c1", 1, item, ledger)
    assert before_model.insilico == 2.5 and before_model.predicted == {}  # no uncertainty claimed
    ledger.model_version = 1
    with_model = service._proposal("c1", 2, dataclasses.replace(item, sd=0.4), ledger)
    assert with_model.insilico is None and with_model.predicted[spec.objective.target].sd == 0.4
