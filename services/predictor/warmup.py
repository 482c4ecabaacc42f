"""Loading what the first training needs before it is needed: the first round must not pay for imports.

Measured on `fluxlab bench latency` (2 cores): the first model of a campaign took 3 s against 0.5-0.7 s for
the later ones, most of it importing cobra (1.7 s, for the organism model) and scipy.stats (1.5 s, for
the calibration's quantiles) inside the training. The predictor now imports them in a worker thread
once its endpoints are up, and loads a cell campaign's organism model when the campaign is created
(a few seconds before its first measurements come back).
"""

from __future__ import annotations

import logging

from schemas import CampaignSpec

log = logging.getLogger(__name__)


def warm_imports() -> None:
    """Import the organism-model stack (cobra) and scipy.stats (a training's lazy imports)."""
    try:
        import scipy.stats  # noqa: F401

        import services.domain.organism  # noqa: F401  (cobra)
    except Exception as exc:  # a warm-up only: the training imports them again and reports the error
        log.debug("warm-up imports failed: %r", exc)


def warm_organism(spec: CampaignSpec) -> None:
    """Load the organism model a cell campaign's models will use (cached per process)."""
    if spec.is_function or not spec.search_space.is_cell:
        return
    try:
        from services.predictor.prior import load_organism_model

        load_organism_model(spec.organism.model)
    except Exception as exc:  # an invalid model is the optimizer's to report (it stops the campaign)
        log.debug("%s: organism model not loaded ahead: %r", spec.id, exc)
