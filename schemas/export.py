"""Generate the committed contract: JSON Schemas (`schemas/json/`) and an AsyncAPI 3 document."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from schemas.campaign import CampaignEvent, CampaignSpec
from schemas.deadletter import DeadLetter
from schemas.measurement import Measurement
from schemas.model import ModelDeclined, ModelTrained, PredictReply, PredictRequest
from schemas.proposal import Proposal, ReviewDecision
from schemas.queries import CampaignList, CampaignQuery, RecordList
from schemas.specdoc import reference
from schemas.work import RunFailed, WorkOrder

HERE = Path(__file__).parent
MODELS: list[type[Any]] = [
    CampaignSpec, CampaignEvent, Proposal, ReviewDecision, WorkOrder, Measurement, RunFailed, ModelTrained,
    ModelDeclined, PredictRequest, PredictReply, DeadLetter, CampaignQuery, CampaignList, RecordList,
]

CHANNELS: list[tuple[str, str, type[Any], str]] = [
    ("campaignEvents", "{ns}.evt.campaign.{cid}", CampaignEvent, "Campaign lifecycle (CLI/UI -> all)."),
    ("proposals", "{ns}.evt.proposal.{cid}", Proposal, "Optimizer proposals (optimizer -> tracker, review)."),
    ("reviews", "{ns}.evt.review.{cid}", ReviewDecision, "Review decisions (review -> tracker, optimizer)."),
    ("workIssued", "{ns}.evt.work.{cid}", WorkOrder, "Record of issued work orders (review -> tracker)."),
    ("measurements", "{ns}.evt.measurement.{cid}", Measurement,
     "Measured outcomes (robot / bench / import -> tracker, predictor, optimizer). The executor quotes the "
     "work order's run_id and its own station; the message id should be derived from the run id so a "
     "re-publish after a crash is dropped as a duplicate."),
    ("runFailed", "{ns}.evt.run_failed.{cid}", RunFailed, "Failed runs (robot / bench -> tracker, optimizer)."),
    ("modelTrained", "{ns}.evt.model.{cid}", ModelTrained,
     "New model versions and the measurements each covers (predictor -> tracker, optimizer)."),
    ("modelDeclined", "{ns}.evt.model_declined.{cid}", ModelDeclined,
     "The predictor declined to train on the measurements so far: too few, or training failed "
     "(predictor -> tracker, optimizer, which then stops waiting for a model)."),
    ("robotWork", "{ns}.work.robot.{station}", WorkOrder,
     "Robot protocol: a lab-automation adapter pulls from its station's work-queue subject with a durable pull "
     "consumer, runs the order, publishes a Measurement (or RunFailed) on the events subject with headers "
     "Nats-Msg-Id and Fluxlab-Schema, awaits the JetStream ack, then acks the work order. A crash before the ack "
     "redelivers the order; the deterministic message id makes the re-publish a no-op."),
    ("benchWork", "{ns}.work.bench", WorkOrder, "Bench queue for biologists who run experiments by hand."),
    ("predict", "{ns}.rpc.predict", PredictRequest, "Request/reply: batched predictions (reply PredictReply)."),
    ("deadLetters", "{ns}.dlq.{service}", DeadLetter, "Rejected input with reason (any consumer -> tracker)."),
]


def json_schemas() -> dict[str, dict[str, Any]]:
    """Schema name (e.g. `measurement.v1`) -> JSON Schema."""
    return {model.SCHEMA: model.model_json_schema() for model in MODELS}


def asyncapi() -> dict[str, Any]:
    """The AsyncAPI 3.0 document of every channel."""
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    for name, address, model, description in CHANNELS:
        message_name = model.SCHEMA.replace(".", "_")
        messages[message_name] = {
            "name": model.SCHEMA, "contentType": "application/json",
            "headers": {"type": "object", "properties": {
                "Nats-Msg-Id": {"type": "string", "description": "The message id (JetStream dedup)."},
                "Fluxlab-Schema": {"type": "string", "const": model.SCHEMA}}},
            "payload": {"$ref": f"./json/{model.SCHEMA}.json"},
        }
        params = {p: {"description": p} for p in ("ns", "cid", "station", "service") if "{" + p + "}" in address}
        channels[name] = {"address": address, "description": description, "parameters": params,
                          "messages": {message_name: {"$ref": f"#/components/messages/{message_name}"}}}
        operations[f"receive_{name}"] = {"action": "receive", "channel": {"$ref": f"#/channels/{name}"}}
    return {
        "asyncapi": "3.0.0",
        "info": {"title": "fluxlab", "version": "1.0.0",
                 "description": "Closed-loop DBTL service for metabolic engineering, over NATS JetStream."},
        "defaultContentType": "application/json",
        "channels": channels, "operations": operations, "components": {"messages": messages},
    }


def render() -> dict[Path, str]:
    """Every generated file and its content."""
    files = {HERE / "json" / f"{name}.json": json.dumps(schema, indent=2, sort_keys=True) + "\n"
             for name, schema in json_schemas().items()}
    files[HERE / "asyncapi.yaml"] = yaml.safe_dump(asyncapi(), sort_keys=False, width=110)
    files[HERE.parent / "docs" / "campaign-spec.md"] = reference()
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
