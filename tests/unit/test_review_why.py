"""Why this design: attributions in a biologist's words (the pure wording behind the page and `review show`)."""

from __future__ import annotations

from schemas import Design
from services.cli.review import why_line
from services.review import shapley
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


def test_shapley_values_split_the_predicted_gain_exactly_over_the_interventions() -> None:
    design = Design(knockouts=["b0723", "b1380"], expression={"b1241": 4.0, "b3956": 1.0})
    assert shapley.interventions(design) == ["ko:b0723", "ko:b1380", "expr:b1241"]  # ×1 is no change
    assert len(shapley.sub_designs(design)) == 8 and shapley.sub_designs(design)[0] == Design()

    def predicted(d: Design) -> float:  # additive in ΔsdhA and adhE, with a ΔsdhA·ΔldhA synergy of 1.0
        sdha, ldha = "b0723" in d.knockouts, "b1380" in d.knockouts
        return 0.1 + 2.0 * sdha + 0.5 * ("b1241" in d.expression) + 1.0 * (sdha and ldha)

    values = shapley.design_shapley(design, predicted)
    assert values == {"ko:b0723": 2.5, "ko:b1380": 0.5, "expr:b1241": 0.5}  # the synergy is shared equally
    assert sum(values.values()) == predicted(design) - predicted(Design())
    assert why_words(values, design, NAMES) == "ΔsdhA +2.5, ΔldhA +0.5, adhE ×4 +0.5"


def test_black_box_and_very_large_designs_fall_back_to_the_gradients() -> None:
    assert not shapley.explainable(Design(parameters={"x0": 1.0}))
    assert not shapley.explainable(Design(knockouts=[f"b{i:04d}" for i in range(9)]))
    assert shapley.explainable(Design(knockouts=[f"b{i:04d}" for i in range(8)]))
