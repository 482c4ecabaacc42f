"""What the predictor loads ahead of a campaign's first training (`services.predictor.warmup`)."""

from __future__ import annotations

from pathlib import Path

from schemas import CampaignSpec
from services.domain.organism.model import load_organism
from services.predictor.warmup import warm_imports, warm_organism
from services.runtime.specfile import load_spec

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"


def test_a_cell_campaigns_organism_model_is_loaded_ahead() -> None:
    warm_imports()
    spec = load_spec(EXAMPLES / "succinate_core.toml")
    load_organism.cache_clear()
    warm_organism(spec)
    hits = load_organism.cache_info().hits
    load_organism(spec.organism.model)  # what the first training asks for is already there
    assert load_organism.cache_info().hits == hits + 1


def test_a_function_campaign_loads_no_organism_model() -> None:
    spec = CampaignSpec.model_validate({
        "name": "f", "budget": 4, "batch_size": 2, "strategy": "random",
        "objective": {"target": "y"},
        "search_space": {"parameters": [{"name": "x", "low": 0.0, "high": 1.0}]},
    })
    load_organism.cache_clear()
    warm_organism(spec)
    assert load_organism.cache_info().currsize == 0
