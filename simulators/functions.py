"""Black-box test functions for campaigns without a cell, evaluated safely.

An expression is parsed with `ast` and checked against a whitelist (numbers, the
declared parameter names, arithmetic, comparisons, conditional expressions and a few
math functions) before it is compiled; anything else (attributes, subscripts, calls of
other names, `__import__`, lambdas, ...) is refused with a clear error.
"""

from __future__ import annotations

import ast
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

SAFE_FUNCTIONS: dict[str, Callable[..., float]] = {
    "sin": math.sin, "cos": math.cos, "tan": math.tan, "asin": math.asin, "acos": math.acos, "atan": math.atan,
    "atan2": math.atan2, "sinh": math.sinh, "cosh": math.cosh, "tanh": math.tanh, "exp": math.exp,
    "log": math.log, "log10": math.log10, "log2": math.log2, "sqrt": math.sqrt, "abs": abs, "min": min,
    "max": max, "pow": math.pow, "floor": math.floor, "ceil": math.ceil,
}
SAFE_CONSTANTS = {"pi": math.pi, "e": math.e, "tau": math.tau}
_SAFE_NODES = (
    ast.Expression, ast.BinOp, ast.UnaryOp, ast.Constant, ast.Name, ast.Load, ast.Call, ast.Compare, ast.IfExp,
    ast.Add, ast.Sub, ast.Mult, ast.Div, ast.FloorDiv, ast.Mod, ast.Pow, ast.USub, ast.UAdd,
    ast.Lt, ast.LtE, ast.Gt, ast.GtE, ast.Eq, ast.NotEq,
)


class UnsafeExpressionError(ValueError):
    """The expression uses something outside the whitelist, or does not parse."""


def compile_expression(expression: str, parameters: Sequence[str]) -> Callable[[Mapping[str, float]], float]:
    """Check `expression` against the whitelist and return a function of a parameter mapping."""
    try:
        tree = ast.parse(expression, mode="eval")
    except SyntaxError as exc:
        raise UnsafeExpressionError(f"expression does not parse: {exc.msg}") from None
    allowed_names = set(parameters) | set(SAFE_FUNCTIONS) | set(SAFE_CONSTANTS)
    for node in ast.walk(tree):
        if not isinstance(node, _SAFE_NODES):
            raise UnsafeExpressionError(f"expression may not contain {type(node).__name__} (only arithmetic "
                                        f"over parameters and math functions)")
        if isinstance(node, ast.Name) and node.id not in allowed_names:
            raise UnsafeExpressionError(f"unknown name {node.id!r} (parameters: {', '.join(parameters)})")
        if isinstance(node, ast.Call) and not (isinstance(node.func, ast.Name) and node.func.id in SAFE_FUNCTIONS):
            name = ast.unparse(node.func)
            raise UnsafeExpressionError(
                f"call of {name!r} is not allowed; only math functions: " + ", ".join(sorted(SAFE_FUNCTIONS))
            )
        if isinstance(node, ast.Call) and node.keywords:
            raise UnsafeExpressionError("keyword arguments are not allowed")
        if isinstance(node, ast.Constant):
            if isinstance(node.value, bool) or not isinstance(node.value, int | float):
                raise UnsafeExpressionError(f"only numeric constants are allowed, got {node.value!r}")
            node.value = float(node.value)  # float powers overflow instead of building huge integers
    code = compile(tree, "<expression>", "eval")
    namespace: dict[str, object] = {"__builtins__": {}, **SAFE_FUNCTIONS, **SAFE_CONSTANTS}

    def evaluate(values: Mapping[str, float]) -> float:
        return float(eval(code, namespace, dict(values)))  # whitelisted AST only

    return evaluate


_HARTMANN_A = np.array([[10, 3, 17, 3.5, 1.7, 8], [0.05, 10, 17, 0.1, 8, 14],
                        [3, 3.5, 1.7, 10, 17, 8], [17, 8, 0.05, 10, 0.1, 14]])
_HARTMANN_P = 1e-4 * np.array([[1312, 1696, 5569, 124, 8283, 5886], [2329, 4135, 8307, 3736, 1004, 9991],
                               [2348, 1451, 3522, 2883, 3047, 6650], [4047, 8828, 8732, 5743, 1091, 381]])
_HARTMANN_ALPHA = np.array([1.0, 1.2, 3.0, 3.2])


def hartmann6(values: Mapping[str, float]) -> float:
    """Hartmann 6-D on [0, 1]^6 over x0..x5; global minimum -3.32237."""
    x = np.array([values[f"x{i}"] for i in range(6)])
    return float(-_HARTMANN_ALPHA @ np.exp(-np.sum(_HARTMANN_A * (x - _HARTMANN_P) ** 2, axis=1)))


def _vector(values: Mapping[str, float], dim: int = 10) -> np.ndarray:
    return np.array([values[f"x{i}"] for i in range(dim)], dtype=float)


def neg_ackley10(values: Mapping[str, float]) -> float:
    """Minus Ackley 10-D (a = 20, b = 0.2, c = 2 pi) on [-32.768, 32.768]^10; maximum 0 at the origin."""
    x = _vector(values)
    term = -20.0 * np.exp(-0.2 * np.sqrt(np.mean(x**2))) - np.exp(np.mean(np.cos(2 * np.pi * x)))
    return float(-(term + 20.0 + np.e))


def neg_rastrigin10(values: Mapping[str, float]) -> float:
    """Minus Rastrigin 10-D on [-5.12, 5.12]^10; maximum 0 at the origin."""
    x = _vector(values)
    return float(-(10.0 * len(x) + np.sum(x**2 - 10.0 * np.cos(2 * np.pi * x))))


def neg_levy10(values: Mapping[str, float]) -> float:
    """Minus Levy 10-D on [-10, 10]^10; maximum 0 at (1, ..., 1)."""
    w = 1.0 + (_vector(values) - 1.0) / 4.0
    middle = np.sum((w[:-1] - 1) ** 2 * (1 + 10 * np.sin(np.pi * w[:-1] + 1) ** 2))
    last = (w[-1] - 1) ** 2 * (1 + np.sin(2 * np.pi * w[-1]) ** 2)
    return float(-(np.sin(np.pi * w[0]) ** 2 + middle + last))


def neg_rosenbrock10(values: Mapping[str, float]) -> float:
    """Minus Rosenbrock 10-D on [-5, 10]^10; maximum 0 at (1, ..., 1)."""
    x = _vector(values)
    return float(-np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2))


@dataclass(frozen=True)
class KnownFunction:
    """A built-in test function with its domain and known optimum."""

    expression: str | Callable[[Mapping[str, float]], float]
    bounds: dict[str, tuple[float, float]]
    sense: str
    optimum: float
    argopt: dict[str, float]


BUILTINS: dict[str, KnownFunction] = {
    "sin_cos": KnownFunction("sin(x0) + cos(x1)", {"x0": (0.0, 2 * math.pi), "x1": (0.0, 2 * math.pi)},
                             "maximize", 2.0, {"x0": math.pi / 2, "x1": 0.0}),
    "branin": KnownFunction(
        "(x2 - 5.1 / (4 * pi ** 2) * x1 ** 2 + 5 / pi * x1 - 6) ** 2 + 10 * (1 - 1 / (8 * pi)) * cos(x1) + 10",
        {"x1": (-5.0, 10.0), "x2": (0.0, 15.0)}, "minimize", 0.397887, {"x1": math.pi, "x2": 2.275}),
    "hartmann6": KnownFunction(hartmann6, {f"x{i}": (0.0, 1.0) for i in range(6)}, "minimize", -3.32237,
                               {"x0": 0.20169, "x1": 0.150011, "x2": 0.476874, "x3": 0.275332, "x4": 0.311652,
                                "x5": 0.6573}),
    **{
        name: KnownFunction(fn, {f"x{i}": bounds for i in range(10)}, "maximize", 0.0,
                            {f"x{i}": argopt for i in range(10)})
        for name, fn, bounds, argopt in (
            ("ackley10", neg_ackley10, (-32.768, 32.768), 0.0),
            ("rastrigin10", neg_rastrigin10, (-5.12, 5.12), 0.0),
            ("levy10", neg_levy10, (-10.0, 10.0), 1.0),
            ("rosenbrock10", neg_rosenbrock10, (-5.0, 10.0), 1.0),
        )
    },
}
"""Named functions; a SimulatorSpec.expression may be one of these names. The 10-D ones are the usual
minimisation benchmarks maximised as their negatives (maximum 0)."""


def known_function(expression: str | None) -> KnownFunction | None:
    """The built-in behind a name or (whitespace-insensitively) behind its expression text."""
    if expression is None:
        return None
    if expression in BUILTINS:
        return BUILTINS[expression]
    squeezed = "".join(expression.split())
    return next((f for f in BUILTINS.values() if isinstance(f.expression, str)
                 and "".join(f.expression.split()) == squeezed), None)


class FunctionSimulator:
    """A black-box objective over named continuous parameters."""

    def __init__(self, expression: str | Callable[[Mapping[str, float]], float], parameters: Sequence[str],
                 output: str = "y") -> None:
        self.parameters = list(parameters)
        self.output = output
        if callable(expression):
            self._fn = expression
            self.expression = getattr(expression, "__name__", "callable")
        elif expression in BUILTINS and callable(BUILTINS[expression].expression):
            self._fn = BUILTINS[expression].expression  # type: ignore[assignment]
            self.expression = expression
        else:
            text = BUILTINS[expression].expression if expression in BUILTINS else expression
            assert isinstance(text, str)
            self._fn = compile_expression(text, self.parameters)
            self.expression = text

    def evaluate(self, values: Mapping[str, float]) -> float:
        """Function value at a parameter point (ValueError naming a missing parameter)."""
        missing = [p for p in self.parameters if p not in values]
        if missing:
            raise ValueError(f"parameters.{missing[0]}: missing value for parameter {missing[0]!r}")
        try:
            value = self._fn({p: float(values[p]) for p in self.parameters})
        except (ValueError, ZeroDivisionError, OverflowError) as exc:
            raise ValueError(f"parameters: function undefined at this point ({exc})") from None
        if not math.isfinite(value):
            raise ValueError("parameters: function is not finite at this point")
        return value
