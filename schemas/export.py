"""Generate the committed contract: JSON Schemas (`schemas/json/`) and an AsyncAPI 3 document."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from schemas.campaign import CampaignEvent, CampaignSpec
from schemas.channels import CHANNELS
from schemas.deadletter import DeadLetter
from schemas.measurement import Measurement
from schemas.model import ModelDeclined, ModelTrained, PredictReply, PredictRequest
from schemas.proposal import Proposal, ReviewDecision
from schemas.queries import (
    CampaignList,
    CampaignQuery,
    ModelRecord,
    ProposalRecord,
    RecordList,
    ReviewRecord,
    WorkOrderRecord,
)
from schemas.specdoc import reference
from schemas.work import RunFailed, WorkOrder

HERE = Path(__file__).parent
MODELS: list[type[Any]] = [
    CampaignSpec, CampaignEvent, Proposal, ReviewDecision, WorkOrder, Measurement, RunFailed, ModelTrained,
    ModelDeclined, PredictRequest, PredictReply, DeadLetter, CampaignQuery, CampaignList, RecordList,
    ProposalRecord, ReviewRecord, WorkOrderRecord, ModelRecord,
]


def json_schemas() -> dict[str, dict[str, Any]]:
    """Schema name (e.g. `measurement.v1`) -> JSON Schema."""
    return {model.SCHEMA: model.model_json_schema() for model in MODELS}


def _message(model: type[Any]) -> tuple[str, dict[str, Any]]:
    name = model.SCHEMA.replace(".", "_")
    return name, {
        "name": model.SCHEMA, "contentType": "application/json",
        "headers": {"type": "object", "properties": {
            "Nats-Msg-Id": {"type": "string", "description": "The message id (JetStream dedup)."},
            "Fluxlab-Schema": {"type": "string", "const": model.SCHEMA}}},
        "payload": {"$ref": f"./json/{model.SCHEMA}.json"},
    }


def _ref(message_name: str) -> dict[str, str]:
    return {"$ref": f"#/components/messages/{message_name}"}


def asyncapi() -> dict[str, Any]:
    """The AsyncAPI 3.0 document of every channel of the table (`schemas/channels.py`)."""
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    for channel in CHANNELS:
        carried: dict[str, Any] = {}
        if channel.model is not None:
            message_name, messages[message_name] = _message(channel.model)
            carried[message_name] = _ref(message_name)
        params = {p: {"description": p} for p in ("ns", *channel.params)}
        channels[channel.name] = {
            "address": channel.address, "description": channel.description, "parameters": params,
            "messages": carried, "x-publishers": list(channel.publishers),
            "x-subscribers": [*channel.subscribers, *channel.readers],
        }
        operation: dict[str, Any] = {"action": "receive", "channel": {"$ref": f"#/channels/{channel.name}"}}
        if channel.replies:
            replies = [_message(model) for model in channel.replies]
            messages.update(replies)
            operation["reply"] = {"messages": [_ref(name) for name, _ in replies]}
        operations[f"receive_{channel.name}"] = operation
    return {
        "asyncapi": "3.0.0",
        "info": {"title": "fluxlab", "version": "1.0.0",
                 "description": "Closed-loop DBTL service for metabolic engineering, over NATS JetStream."},
        "defaultContentType": "application/json",
        "channels": channels, "operations": operations, "components": {"messages": messages},
    }


TABLE_DOCS = (HERE.parent / "docs" / "design.md", HERE.parent / "README.md")
"""Documents that carry the generated subject table."""
TABLE_BEGIN = "<!-- channels:begin (generated from schemas/channels.py by `fluxlab schemas export`; do not edit) -->"
TABLE_END = "<!-- channels:end -->"


def subject_table() -> str:
    """The channel table as the Markdown subject table of docs/design.md (default namespace `fluxlab`)."""
    rows = ["| subject | message (→ reply) | published by → read by | what |", "|---|---|---|---|"]
    for channel in CHANNELS:
        subject = channel.address.replace("{ns}", "fluxlab").replace("{", "<").replace("}", ">")
        message = channel.model.__name__ if channel.model is not None else "typed per verb (RpcSpec)"
        if channel.replies:
            message += " → " + " / ".join(r.__name__ for r in channel.replies)
        readers = ", ".join(dict.fromkeys((*channel.subscribers, *channel.readers)))
        summary = channel.description.split(". ")[0].rstrip(".")
        rows.append(f"| `{subject}` | {message} | {', '.join(channel.publishers)} → {readers} | {summary} |")
    return "\n".join(rows)


def with_subject_table(path: Path, current: str) -> str:
    """A document (docs/design.md, README.md) with its subject table regenerated between the markers."""
    head, sep, rest = current.partition(TABLE_BEGIN)
    _, sep2, tail = rest.partition(TABLE_END)
    if not sep or not sep2:
        raise ValueError(f"{path}: the channel table markers are missing")
    return f"{head}{TABLE_BEGIN}\n{subject_table()}\n{TABLE_END}{tail}"


def render() -> dict[Path, str]:
    """Every generated file and its content."""
    files = {HERE / "json" / f"{name}.json": json.dumps(schema, indent=2, sort_keys=True) + "\n"
             for name, schema in json_schemas().items()}
    files[HERE / "asyncapi.yaml"] = yaml.safe_dump(asyncapi(), sort_keys=False, width=110)
    files[HERE.parent / "docs" / "campaign-spec.md"] = reference()
    for doc in TABLE_DOCS:
        if doc.is_file():  # a copy of the package without the docs generates the rest
            files[doc] = with_subject_table(doc, doc.read_text())
    return files


def write() -> list[Path]:
    """Write the generated files; returns their paths."""
    (HERE / "json").mkdir(exist_ok=True)
    written = []
    for path, text in render().items():
        path.write_text(text)
        written.append(path)
    return written


def drift() -> list[Path]:
    """Generated files whose committed copy differs (or is missing)."""
    return [path for path, text in render().items() if not path.is_file() or path.read_text() != text]
