"""Time courses of a work order: the lab's true cell grown in batch culture (`simulators/dfba.py`).

A work order whose campaign asks for time courses (`readout.time_course`) carries the initial medium (mM) and
the sampling times (h). The lab then grows the design in a `BatchCulture` on the true cell's organism model,
with the design's knockouts and its expression levels after the cell's hidden regulation (what the cell
really runs), and samples ln OD and every tracked concentration with the batch culture's lab noise. A product
the order asks to follow (`time_course.tracked`) is secreted in proportion to the substrate taken up, at the
true cell's own steady-state ratio (`coupled`), since growth-maximising FBA in each step secretes none.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from schemas.design import Design
from schemas.timecourse import TimeCourseRequest
from simulators.dfba import BatchCulture

if TYPE_CHECKING:
    from simulators.truecell import TrueCell

MAX_FOLD = 1000.0
"""Largest fold change a Design holds (a stronger hidden up-regulation is capped here)."""


class BatchRuns:
    """Grows designs of one true cell in batch culture."""

    def __init__(self, cell: TrueCell) -> None:
        self.cell = cell

    def culture(self) -> BatchCulture:
        """A fresh batch culture on the cell's organism model (ms on E. coli core).

        Fresh per run: a warm-started LP answers a degenerate step by where its solver stood after the earlier
        runs, so a shared one would make a run's curve depend on the runs before it.
        """
        return BatchCulture(self.cell.organism)

    def regulated(self, design: Design) -> Design:
        """The design as the cell runs it: its expression levels after the hidden regulatory effects."""
        levels = self.cell.effective_levels(design) if hasattr(self.cell, "effective_levels") else design.expression
        expression = {g: min(float(v), MAX_FOLD) for g, v in levels.items()
                      if v > 0 and g not in design.knockouts and abs(v - 1.0) > 1e-12}
        return design.model_copy(update={"expression": expression})

    def coupled(self, design: Design, products: list[str], substrates: list[str]) -> dict[str, float]:
        """Per product: the true cell's secretion per unit of the substrates taken up (mol/mol) in its
        steady-state response on the base medium.

        Growth-maximising FBA in each batch step secretes no succinate (nor most products a design aims at),
        while the true cell (MOMA around its wild type) does: the batch culture adds this secretion, in
        proportion to its own uptake of the medium's carbon sources, to FBA's exchange flux (so it is bounded by
        the substrate's carbon). 0 for a lethal design, a product the cell does not secrete, or substrates the
        steady state does not take up.
        """
        if not products:
            return {}
        state = self.cell.respond(design)
        uptake = sum(max(0.0, -state.exchange.get(f"EX_{s}", 0.0)) for s in substrates)
        if state.growth <= 0 or uptake <= 0:
            return dict.fromkeys(products, 0.0)
        return {p: max(0.0, state.exchange.get(f"EX_{p}", 0.0)) / uptake for p in products}

    def fields(self, design: Design, request: TimeCourseRequest, rng: np.random.Generator) -> dict[str, object]:
        """`time_courses` (ln_od and each tracked metabolite, mM) and `initial_concentrations` of one culture."""
        times = np.asarray(request.times_h, dtype=float)
        products = [m for m in request.tracked if m not in request.initial_mM]
        measured = self.culture().measure("batch", "batch", dict(request.initial_mM), times, rng,
                                        design=self.regulated(design),
                                        coupled=self.coupled(design, products, sorted(request.initial_mM)))
        return {"time_courses": measured.time_courses, "initial_concentrations": measured.initial_concentrations}
