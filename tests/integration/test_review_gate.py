"""The review gate against a real nats-server, with the tracker in-process as the system of record."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from factories import campaign_spec, created
from nats.js.errors import NotFoundError

from schemas import (
    AutoPolicy,
    CampaignSpec,
    Design,
    ErrorDetail,
    ExecutorKind,
    ExecutorSpec,
    Prediction,
    Proposal,
    ReviewMode,
    ReviewSpec,
    WorkOrder,
)
from schemas.queries import ProposalRecord, ReviewRecord, WorkOrderRecord
from services.review.auth import write_reviewers_file
from services.review.models import AmendRequest, ApproveRequest, Credentials, DecisionReply, ListReply, ListRequest
from services.review.service import ReviewService
from services.review.settings import ReviewSettings
from services.review.tracker_client import TrackerClient
from services.runtime.bus import MSG_ID, SCHEMA, Bus
from services.runtime.rpc import RpcFailed, call
from services.runtime.settings import Settings
from services.tracker.service import TrackerService

ALICE = Credentials(user="alice", password="wonderland-42")


async def wait_until(check: Callable[[], Awaitable[Any]], timeout: float = 20.0) -> Any:
    """Poll an async check until it returns something truthy."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        result = await check()
        if result:
            return result
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.1)


def spec_with(campaign_id: str, mode: ReviewMode, policy: AutoPolicy = AutoPolicy.APPROVE_ALL,
              kind: ExecutorKind = ExecutorKind.ROBOT) -> CampaignSpec:
    """The factories' campaign with a review mode and an executor."""
    return campaign_spec(campaign_id).model_copy(update={
        "review": ReviewSpec(mode=mode, policy=policy, max_relative_uncertainty=0.5),
        "executor": ExecutorSpec(kind=kind, station="s1"),
    })


def proposal(campaign_id: str, i: int, sd: float = 0.1) -> Proposal:
    """Proposal i of a campaign (knockout b1380 plus a distinct fold change)."""
    return Proposal(id=f"p-{campaign_id}-{i}", campaign_id=campaign_id, round=0, strategy="ga",
                    design=Design(knockouts=["b1380"], expression={"b3956": 1.5 + i}),
                    predicted={"EX_succ_e": Prediction(mean=1.0, sd=sd), "growth": Prediction(mean=0.5, sd=0.05)})


async def work_queue(bus: Bus) -> list[WorkOrder]:
    """Every work order waiting on the work queues (read without consuming)."""
    info = await bus.js.stream_info(bus.subjects.work_stream)
    if not info.state.messages:
        return []
    orders = []
    for seq in range(info.state.first_seq, info.state.last_seq + 1):
        msg = await bus.js.get_msg(bus.subjects.work_stream, seq)
        orders.append(WorkOrder.model_validate_json(msg.data or b""))
    return orders


@dataclass
class Stack:
    bus: Bus
    review: ReviewService
    tracker: TrackerClient

    async def rpc(self, verb: str, request: Any, reply: type[Any] = DecisionReply) -> Any:
        return await call(self.bus, self.bus.subjects.rpc("review", verb), request, reply)

    async def rpc_raw(self, verb: str, payload: dict[str, Any]) -> DecisionReply:
        """Send a request as raw JSON (to reach the service's own validation)."""
        reply = await self.bus.nc.request(self.bus.subjects.rpc("review", verb), json.dumps(payload).encode(), 10.0)
        if reply.headers and reply.headers.get("Nats-Service-Error-Code"):
            raise RpcFailed(ErrorDetail.model_validate_json(reply.data))
        return DecisionReply.model_validate_json(reply.data)

    async def pending(self, campaign_id: str, n: int) -> list[ProposalRecord]:
        async def check() -> list[ProposalRecord] | None:
            records = await self.tracker.proposals(campaign_id, "pending")
            return records if len(records) >= n else None
        return await wait_until(check)  # type: ignore[no-any-return]

    async def human_campaign(self, campaign_id: str, n: int = 1,
                             kind: ExecutorKind = ExecutorKind.ROBOT) -> list[ProposalRecord]:
        """A human-reviewed campaign with proposals 0 .. n-1, once the tracker lists them as pending."""
        await self.bus.publish_event(created(spec_with(campaign_id, ReviewMode.HUMAN, kind=kind)))
        for i in range(n):
            await self.bus.publish_event(proposal(campaign_id, i))
        return await self.pending(campaign_id, n)


def review_cli(settings: Settings) -> Callable[..., Any]:
    """The review CLI (`fluxlab review ...`) run against the test's stack, alice's password in its environment."""
    from typer.testing import CliRunner

    from services.cli.review import app

    where = ["--nats-url", settings.nats_url or "", "--namespace", settings.namespace]

    def run(*args: str) -> Any:
        return CliRunner().invoke(app, [*args, *where], env={"FLUXLAB_REVIEWER_PASSWORD": ALICE.password})
    return run


@pytest.fixture
async def stack(settings: Settings, bus: Bus, tmp_path: Path) -> AsyncIterator[Stack]:
    """Tracker and review service in-process, one reviewer (alice)."""
    reviewers = tmp_path / "reviewers.toml"
    write_reviewers_file(reviewers, {ALICE.user: ALICE.password}, names={"alice": "Alice Liddell"})
    settings.http_port = 0
    review_settings = ReviewSettings(reviewers_file=reviewers, campaign_wait_s=1.0)
    async with TrackerService(settings, bus=bus), ReviewService(settings, bus=bus,
                                                                review_settings=review_settings) as review:
        assert isinstance(review, ReviewService)
        yield Stack(bus, review, TrackerClient(bus))


async def test_auto_policy_dispatches_one_order_per_proposal_even_if_delivered_twice(stack: Stack) -> None:
    bus = stack.bus
    await bus.publish_event(created(spec_with("c1", ReviewMode.AUTO)))
    proposals = [proposal("c1", i) for i in range(3)]
    for p in proposals:  # delivered twice: JetStream keeps both copies (different Nats-Msg-Id)
        for copy in ("a", "b"):
            await bus.js.publish(bus.subjects.event("proposal", "c1"), p.to_bytes(),
                                 headers={MSG_ID: f"{p.id}-{copy}", SCHEMA: Proposal.SCHEMA})

    async def all_dispatched() -> list[WorkOrderRecord] | None:
        orders = await stack.tracker.work_orders("c1")
        return orders if len(orders) >= 3 else None

    await wait_until(all_dispatched)
    await wait_until(lambda: _consumer_idle(bus, "review-proposals"))
    queued = await work_queue(bus)
    assert sorted(o.proposal_id for o in queued) == sorted(p.id for p in proposals)
    assert all(o.queue == ExecutorKind.ROBOT and o.station == "s1" for o in queued)
    reviews = await stack.tracker.reviews("c1")
    assert len(reviews) == 3 and {r.reviewer for r in reviews} == {"policy:approve_all"}
    assert len(await stack.tracker.work_orders("c1")) == 3


async def _consumer_idle(bus: Bus, durable: str) -> bool:
    info = await bus.js.consumer_info(bus.subjects.events_stream, durable)
    return info.num_pending == 0 and info.num_ack_pending == 0


async def test_growth_and_uncertainty_rejects_uncertain_designs(stack: Stack) -> None:
    bus = stack.bus
    await bus.publish_event(created(spec_with("c2", ReviewMode.AUTO, AutoPolicy.GROWTH_AND_UNCERTAINTY)))
    await bus.publish_event(proposal("c2", 0, sd=0.1))
    await bus.publish_event(proposal("c2", 1, sd=0.9))

    async def decided() -> list[ReviewRecord] | None:
        reviews = await stack.tracker.reviews("c2")
        return reviews if len(reviews) == 2 else None

    reviews = {r.proposal_id: r for r in await wait_until(decided)}
    assert reviews["p-c2-0"].action == "approve"
    assert reviews["p-c2-1"].action == "reject" and "relative uncertainty" in reviews["p-c2-1"].reason
    assert reviews["p-c2-1"].reviewer == "policy:growth_and_uncertainty"
    assert [o.proposal_id for o in await work_queue(bus)] == ["p-c2-0"]


async def test_proposal_of_unknown_campaign_is_dead_lettered(stack: Stack) -> None:
    bus = stack.bus
    await bus.publish_event(proposal("nope", 0))

    async def letter() -> Any:
        try:
            return await bus.js.get_last_msg(bus.subjects.dlq_stream, bus.subjects.dlq("review"))
        except NotFoundError:
            return None
    msg = await wait_until(letter)
    assert b"unknown campaign" in msg.data
    assert await work_queue(bus) == []


async def test_human_approval_records_reviewer_and_time_and_queues_one_order(stack: Stack) -> None:
    bus = stack.bus
    await stack.human_campaign("c3", kind=ExecutorKind.BENCH)
    await asyncio.sleep(0.3)
    assert await work_queue(bus) == []  # human mode: the proposal waits

    listed = await stack.rpc("list", ListRequest(campaign_id="c3"), ListReply)
    assert [p["id"] for p in listed.proposals] == ["p-c3-0"]
    reply = await stack.rpc("approve", ApproveRequest(credentials=ALICE, proposal_id="p-c3-0"))
    assert reply.work_order["queue"] == "bench"

    async def approved() -> list[ReviewRecord] | None:
        reviews = await stack.tracker.reviews("c3")
        return reviews or None
    (review,) = await wait_until(approved)
    assert review.action == "approve" and review.reviewer == "Alice Liddell <alice>"
    assert review.decided_at and "approved" in review.meaning
    queued = await work_queue(bus)
    assert len(queued) == 1 and queued[0].proposal_id == "p-c3-0" and queued[0].queue == ExecutorKind.BENCH
    orders = await wait_until(lambda: stack.tracker.work_orders("c3"))
    assert orders[0].run_id == queued[0].run_id

    with pytest.raises(RpcFailed, match="already"):
        await stack.rpc("approve", ApproveRequest(credentials=ALICE, proposal_id="p-c3-0", campaign_id="c3"))
    with pytest.raises(RpcFailed, match="already"):
        await stack.rpc_raw("reject", {"credentials": ALICE.model_dump(), "proposal_id": "p-c3-0", "reason": "late"})
    assert len(await work_queue(bus)) == 1


async def test_refusals_name_the_problem(stack: Stack) -> None:
    bus = stack.bus
    await stack.human_campaign("c4")
    with pytest.raises(RpcFailed) as no_reason:
        await stack.rpc_raw("reject", {"credentials": ALICE.model_dump(), "proposal_id": "p-c4-0", "reason": " "})
    assert no_reason.value.detail.field == "reason" and "needs a reason" in no_reason.value.detail.reason
    wrong = Credentials(user="alice", password="guess")
    with pytest.raises(RpcFailed) as unauthenticated:
        await stack.rpc("approve", ApproveRequest(credentials=wrong, proposal_id="p-c4-0"))
    assert unauthenticated.value.detail.field == "credentials"
    with pytest.raises(RpcFailed) as unknown:
        await stack.rpc("approve", ApproveRequest(credentials=ALICE, proposal_id="p-missing"))
    assert unknown.value.detail.field == "proposal_id"
    assert await work_queue(bus) == [] and await stack.tracker.reviews("c4") == []

    reply = await stack.rpc_raw("reject", {"credentials": ALICE.model_dump(), "proposal_id": "p-c4-0",
                                        "reason": "b3956 over-expression is toxic in our hands"})
    assert reply.decision["action"] == "reject" and reply.work_order is None
    (review,) = await wait_until(lambda: stack.tracker.reviews("c4"))
    assert review.reason == "b3956 over-expression is toxic in our hands"


async def test_amend_publishes_version_two_approves_and_dispatches_it(stack: Stack) -> None:
    bus = stack.bus
    await stack.human_campaign("c5")
    edited = Design(knockouts=["b1380", "b2297"], expression={"b3956": 2.0})
    reply = await stack.rpc("amend", AmendRequest(credentials=ALICE, proposal_id="p-c5-0", design=edited,
                                                  reason="add the pta deletion"))
    new_id = reply.amended_proposal["id"]

    async def recorded() -> dict[str, ProposalRecord] | None:
        records = {p.id: p for p in await stack.tracker.proposals("c5")}
        done = new_id in records and records[new_id].status == "approved"
        return records if done else None
    records = await wait_until(recorded)
    assert records["p-c5-0"].status == "amended"
    v2 = records[new_id]
    assert (v2.version, v2.parent_id, v2.round, v2.strategy) == (2, "p-c5-0", 0, "amended")
    assert v2.design.key() == edited.key()
    reviews = {r.proposal_id: r for r in await stack.tracker.reviews("c5")}
    assert reviews["p-c5-0"].action == "amend" and reviews[new_id].action == "approve"
    assert reviews[new_id].reviewer == reviews["p-c5-0"].reviewer == "Alice Liddell <alice>"
    (order,) = await work_queue(bus)
    assert order.proposal_id == new_id and order.design.key() == edited.key()


async def test_cli_lists_approves_and_amends(stack: Stack, settings: Settings) -> None:
    from services.cli import UserError

    bus = stack.bus
    await stack.human_campaign("c6", 2)
    run = review_cli(settings)
    listed = await asyncio.to_thread(run, "list", "--campaign", "c6", "--json")
    assert listed.exit_code == 0, listed.output
    assert {p["id"] for p in json.loads(listed.output)["proposals"]} == {"p-c6-0", "p-c6-1"}
    no_reason = await asyncio.to_thread(run, "reject", "p-c6-0", "--user", "alice")
    assert isinstance(no_reason.exception, UserError) and "reason" in str(no_reason.exception)
    approved = await asyncio.to_thread(run, "approve", "p-c6-0", "--user", "alice")
    assert approved.exit_code == 0 and "dispatched run" in approved.output
    amended = await asyncio.to_thread(run, "amend", "p-c6-1", "--user", "alice", "--ko", "b2297", "--expr", "b3956=3")
    assert amended.exit_code == 0, amended.output
    again = await asyncio.to_thread(run, "approve", "p-c6-0", "--user", "alice")
    assert isinstance(again.exception, UserError) and "already" in str(again.exception)
    orders = {o.proposal_id: o for o in await work_queue(bus)}
    assert set(orders) == {"p-c6-0", "p-c6-1-v2"}
    assert orders["p-c6-1-v2"].design.key() == Design(knockouts=["b2297"], expression={"b3956": 3.0}).key()


async def test_amend_that_cannot_be_built_is_refused_with_the_field_and_nothing_dispatched(stack: Stack) -> None:
    bus = stack.bus
    await stack.human_campaign("c7")
    cases = {  # edited design -> field and words of the refusal
        "b9999": (Design(knockouts=["b9999"]), "design.knockouts[0]", "unknown gene or reaction 'b9999'"),
        "fold": (Design(knockouts=["b1380"], expression={"b3956": 9.0}), "design.expression.b3956", "0.25–4×"),
        "not-candidate": (Design(knockouts=["b0723"]), "design.knockouts[0]", "sdhA (b0723)' is not a knockout"),
        "typo": (Design(knockouts=["ldhX"]), "design.knockouts[0]", "did you mean b1380 (ldhA)?"),
        "too-many": (Design(knockouts=["b1380", "b2297", "b0903"]), "design.knockouts", "at most 2"),
    }
    for name, (design, field, words) in cases.items():
        with pytest.raises(RpcFailed) as refused:
            await stack.rpc("amend", AmendRequest(credentials=ALICE, proposal_id="p-c7-0", design=design))
        assert refused.value.detail.field == field, name
        assert words in refused.value.detail.reason, (name, refused.value.detail.reason)
    assert await work_queue(bus) == [] and await stack.tracker.reviews("c7") == []
    assert [p.status for p in await stack.tracker.proposals("c7")] == ["pending"]

    by_name = Design(knockouts=["ldhA", "pta"], expression={"ppc": 2.0})
    reply = await stack.rpc("amend", AmendRequest(credentials=ALICE, proposal_id="p-c7-0", design=by_name))
    assert reply.work_order["design"]["knockouts"] == ["b1380", "b2297"]
    assert reply.work_order["design"]["expression"] == {"b3956": 2.0}


async def test_amend_below_the_growth_floor_learned_from_measured_growth_is_refused(stack: Stack) -> None:
    from schemas import Measurement, MeasurementSource, Value

    bus = stack.bus
    await stack.human_campaign("c12")
    anaerobic = {"EX_o2_e": 0.0}  # FBA: 0.21 1/h, above its floor of 0.175; measured: far below
    imported = [(Design(), 0.8), (Design(knockouts=["b2297"]), 0.78), (Design(knockouts=["b0903"]), 0.8),
                (Design(medium=anaerobic), 0.02), (Design(knockouts=["b2297"], medium=anaerobic), 0.02)]
    for i, (design, growth) in enumerate(imported):
        await bus.publish_event(Measurement(
            id=f"m-c12-{i}", campaign_id="c12", run_id=f"lab-{i}", design=design, growth_rate=Value(value=growth),
            products={"EX_succ_e": Value(value=0.1)}, source=MeasurementSource.IMPORT))
    await wait_until(lambda: _n_measured(stack, "c12", len(imported)))
    edited = Design(knockouts=["b1380"], medium=anaerobic)
    with pytest.raises(RpcFailed) as refused:
        await stack.rpc("amend", AmendRequest(credentials=ALICE, proposal_id="p-c12-0", design=edited))
    assert refused.value.detail.field == "design"
    assert "below the campaign's growth floor" in refused.value.detail.reason
    assert "corrected by measured growth" in refused.value.detail.reason
    assert await work_queue(bus) == []
    reply = await stack.rpc("amend", AmendRequest(credentials=ALICE, proposal_id="p-c12-0",
                                                  design=Design(knockouts=["b1380"])))
    assert reply.work_order["design"]["knockouts"] == ["b1380"]


async def _n_measured(stack: Stack, campaign_id: str, n: int) -> bool:
    return len(await stack.tracker.measurements(campaign_id)) >= n


async def test_auto_review_rejects_a_proposal_that_cannot_be_built(stack: Stack) -> None:
    bus = stack.bus
    await bus.publish_event(created(spec_with("c8", ReviewMode.AUTO)))
    bad = proposal("c8", 0).model_copy(update={"design": Design(knockouts=["b1380"], expression={"b3956": 50.0})})
    await bus.publish_event(bad)
    (review,) = await wait_until(lambda: stack.tracker.reviews("c8"))
    assert review.action == "reject" and "cannot be built: expression.b3956" in review.reason
    assert await work_queue(bus) == []


async def test_cli_amend_refuses_an_unknown_gene_and_list_show_give_failure_reasons(stack: Stack,
                                                                                  settings: Settings) -> None:
    from schemas import RunFailed
    from services.cli import UserError

    bus = stack.bus
    await stack.human_campaign("c9", 2)
    run = review_cli(settings)
    refused = await asyncio.to_thread(run, "amend", "p-c9-0", "--user", "alice", "--ko", "b9999")
    assert isinstance(refused.exception, UserError), refused.output
    assert "design.knockouts[0]: unknown gene or reaction 'b9999'" in str(refused.exception)
    assert await work_queue(bus) == []

    approved = await asyncio.to_thread(run, "approve", "p-c9-1", "--user", "alice")
    assert approved.exit_code == 0, approved.output
    (order,) = await work_queue(bus)
    await bus.publish_event(RunFailed(campaign_id="c9", run_id=order.run_id, reason="plate p3 contaminated"))

    async def failed() -> bool:
        return any(p.status == "failed" for p in await stack.tracker.proposals("c9"))
    await wait_until(failed)
    listed = await asyncio.to_thread(run, "list", "--campaign", "c9", "--status", "all")
    assert listed.exit_code == 0 and "contaminated" in listed.output, listed.output
    assert "ΔldhA" in listed.output and "(b1380)" in listed.output
    assert max(len(line) for line in listed.output.splitlines()) <= 80
    as_json = await asyncio.to_thread(run, "list", "--status", "all", "--json")  # one campaign: no --campaign
    records = {p["id"]: p for p in json.loads(as_json.output)["proposals"]}
    assert records["p-c9-1"]["failure_reason"] == "plate p3 contaminated"
    assert records["p-c9-1"]["description"] == "ΔldhA (b1380), ppc (b3956)×2.5"
    shown = await asyncio.to_thread(run, "show", "p-c9-1")
    assert shown.exit_code == 0 and "failed: plate p3 contaminated" in shown.output, shown.output
    assert "ΔldhA (b1380)" in shown.output
