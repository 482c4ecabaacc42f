"""Parse designs typed by a reviewer (web form fields or CLI options). Pure."""

from __future__ import annotations

import re
from collections.abc import Iterable

from pydantic import ValidationError

from schemas import Design, FieldError, describe_validation_error


class DesignInputError(FieldError, ValueError):
    """A bad entry in an edited design: which field, and why."""


def split_ids(text: str) -> list[str]:
    """Gene or reaction ids separated by spaces, commas, semicolons or new lines."""
    return [item for item in re.split(r"[\s,;]+", text or "") if item]


def parse_assignments(entries: Iterable[str], field: str) -> dict[str, float]:
    """`NAME=NUMBER` entries (also one per line or comma-separated in one string)."""
    result: dict[str, float] = {}
    for entry in entries:
        for item in re.split(r"[\n,;]+", entry or ""):
            item = item.strip()
            if not item:
                continue
            name, sep, number = item.partition("=")
            if not sep or not name.strip():
                raise DesignInputError(field, f"'{item}' is not NAME=NUMBER")
            try:
                result[name.strip()] = float(number)
            except ValueError:
                raise DesignInputError(f"{field}.{name.strip()}", f"'{number.strip()}' is not a number") from None
    return result


def build_design(knockouts: list[str], expression: dict[str, float], medium: dict[str, float],
                 parameters: dict[str, float]) -> Design:
    """A validated design; an unchanged expression (fold change 1) is dropped."""
    try:
        return Design(knockouts=sorted(set(knockouts)),
                      expression={g: v for g, v in expression.items() if abs(v - 1.0) > 1e-12},
                      medium=medium, parameters=parameters)
    except ValidationError as exc:
        field, reason = describe_validation_error(exc)
        raise DesignInputError(field, reason) from None


def design_from_form(knockouts: str, expression: str, medium: str, parameters: str = "") -> Design:
    """The full design as typed in the amend form (every part replaces the proposal's)."""
    return build_design(split_ids(knockouts), parse_assignments([expression], "expression"),
                        parse_assignments([medium], "medium"), parse_assignments([parameters], "parameters"))


def design_form_values(design: Design) -> dict[str, str]:
    """Pre-filled amend form fields of a design."""
    return {
        "knockouts": " ".join(design.knockouts),
        "expression": "\n".join(f"{g}={v}" for g, v in sorted(design.expression.items())),
        "medium": "\n".join(f"{r}={v}" for r, v in sorted(design.medium.items())),
        "parameters": "\n".join(f"{n}={v}" for n, v in sorted(design.parameters.items())),
    }
