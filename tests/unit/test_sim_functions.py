"""Black-box functions: safe evaluation and known optima."""

from __future__ import annotations

import math

import pytest

from simulators.functions import BUILTINS, FunctionSimulator, UnsafeExpressionError


@pytest.mark.parametrize("name", list(BUILTINS))
def test_builtins_reach_their_known_optimum(name: str) -> None:
    known = BUILTINS[name]
    sim = FunctionSimulator(name, list(known.bounds))
    assert sim.evaluate(known.argopt) == pytest.approx(known.optimum, abs=1e-4)


@pytest.mark.parametrize("expression", ["__import__('os')", "x0.__class__", "(lambda: 1)()", "[1][0]",
                                        "open('f')", "'a' * 3", "x0 +", "y + 1", "sin(x=1)"])
def test_unsafe_or_invalid_expressions_are_refused(expression: str) -> None:
    with pytest.raises(UnsafeExpressionError):
        FunctionSimulator(expression, ["x0"])


def test_import_refusal_names_the_call() -> None:
    with pytest.raises(UnsafeExpressionError, match="__import__"):
        FunctionSimulator("__import__('os').system('true')", ["x0"])


def test_expression_evaluation_and_errors() -> None:
    sim = FunctionSimulator("sqrt(x0) * pi + 2 ** x1", ["x0", "x1"])
    assert sim.evaluate({"x0": 4.0, "x1": 3.0}) == pytest.approx(2 * math.pi + 8)
    with pytest.raises(ValueError, match="x1"):
        sim.evaluate({"x0": 1.0})
    with pytest.raises(ValueError, match="undefined"):
        sim.evaluate({"x0": -1.0, "x1": 0.0})
    with pytest.raises(ValueError):
        FunctionSimulator("9 ** 9 ** 9", ["x0"]).evaluate({"x0": 0.0})
    assert FunctionSimulator(lambda v: v["a"] * 2, ["a"]).evaluate({"a": 2.0}) == 4.0
