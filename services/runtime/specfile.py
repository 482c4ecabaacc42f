"""Read a campaign spec from TOML, YAML or JSON (validated against schemas.CampaignSpec)."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

import yaml

from schemas import CampaignSpec


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
    spec = CampaignSpec.model_validate(data)
    problem = organism_problem(spec)
    if problem:
        raise SpecFileError(f"spec: {problem}")
    return spec


def organism_problem(spec: CampaignSpec) -> str | None:
    """'field: reason' for the first gene or exchange of a cell campaign's search space that its organism
    model lacks (or a model that cannot be loaded); None when the spec fits its model."""
    if not spec.search_space.is_cell:
        return None
    from services.runtime.organism import OrganismError, load_organism

    try:
        load_organism(spec.organism.model).validate_search_space(spec.search_space)
    except OrganismError as exc:
        return str(exc)
    return None
