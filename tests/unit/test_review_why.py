"""Why this design: attributions in a biologist's words (the pure wording behind the page and `review show`)."""

from __future__ import annotations

from schemas import Design
from services.cli.review import why_line
from services.review.why import intervention_words, signed, why_words

DESIGN = Design(knockouts=["b0723", "b1380"], expression={"b1241": 4.0}, medium={"EX_o2_e": 5.0})
NAMES = {"b0723": "sdhA", "b1380": "ldhA", "b1241": "adhE"}


def test_the_largest_attributions_are_named_signed_and_the_rest_summed() -> None:
    attributions = {"ko:b0723": 1.91, "expr:b1241": 0.6, "medium:EX_o2_e": -0.31, "ko:b1380": 0.05,
                    "mechanistic_prior": 0.02}
    assert why_words(attributions, DESIGN, NAMES) == "ΔsdhA +1.9, adhE ×4 +0.6, EX_o2_e ≤ 5 −0.31, 2 others +0.07"
    assert why_words(attributions, DESIGN, NAMES, top=5).endswith("ΔldhA +0.05, organism-model prior +0.02")
    assert why_words({"ko:b0723": -2.4}, DESIGN) == "Δb0723 −2.4"  # no names: the ids
    assert why_words({}, DESIGN) == "no intervention moves the prediction away from the wild type"


def test_each_kind_of_intervention_reads_as_what_was_done() -> None:
    assert intervention_words("expr:b1241", Design(expression={"b1241": 0.25}), NAMES) == "adhE ×0.25"
    assert intervention_words("param:x0", Design(parameters={"x0": 1.5})) == "x0 = 1.5"
    assert intervention_words("omics:transcripts", DESIGN) == "transcripts omics"
    assert [signed(v) for v in (12.4, -0.004, 0.0)] == ["+12", "−0.004", "+0"]


def test_review_show_prints_the_same_words_or_why_there_are_none() -> None:
    assert why_line({"why": "ΔsdhA +1.9", "why_model_version": 3}) == (
        "why: ΔsdhA +1.9 (model v3, predicted change from wild type)")
    assert why_line({"why": None, "why_unavailable": "no model trained yet for campaign 'c1'"}) == (
        "why: no attributions (no model trained yet for campaign 'c1')")
    assert why_line({}) is None
