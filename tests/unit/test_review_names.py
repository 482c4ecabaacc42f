"""Review pages name genes and reactions as biologists know them."""

from __future__ import annotations

from services.review.names import label


def test_labels_come_from_the_campaigns_organism_model() -> None:
    assert label("b0723", "textbook") == "sdhA (b0723)"
    assert label("EX_glc__D_e", "textbook") == "D-Glucose exchange (EX_glc__D_e)"
    assert label("b9999", "textbook") == "b9999"
    assert label("b0723", None) == "b0723"
