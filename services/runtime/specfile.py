"""Read a campaign spec from TOML, YAML or JSON (validated against schemas.CampaignSpec)."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from schemas import CampaignSpec

if TYPE_CHECKING:
    from services.domain.organism import Organism


class SpecFileError(ValueError):
    """The file cannot be read as a spec (the message names the file and why)."""


def load_spec(path: Path) -> CampaignSpec:
    """Parse and validate a spec file; relative organism model paths resolve against the file's folder."""
    if not path.is_file():
        raise SpecFileError(f"spec: file '{path}' does not exist")
    text = path.read_text()
    try:
        if path.suffix == ".toml":
            data: Any = tomllib.loads(text)
        elif path.suffix in (".yaml", ".yml"):
            data = yaml.safe_load(text)
        elif path.suffix == ".json":
            data = json.loads(text)
        else:
            raise SpecFileError(f"spec: unknown file type '{path.suffix}' (use .toml, .yaml or .json)")
    except (tomllib.TOMLDecodeError, yaml.YAMLError, json.JSONDecodeError) as exc:
        raise SpecFileError(f"spec: cannot parse {path.name}: {exc}") from None
    if not isinstance(data, dict):
        raise SpecFileError(f"spec: {path.name} must hold a table/object at top level")
    model = (data.get("organism") or {}).get("model")
    if isinstance(model, str) and model.endswith((".xml", ".sbml", ".json")) and not Path(model).is_absolute():
        data["organism"]["model"] = str((path.parent / model).resolve())
    spec = with_gene_ids(CampaignSpec.model_validate(data))
    problem = organism_problem(spec)
    if problem:
        raise SpecFileError(f"spec: {problem}")
    return spec


def with_gene_ids(spec: CampaignSpec) -> CampaignSpec:
    """The spec with gene names in its search space (`ldhA`) replaced by the model's ids (`b1380`)."""
    if not spec.search_space.is_cell:
        return spec
    from services.domain.designcheck import resolve_gene
    from services.domain.organism import OrganismError, load_organism

    try:
        organism = load_organism(spec.organism.model)
    except OrganismError:
        return spec  # organism_problem reports it
    space = spec.search_space
    resolved = space.model_copy(update={
        "knockout_candidates": [resolve_gene(k, organism) for k in space.knockout_candidates],
        "expression": [p.model_copy(update={"gene": resolve_gene(p.gene, organism)}) for p in space.expression],
        "forbidden": [[resolve_gene(k, organism) for k in combo] for combo in space.forbidden],
    })
    return spec.model_copy(update={"search_space": resolved})


def organism_problem(spec: CampaignSpec) -> str | None:
    """'field: reason' for the first gene or exchange of a cell campaign's search space, or objective target,
    that its organism model lacks (or a model that cannot be loaded); None when the spec fits its model."""
    if spec.is_function:
        return None
    from services.domain.designcheck import did_you_mean, gene_names
    from services.domain.organism import OrganismError, load_organism

    try:
        organism = load_organism(spec.organism.model)
    except OrganismError as exc:
        return str(exc)
    try:
        organism.validate_search_space(spec.search_space)
    except OrganismError as exc:
        token = _field_value(spec, exc.field)
        choices = organism.exchange_ids if ".medium[" in exc.field else organism.gene_ids
        return str(exc) + did_you_mean(token, choices, gene_names(organism))
    for field in ("target", "second_target"):
        target = getattr(spec.objective, field)
        if target is not None and target != "growth" and not organism.has_reaction(target):
            hint = did_you_mean(target, organism.reaction_ids)
            return (f"objective.{field}: unknown readout '{target}': neither 'growth' nor a reaction of model "
                    f"'{organism.name}'{hint}")
    return _time_course_problem(spec, organism)


def _time_course_problem(spec: CampaignSpec, organism: Organism) -> str | None:
    """'readout.time_course.initial_mM.<id>: reason' (or `tracked[i]`, `objective.over_time.metabolite`) for the
    first metabolite the model has no exchange for."""
    request = spec.readout.time_course
    if request is None:
        return None
    from services.domain.designcheck import did_you_mean

    metabolites = [ex.removeprefix("EX_") for ex in organism.exchange_ids if ex.startswith("EX_")]
    named = [(f"readout.time_course.initial_mM.{met}", met) for met in request.initial_mM]
    named += [(f"readout.time_course.tracked[{i}]", met) for i, met in enumerate(request.tracked)]
    if spec.objective.over_time is not None:
        named.append(("objective.over_time.metabolite", spec.objective.over_time.metabolite))
    for field, met in named:
        if met not in metabolites:
            return (f"{field}: unknown metabolite '{met}': model '{organism.name}' has "
                    f"no exchange reaction EX_{met}{did_you_mean(met, metabolites)}")
    return None


def _field_value(spec: CampaignSpec, field: str) -> str:
    """The id a `search_space....` field names (for the 'did you mean' hint)."""
    space = spec.search_space
    index = int(field.split("[")[1].split("]")[0])
    if field.startswith("search_space.knockout_candidates"):
        return space.knockout_candidates[index]
    if field.startswith("search_space.expression"):
        return space.expression[index].gene
    return space.medium[index].exchange
