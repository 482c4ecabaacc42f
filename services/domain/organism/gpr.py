"""Gene-protein-reaction rules compiled to small trees, evaluated as enzyme levels.

A rule is evaluated over gene *levels* (fold change relative to wild type; 0 = knocked
out, 1 = unchanged): an AND (enzyme complex) takes the minimum of its parts, an OR
(isozymes) takes the sum. A reaction's relative capacity is the rule's value at the
given levels divided by its value with every gene at 1, so

* a knockout blocks a reaction exactly when cobra's boolean GPR evaluation is false
  (min of a complex is 0 when one subunit is gone; a sum of isozymes is 0 only when
  all are gone);
* overexpressing one subunit of a complex does nothing (min), halving it halves the
  complex; overexpressing one of two isozymes 4x gives (4 + 1) / 2 = 2.5x capacity.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping
from typing import TypeAlias

GprNode: TypeAlias = "str | tuple[str, tuple[GprNode, ...]]"
"""A gene id, or ("and" | "or", children)."""


def compile_gpr(body: ast.AST | None) -> GprNode | None:
    """Turn a cobra GPR body (a Python ast) into a nested tuple tree; None for no rule."""
    if body is None:
        return None
    if isinstance(body, ast.Expression):
        return compile_gpr(body.body)
    if isinstance(body, ast.Name):
        return body.id
    if isinstance(body, ast.BoolOp):
        op = "and" if isinstance(body.op, ast.And) else "or"
        children = tuple(c for c in (compile_gpr(v) for v in body.values) if c is not None)
        return (op, children)
    raise ValueError(f"unsupported GPR element {ast.dump(body)}")


def gpr_level(node: GprNode, levels: Mapping[str, float]) -> float:
    """Evaluate a compiled rule over gene levels (missing genes count as 1)."""
    if isinstance(node, str):
        return levels.get(node, 1.0)
    op, children = node
    values = [gpr_level(child, levels) for child in children]
    return min(values) if op == "and" else sum(values)


def gpr_genes(node: GprNode | None) -> set[str]:
    """All gene ids mentioned in a compiled rule."""
    if node is None:
        return set()
    if isinstance(node, str):
        return {node}
    out: set[str] = set()
    for child in node[1]:
        out |= gpr_genes(child)
    return out
