"""Automatic review policies: pure functions of a proposal and its campaign spec.

`approve_all` approves everything. `growth_and_uncertainty` approves a proposal when

* its predicted growth clears the floor: the absolute floor is `predicted["growth_floor"].mean` when the
  optimizer sent one (1/h); else `objective.growth_floor × predicted["wild_type_growth"].mean` when the
  wild-type growth is given; else the optimizer's own `feasible` flag (its organism model checked the floor);
* and the objective's relative uncertainty `sd / |mean|` is at most `review.max_relative_uncertainty`.

Anything else is rejected with a reason a biologist can read.
"""

from __future__ import annotations

from dataclasses import dataclass

from schemas import AutoPolicy, CampaignSpec, Proposal


@dataclass(frozen=True)
class PolicyOutcome:
    """What a policy decided and why."""

    approve: bool
    reason: str
    meaning: str


def evaluate(proposal: Proposal, spec: CampaignSpec) -> PolicyOutcome:
    """Apply the campaign's auto policy to one proposal."""
    if spec.review.policy == AutoPolicy.APPROVE_ALL:
        meaning = f"approved by policy approve_all: build and measure {proposal.design.describe()}"
        return PolicyOutcome(True, "", meaning)
    problems = [p for p in (_growth_problem(proposal, spec), _uncertainty_problem(proposal, spec)) if p]
    if problems:
        reason = "; ".join(problems)
        return PolicyOutcome(False, reason, f"rejected by policy growth_and_uncertainty: {reason}")
    return PolicyOutcome(True, "", "approved by policy growth_and_uncertainty: predicted growth clears the floor "
                                   "and the objective prediction is confident enough")


def growth_floor(proposal: Proposal, spec: CampaignSpec) -> float | None:
    """Absolute growth floor (1/h) from the proposal's predictions, or None when it cannot be known."""
    predicted = proposal.predicted
    if "growth_floor" in predicted:
        return predicted["growth_floor"].mean
    if "wild_type_growth" in predicted:
        return spec.objective.growth_floor * predicted["wild_type_growth"].mean
    return None


def _growth_problem(proposal: Proposal, spec: CampaignSpec) -> str | None:
    floor = growth_floor(proposal, spec)
    growth = proposal.predicted.get("growth")
    if floor is not None and growth is not None:
        if growth.mean < floor:
            return f"predicted growth {growth.mean:.3g} 1/h is below the floor {floor:.3g} 1/h"
        return None
    if not proposal.feasible:
        return "the organism model predicts growth below the campaign's floor (infeasible design)"
    return None


def _uncertainty_problem(proposal: Proposal, spec: CampaignSpec) -> str | None:
    target = spec.objective.target
    prediction = proposal.predicted.get(target)
    if prediction is None:
        return f"no prediction for the objective {target}"
    limit = spec.review.max_relative_uncertainty
    if prediction.mean == 0.0:
        if prediction.sd == 0.0:
            return None
        return f"predicted {target} is 0 ± {prediction.sd:.3g}: relative uncertainty is unbounded"
    relative = prediction.sd / abs(prediction.mean)
    if relative > limit:
        return (f"predicted {target} {prediction.mean:.3g} ± {prediction.sd:.3g} has relative uncertainty "
                f"{relative:.2f} above the limit {limit:.2f}")
    return None
