"""Is a design buildable in this campaign? Checked before anything is dispatched or recorded. Pure: no NATS.

Every way a design enters (amend on the page or CLI, import, bench form) goes through `check_design`: gene
names are turned into the model's ids (`ldhA` -> `b1380`), then every knockout, expression gene, medium
component and parameter must belong to the campaign's search space and stay inside its bounds. The first
problem raises `DesignRefused` naming the field; nothing is half-applied.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, TypeVar

from schemas import CampaignSpec, Design, ExpressionParam, FieldError, MediumParam, RangeParam

if TYPE_CHECKING:  # cobra loads only for cell campaigns (the review service starts seconds sooner without it)
    from services.domain.organism import Organism

P = TypeVar("P", ExpressionParam, MediumParam, RangeParam)
"""The search-space entry a design's expression, medium or parameter value is checked against."""


class DesignRefused(FieldError, ValueError):
    """A design that cannot be built in this campaign: the field at fault and why."""


def gene_names(organism: Organism) -> dict[str, str]:
    """Gene id -> gene name (`b0723` -> `sdhA`) where the model names the gene."""
    return {g.id: g.name for g in organism.cobra_model.genes if g.name and g.name != g.id}


def did_you_mean(token: str, choices: Iterable[str], names: Mapping[str, str] | None = None) -> str:
    """'; did you mean b1380 (ldhA)?' for the closest of `choices` (ids or their names), else ''."""
    names = names or {}
    pool: dict[str, str] = {}
    for choice in choices:
        pool[choice.lower()] = choice
        if choice in names:
            pool[names[choice].lower()] = choice
    close = difflib.get_close_matches(token.lower(), list(pool), n=1, cutoff=0.6)
    if not close:
        return ""
    best = pool[close[0]]
    return f"; did you mean {best} ({names[best]})?" if best in names else f"; did you mean {best}?"


def resolve_gene(token: str, organism: Organism) -> str:
    """The model's gene id for an id or a gene name (case-insensitive); the token itself when neither."""
    if token in organism.gene_ids or organism.has_reaction(token):
        return token
    by_name = {name.lower(): gid for gid, name in gene_names(organism).items()}
    return by_name.get(token.lower(), token)


def _organism_of(spec: CampaignSpec) -> Organism | None:
    if spec.is_function:
        return None
    from services.domain.organism import OrganismError, load_organism

    try:
        return load_organism(spec.organism.model)
    except OrganismError as exc:
        raise DesignRefused(exc.field, exc.reason) from None


def check_design(design: Design, spec: CampaignSpec, organism: Organism | None = None) -> Design:
    """The design with gene names resolved to ids, or DesignRefused for the first thing that cannot be built."""
    organism = organism or _organism_of(spec)
    names = gene_names(organism) if organism is not None else {}
    knockouts = [resolve_gene(k, organism) for k in design.knockouts] if organism else list(design.knockouts)
    expression = {(resolve_gene(g, organism) if organism else g): v for g, v in design.expression.items()}
    resolved = Design(knockouts=sorted(set(knockouts)), expression=expression, medium=design.medium,
                      parameters=design.parameters)
    if organism is not None:
        _check_organism(resolved, spec, organism, names)
    _check_knockouts(resolved, spec, names)
    _check_expression(resolved, spec, names)
    _check_medium(resolved, spec)
    _check_parameters(resolved, spec)
    space = spec.search_space
    if space.max_interventions is not None:
        n = len(resolved.knockouts) + len(resolved.expression) + len(resolved.medium)
        if n > space.max_interventions:
            raise DesignRefused("design", f"{n} interventions; this campaign allows at most {space.max_interventions}")
    return resolved


def _label(identifier: str, names: Mapping[str, str]) -> str:
    return f"{names[identifier]} ({identifier})" if identifier in names else identifier


def _check_organism(design: Design, spec: CampaignSpec, organism: Organism, names: Mapping[str, str]) -> None:
    from services.domain.organism import OrganismError

    try:
        organism.validate_design(design)
    except OrganismError as exc:
        space = spec.search_space
        token = exc.field.partition(".")[2] or design.knockouts[int(exc.field[10:-1])]
        choices = {"knockouts": space.knockout_candidates, "expression": [p.gene for p in space.expression],
                   "medium": [m.exchange for m in space.medium]}[exc.field.split("[")[0].split(".")[0]]
        raise DesignRefused(exc.field, exc.reason + did_you_mean(token, choices, names)) from None


def _check_knockouts(design: Design, spec: CampaignSpec, names: Mapping[str, str]) -> None:
    space = spec.search_space
    candidates = set(space.knockout_candidates)
    for i, ko in enumerate(design.knockouts):
        if ko not in candidates:
            hint = "" if ko in names else did_you_mean(ko, space.knockout_candidates, names)  # a real gene: no guess
            raise DesignRefused(f"knockouts[{i}]",
                                f"'{_label(ko, names)}' is not a knockout candidate of this campaign{hint}")
    if len(design.knockouts) > space.max_knockouts:
        raise DesignRefused("knockouts", f"{len(design.knockouts)} knockouts; this campaign allows at most "
                                         f"{space.max_knockouts}")
    for combo in space.forbidden:
        if combo and set(combo) <= set(design.knockouts):
            pair = " + ".join(_label(k, names) for k in combo)
            raise DesignRefused("knockouts", f"{pair} must not be knocked out together (search_space.forbidden)")


def _check_entries(section: str, values: Mapping[str, float], params: Mapping[str, P], what: str,
                   fault: Callable[[float, P], str], names: Mapping[str, str] | None = None) -> None:
    """Each entry of the design's `section` names one of `params` (else it 'is not {what} of this campaign')
    and its value has no `fault` (the reason it is out of bounds, '' when it is inside them)."""
    names = names or {}
    for key, value in values.items():
        param = params.get(key)
        if param is None:
            hint = "" if key in names else did_you_mean(key, params, names)  # a real gene: no guess
            raise DesignRefused(f"{section}.{key}", f"'{_label(key, names)}' is not {what} of this campaign{hint}")
        reason = fault(value, param)
        if reason:
            raise DesignRefused(f"{section}.{key}", reason)


def _fold_fault(fold: float, param: ExpressionParam) -> str:
    if param.min_fold - 1e-9 <= fold <= param.max_fold + 1e-9:
        return ""
    return f"fold change {fold:g}× is outside the campaign's range {param.min_fold:g}–{param.max_fold:g}×"


def _uptake_fault(uptake: float, param: MediumParam) -> str:
    if param.min_uptake - 1e-9 <= uptake <= param.max_uptake + 1e-9:
        return ""
    return f"uptake {uptake:g} mmol/gDW/h is outside the campaign's range {param.min_uptake:g}–{param.max_uptake:g}"


def _value_fault(value: float, param: RangeParam) -> str:
    return "" if param.low <= value <= param.high else f"{value:g} is outside the range {param.low:g}–{param.high:g}"


def _check_expression(design: Design, spec: CampaignSpec, names: Mapping[str, str]) -> None:
    params = {p.gene: p for p in spec.search_space.expression}
    _check_entries("expression", design.expression, params, "an expression gene", _fold_fault, names)


def _check_medium(design: Design, spec: CampaignSpec) -> None:
    params = {m.exchange: m for m in spec.search_space.medium}
    _check_entries("medium", design.medium, params, "a medium component", _uptake_fault)


def _check_parameters(design: Design, spec: CampaignSpec) -> None:
    params = {p.name: p for p in spec.search_space.parameters}
    _check_entries("parameters", design.parameters, params, "a parameter", _value_fault)


def check_readouts(readouts: Iterable[str], spec: CampaignSpec, field: str = "fluxes") -> None:
    """Refuse flux/product readouts naming reactions the campaign's organism model lacks."""
    organism = _organism_of(spec)
    if organism is None:
        return
    for rid in readouts:
        if not organism.has_reaction(rid):
            raise DesignRefused(f"{field}.{rid}", f"unknown reaction '{rid}' in model '{organism.name}'"
                                + did_you_mean(rid, organism.reaction_ids))
