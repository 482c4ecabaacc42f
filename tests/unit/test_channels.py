"""The channel table, the subject helpers, the AsyncAPI document and the NATS permissions agree."""

from __future__ import annotations

import pytest

from schemas import rpc
from schemas.channels import CHANNELS, EVENT_CHANNELS, ROBOT, Channel, parse_subject, subject_kind
from schemas.export import asyncapi
from services.review.models import REVIEW
from services.runtime.security import CORE_SERVICES, permissions, robot_user
from services.runtime.subjects import EVENT_MODELS, KIND_OF_MODEL, Subjects

NS = "t1"
STATIONS = ["s1", "s2"]
PERMS = permissions(NS, STATIONS)
LAB_AND_APPS = [*CORE_SERVICES, *(robot_user(s) for s in STATIONS), "bench", "cli"]


def allows(rules: list[str], subject: str) -> bool:
    """NATS subject matching: `*` is one token, `>` one or more trailing tokens."""
    return any(_match(rule.split("."), subject.split(".")) for rule in rules)


def _match(rule: list[str], subject: list[str]) -> bool:
    for i, token in enumerate(rule):
        if token == ">":
            return len(subject) > i
        if i >= len(subject) or token not in ("*", subject[i]):
            return False
    return len(rule) == len(subject)


def role(user: str) -> str:
    return ROBOT if user.startswith("robot-") else user


def sample(channel: Channel, user: str = "tracker") -> str:
    """A concrete subject of the channel, with `own` parameters bound to the user."""
    values = {"cid": "c1", "verb": "proposals", "service": user, "station": user.removeprefix("robot-")}
    return channel.subject(NS, **{p: values[p] for p in channel.params})


def test_every_channel_is_an_asyncapi_channel_and_nothing_else_is() -> None:
    doc = asyncapi()
    assert list(doc["channels"]) == [c.name for c in CHANNELS]
    for channel in CHANNELS:
        entry = doc["channels"][channel.name]
        assert entry["address"] == channel.address
        assert set(entry["parameters"]) == {"ns", *channel.params}
        wanted = {channel.model.SCHEMA} if channel.model else set()
        assert {doc["components"]["messages"][k]["name"] for k in entry["messages"]} == wanted
        assert entry["x-publishers"] == list(channel.publishers)
        assert f"receive_{channel.name}" in doc["operations"]


def test_subject_helpers_and_models_come_from_the_table() -> None:
    s = Subjects(NS)
    assert {c.kind: c.model for c in CHANNELS if c.group == "evt"} == EVENT_MODELS
    assert set(KIND_OF_MODEL.values()) == set(EVENT_CHANNELS)
    helpers = {
        **{c.name: s.event(c.kind, "c1") for c in EVENT_CHANNELS.values()},
        "robotWork": s.robot("s1"), "benchWork": s.bench, "predict": s.predict, "deadLetters": s.dlq("tracker"),
        **{f"{service}Rpc": s.rpc(service, "proposals") for service in CORE_SERVICES},
    }
    assert set(helpers) == {c.name for c in CHANNELS}, "a channel without a Subjects helper (or the reverse)"
    for name, subject in helpers.items():
        route = s.parse(subject)
        assert route.channel.name == name and route.ns == NS
        if route.channel.model is not None:
            assert s.model_for_subject(subject) is route.channel.model
    assert s.parse(s.event("measurement", "c9")).campaign_id == "c9"
    assert subject_kind(s.event("run_failed", "c1")) == "run_failed" and subject_kind(s.dlq("x")) == "dlq"


@pytest.mark.parametrize("subject", ["t1.evt.colour.c1", "t1.evt.measurement", "t1.work.other", "t1.rpc.x.y",
                                     "t1.evt.measurement.c1.extra"])
def test_a_subject_outside_the_table_is_refused(subject: str) -> None:
    with pytest.raises(KeyError):
        parse_subject(subject)
    with pytest.raises(KeyError):
        Subjects(NS).model_for_subject(subject)


def test_the_subject_helpers_refuse_kinds_outside_the_table() -> None:
    with pytest.raises(KeyError):
        Subjects(NS).event("colour", "c1")
    with pytest.raises(KeyError):
        Subjects(NS).rpc("billing", "x")


@pytest.mark.parametrize("channel", CHANNELS, ids=lambda c: c.name)
def test_permissions_grant_exactly_the_tables_publishers_and_subscribers(channel: Channel) -> None:
    for user in LAB_AND_APPS:
        subject = sample(channel, user)
        assert allows(PERMS[user].publish, subject) == (role(user) in channel.publishers), (user, "pub", subject)
        assert allows(PERMS[user].subscribe, subject) == (role(user) in channel.subscribers), (user, "sub", subject)


def test_a_service_publishes_only_its_own_dead_letters_and_a_robot_pulls_only_its_own_queue() -> None:
    s = Subjects(NS)
    assert not allows(PERMS["predictor"].publish, s.dlq("tracker"))
    assert not allows(PERMS["robot-s1"].publish, s.dlq("robot-s2"))
    consumer_create = f"$JS.API.CONSUMER.CREATE.{s.work_stream}.robot-s1.{s.robot('s1')}"
    assert allows(PERMS["robot-s1"].publish, consumer_create)
    assert not allows(PERMS["robot-s2"].publish, consumer_create)
    assert not allows(PERMS["robot-s1"].publish, f"$JS.API.CONSUMER.CREATE.{s.work_stream}.robot-s1.{s.bench}")


def test_readers_get_consumers_on_the_stream_and_nobody_else_does() -> None:
    s = Subjects(NS)
    for user in LAB_AND_APPS:
        for group, stream in (("evt", s.events_stream), ("dlq", s.dlq_stream)):
            reads = any(role(user) in (*c.subscribers, *c.readers) for c in CHANNELS if c.group == group)
            assert allows(PERMS[user].publish, f"$JS.API.CONSUMER.CREATE.{stream}.x.y") == reads, (user, group)


def test_no_permission_names_a_subject_outside_the_table() -> None:
    groups = {f"{NS}.{c.group}.>" for c in CHANNELS}
    for user in LAB_AND_APPS:
        p = PERMS[user]
        for rule in [*p.publish, *p.subscribe]:
            if rule.startswith(("$", "_INBOX.")):
                continue  # NATS's own: JetStream API, $SRV, inboxes, object store, key-value
            assert rule in groups or _parses(rule.replace("*", "x").replace(">", "x")), (user, rule)


def _parses(subject: str) -> bool:
    try:
        parse_subject(subject)
    except KeyError:
        return False
    return True


def test_every_rpc_endpoint_is_on_a_request_reply_channel_with_its_models() -> None:
    specs = [rpc.PREDICT, *rpc.TRACKER, *REVIEW]
    for spec in specs:
        channel = next(c for c in CHANNELS if c.name == spec.channel)
        assert channel.group == "rpc" and parse_subject(spec.subject(NS)).channel is channel
        if channel.model is not None:
            assert spec.request is channel.model and spec.reply in channel.replies, spec
    for channel in CHANNELS:
        if channel.group == "rpc" and channel.model is not None:
            assert {s.reply for s in specs if s.channel == channel.name} == set(channel.replies), channel.name
    assert len({spec.subject(NS) for spec in specs}) == len(specs)
