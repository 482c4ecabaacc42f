"""What the simulator knows about a simulated campaign, for its report (the services never import simulators)."""

from __future__ import annotations

from schemas import CampaignSpec, Design
from services.report.build import Truth


def simulated_truth(spec: CampaignSpec) -> Truth | None:
    """The noise-free optimum, wild-type value and true values of a campaign a simulator ran (None otherwise)."""
    if spec.simulator is None:
        return None
    from simulators.ground_truth import true_optimum

    optimum = true_optimum(spec).value
    if spec.simulator.kind == "function":
        from simulators.functions import FunctionSimulator

        names = [p.name for p in spec.search_space.parameters]
        function = FunctionSimulator(spec.simulator.expression or "", names, output=spec.objective.target)
        return Truth(optimum=optimum, value_of=lambda d: function.evaluate(d.parameters))
    from simulators.cells import make_cell

    cell = make_cell(spec.organism.model, spec.simulator.profile)
    target = spec.objective.target
    return Truth(optimum=optimum, reference=cell.respond(Design()).flux(target),
                 value_of=lambda d: cell.respond(d).flux(target))
