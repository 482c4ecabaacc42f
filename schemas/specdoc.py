"""The campaign spec reference (docs/campaign-spec.md) and a commented starter spec, both from the model.

One source: the fields of `CampaignSpec` and its parts (type, default, description), plus the unit and an
example of each field below. `fluxlab schemas export` writes the reference; `--check` fails when it drifts.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from schemas.campaign import (
    AnalysisSpec,
    CampaignSpec,
    ExecutorSpec,
    ExpressionParam,
    MediumParam,
    Objective,
    OrganismSpec,
    OverTimeObjective,
    RangeParam,
    ReviewSpec,
    SearchSpace,
    SimulatorSpec,
)
from schemas.timecourse import TimeCourseRequest

SECTIONS: list[tuple[str, type[BaseModel], str]] = [
    ("", CampaignSpec, "Top level: the campaign itself."),
    ("organism", OrganismSpec, "The genome-scale model the designs are built in."),
    ("objective", Objective, "What to optimise, under which growth floor."),
    ("objective.over_time", OverTimeObjective, "Optional (off when absent): optimise a titre, yield or productivity "
     "at a harvest time, read off each run's time course (needs readout.time_course; docs/dynamic.md)."),
    ("search_space", SearchSpace, "The interventions the optimizer may combine."),
    ("[search_space.expression]", ExpressionParam, "One table per gene whose expression level is a variable."),
    ("[search_space.medium]", MediumParam, "One table per medium component whose uptake bound is a variable."),
    ("[search_space.parameters]", RangeParam, "One table per parameter of a black-box function campaign."),
    ("review", ReviewSpec, "Who decides on proposals."),
    ("executor", ExecutorSpec, "Where approved designs go."),
    ("simulator", SimulatorSpec, "The stand-in lab for tests and demos (a real lab leaves it out)."),
    ("analysis", AnalysisSpec, "Batch effects: a wild-type control in every batch, training on normalised values."),
    ("readout.time_course", TimeCourseRequest, "Optional (off when absent): grow every design in batch culture from "
     "these initial concentrations and sample ln OD and the medium's concentrations over time (docs/dynamic.md)."),
]
NESTED = {"organism", "objective", "search_space", "review", "executor", "simulator", "analysis", "expression",
          "medium", "parameters", "readout", "over_time"}
OPTIONAL_SECTIONS = {"[search_space.parameters]", "readout.time_course", "objective.over_time"}
"""Sections the starter spec leaves out (a function campaign's parameters; time courses are off by default)."""

UNITS: dict[str, str] = {
    "budget": "experiments", "batch_size": "designs per round", "organism.medium": "mmol/gDW/h",
    "objective.target": "mmol/gDW/h for a reaction, 1/h for growth", "objective.growth_floor": "fraction of wild type",
    "search_space.expression.min_fold": "fold change", "search_space.expression.max_fold": "fold change",
    "search_space.expression.levels": "fold change", "search_space.medium.min_uptake": "mmol/gDW/h",
    "search_space.medium.max_uptake": "mmol/gDW/h", "review.max_relative_uncertainty": "sd / |mean|",
    "simulator.noise": "coefficient of variation", "simulator.failure_rate": "fraction of runs",
    "readout.time_course.times_h": "h", "readout.time_course.initial_mM": "mM",
    "objective.over_time.harvest_h": "h", "objective.over_time.kind": "mM (titre), mol/mol (yield), mM/h "
    "(productivity)",
}

EXAMPLES: dict[str, Any] = {
    "id": "succinate-2026-12", "name": "succinate-core", "budget": 48, "batch_size": 8, "strategy": "hybrid",
    "seed": 0, "base_model": "succinate-2026-11", "organism.model": "textbook",
    "organism.medium": {"EX_glc__D_e": 10.0, "EX_o2_e": 5.0}, "objective.target": "EX_succ_e",
    "objective.sense": "maximize", "objective.growth_floor": 0.2, "objective.second_target": "EX_ac_e",
    "objective.second_sense": "minimize", "search_space.knockout_candidates": ["ldhA", "adhE", "pta", "b0903"],
    "search_space.max_knockouts": 3, "search_space.forbidden": [["pta", "ackA"]],
    "search_space.max_interventions": 4, "search_space.expression.gene": "ppc",
    "search_space.expression.min_fold": 0.25, "search_space.expression.max_fold": 4.0,
    "search_space.expression.levels": [0.25, 0.5, 1.0, 2.0, 4.0], "search_space.medium.exchange": "EX_o2_e",
    "search_space.medium.min_uptake": 0.0, "search_space.medium.max_uptake": 10.0,
    "search_space.parameters.name": "x0", "search_space.parameters.low": -3.0, "search_space.parameters.high": 3.0,
    "review.mode": "human", "review.policy": "approve_all", "review.max_relative_uncertainty": 1.0,
    "executor.kind": "robot", "executor.station": "sim1", "simulator.kind": "cell", "simulator.profile": "default",
    "simulator.expression": "sin(x0) + cos(x1)", "simulator.noise": 0.05, "simulator.failure_rate": 0.0,
    "readout.time_course.times_h": [0.0, 2.0, 4.0, 6.0, 8.0, 10.0, 12.0],
    "readout.time_course.initial_mM": {"glc__D_e": 20.0}, "readout.time_course.tracked": ["succ_e"],
    "objective.over_time.kind": "titre", "objective.over_time.metabolite": "succ_e",
    "objective.over_time.harvest_h": 12.0, "objective.over_time.substrate": "glc__D_e",
}

MEANINGS: dict[str, str] = {
    "id": "Campaign id (letters, digits, _ . : - ); every message quotes it", "name": "A name people recognise",
    "batch_size": "Designs proposed (and built) per round", "strategy": "How designs are proposed: ga, bo, hybrid "
    "or random", "seed": "Random seed of the optimizer (same seed, same proposals)",
    "objective.sense": "maximize or minimize", "objective.second_sense": "maximize or minimize",
    "search_space.knockout_candidates": "Genes (names or ids) or reactions that may be knocked out",
    "search_space.max_knockouts": "Most knockouts in one design", "search_space.expression.gene": "Gene name or id",
    "search_space.medium.exchange": "Exchange reaction id of the component",
    "search_space.medium.min_uptake": "Lowest uptake bound", "search_space.medium.max_uptake": "Highest uptake bound",
    "search_space.parameters.name": "Parameter name", "search_space.parameters.low": "Lowest value",
    "search_space.parameters.high": "Highest value",
    "review.mode": "human (a reviewer decides on the review page or CLI) or auto (a policy decides)",
    "review.policy": "auto mode: approve_all or growth_and_uncertainty",
    "executor.kind": "robot (a station's queue) or bench (people enter results on the bench page)",
    "executor.station": "Robot station name", "simulator.kind": "cell (a hidden true cell) or function",
    "simulator.failure_rate": "Share of runs the simulated lab fails",
    "readout.time_course.initial_mM": "Extracellular metabolite id of the organism model (its exchange is "
    "`EX_<id>`, e.g. glc__D_e) -> concentration at inoculation; every other organic component is absent "
    "(salts and oxygen are supplied)",
}


@dataclass
class FieldDoc:
    """One documented field."""

    path: str
    name: str
    type: str
    default: str
    unit: str
    example: Any
    description: str


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {_toml(v)}" for k, v in value.items()) + " }"
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if hasattr(value, "value"):
        return json.dumps(value.value)
    return json.dumps(value)


def _type(annotation: Any) -> str:
    text = getattr(annotation, "__name__", None) or str(annotation)
    return text.replace("typing.", "").replace("Annotated[", "").split(", FieldInfo")[0].split(", Field")[0]


def fields(prefix: str, model: type[BaseModel]) -> list[FieldDoc]:
    """The documented fields of one section (nested tables are sections of their own)."""
    base = prefix.strip("[]")
    out = []
    for name, info in model.model_fields.items():
        if name in NESTED:
            continue
        path = f"{base}.{name}" if base else name
        if info.default_factory is not None:
            default = "generated" if name == "id" else "empty"
        elif info.default is PydanticUndefined:
            default = "required"
        else:
            default = _toml(info.default) if info.default is not None else "none"
        meaning = MEANINGS.get(path) or (info.description or "").replace("\n", " ")
        out.append(FieldDoc(path, name, _type(info.annotation), default, UNITS.get(path, "–"),
                            EXAMPLES.get(path, info.default), meaning.rstrip(".")))
    return out


def reference() -> str:
    """docs/campaign-spec.md."""
    lines = ["# Campaign spec reference", "",
             "Generated from `schemas/campaign.py` by `fluxlab schemas export` (checked for drift by "
             "`fluxlab schemas export --check`); do not edit by hand. `fluxlab campaign init FILE` writes a "
             "commented starter spec. A spec is TOML, YAML or JSON; genes may be given by name (`ldhA`) or id "
             "(`b1380`): names become the organism model's ids when the spec is loaded, with \"did you mean\" "
             "on a miss.", ""]
    for prefix, model, about in SECTIONS:
        title = f"[{prefix}]" if prefix else "top level"
        lines += [f"## `{title}`", "", about, "", "| field | type | default | unit | example | meaning |",
                  "|---|---|---|---|---|---|"]
        for f in fields(prefix, model):
            example = "–" if f.example is None else f"`{_toml(f.example)}`"
            lines.append(f"| `{f.name}` | {f.type.replace('|', 'or')} | `{f.default}` | {f.unit} | {example} | "
                         f"{f.description.replace('|', '/')} |")
        lines.append("")
    return "\n".join(lines)


STARTER_SKIP = {"id", "base_model", "objective.second_target", "objective.second_sense", "search_space.forbidden",
                "search_space.max_interventions", "simulator.expression", "search_space.parameters.name",
                "search_space.parameters.low", "search_space.parameters.high", "organism.medium"}


def starter_spec() -> str:
    """A commented TOML spec a new campaign can start from (loads as is)."""
    out = ["# A fluxlab campaign spec: every field is explained in docs/campaign-spec.md.",
           "# Genes by name or id (ldhA or b1380). Load it with `fluxlab campaign start FILE`.", ""]
    for prefix, model, about in SECTIONS:
        if prefix in OPTIONAL_SECTIONS:
            continue
        docs = [f for f in fields(prefix, model) if f.path not in STARTER_SKIP]
        if prefix:
            out.append(f"[{prefix}]")
        out.append(f"# {about}")
        for f in docs:
            unit = f" ({f.unit})" if f.unit != "–" else ""
            out.append(f"# {f.description or f.name}{unit}; default {f.default}")
            out.append(f"{f.name} = {_toml(f.example)}")
        out.append("")
    return "\n".join(out)
