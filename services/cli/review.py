"""`fluxlab review list|show|approve|reject|amend|hash-password`: the review gate from the terminal."""

from __future__ import annotations

import asyncio
import json
from typing import Annotated, Any

import typer
from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeoutError
from rich.console import Console
from rich.table import Table

from schemas import Design, ProposalStatus
from schemas.rpc import Q, R, RpcSpec
from services.cli import UserError
from services.cli.options import Config, DataDir, Json, Namespace, NatsUrl, settings_from
from services.review.auth import hash_password
from services.review.forms import DesignInputError, build_design, parse_assignments
from services.review.models import (
    REVIEW_AMEND,
    REVIEW_APPROVE,
    REVIEW_LIST,
    REVIEW_REJECT,
    AmendRequest,
    ApproveRequest,
    Credentials,
    DecisionReply,
    ListReply,
    ListRequest,
    RejectRequest,
)
from services.runtime.rpc import RpcFailed, ask
from services.runtime.settings import Settings
from services.runtime.status import connect

app = typer.Typer(help="Review proposals: list, show, approve, reject, amend.", no_args_is_help=True)
console = Console()

Campaign = Annotated[str | None, typer.Option("--campaign", "-c", help="Campaign id.")]
User = Annotated[str | None, typer.Option("--user", "-u", envvar="FLUXLAB_REVIEWER_USER", help="Reviewer user name.")]
Password = Annotated[str | None, typer.Option(
    "--password", envvar="FLUXLAB_REVIEWER_PASSWORD", help="Reviewer password (else prompted).", show_default=False)]
Reason = Annotated[str, typer.Option("--reason", "-r", help="Why (required to reject).")]
ProposalArg = Annotated[str, typer.Argument(help="Proposal id.")]


async def _request(settings: Settings, spec: RpcSpec[Q, R], request: Q) -> R:
    bus = await connect(settings, "fluxlab-review-cli")
    try:
        return await ask(bus, spec, request, timeout=15.0)
    finally:
        await bus.close()


def _call(settings: Settings, spec: RpcSpec[Q, R], request: Q) -> R:
    try:
        return asyncio.run(_request(settings, spec, request))
    except RpcFailed as exc:
        raise UserError(str(exc)) from None
    except (NoRespondersError, NatsTimeoutError):
        raise UserError("review service: not answering (is `fluxlab up` running?)") from None


def _credentials(user: str | None, password: str | None) -> Credentials:
    user = user or typer.prompt("reviewer user")
    password = password or typer.prompt("password", hide_input=True)
    if not user or not password:
        raise UserError("credentials: user and password are required")
    return Credentials(user=user, password=password)


def _prediction(p: dict[str, Any] | None) -> str:
    return f"{p['mean']:.4g} ± {p['sd']:.2g}" if p else "–"


def _description(record: dict[str, Any]) -> str:
    """The design with gene names (from the review service), else the ids."""
    return str(record.get("description") or Design.model_validate(record["design"]).describe())


def why_line(record: dict[str, Any]) -> str | None:
    """'why: ΔsdhA +1.9, adhE ×4 +0.6 (model v3, predicted change from wild type)', or why there is none."""
    if record.get("why"):
        return f"why: {record['why']} (model v{record.get('why_model_version')}, predicted change from wild type)"
    if record.get("why_unavailable"):
        return f"why: no attributions ({record['why_unavailable']})"
    return None


def _print_proposals(reply: ListReply) -> None:
    decisions = {r["proposal_id"]: r for r in reply.reviews}
    table = Table(title=f"{len(reply.proposals)} proposal(s)")
    for column in ("proposal", "round", "design", "predicted", "status", "decision"):
        table.add_column(column, overflow="fold")  # ids are folded, never cut: they are typed back
    for p in reply.proposals:
        predicted = ", ".join(f"{k} {_prediction(v)}" for k, v in (p.get("predicted") or {}).items())
        decision = decisions.get(p["id"])
        said = f"{decision['action']} by {decision['reviewer']}" if decision else ""
        status = p["status"] + (f": {p['failure_reason']}" if p.get("failure_reason") else "")
        design = _description(p) + (f"\nwhy: {p['why']}" if p.get("why") else "")
        table.add_row(p["id"], str(p["round"]), design, predicted, status, said)
    console.print(table)


@app.command("list")
def list_(
    campaign: Campaign = None,
    status: Annotated[str, typer.Option(help=f"{', '.join(ProposalStatus)} or all.")] = ProposalStatus.PENDING.value,
    data_dir: DataDir = None, nats_url: NatsUrl = None, namespace: Namespace = None, config: Config = None,
    json_out: Json = False,
) -> None:
    """Proposals of a campaign (default: those pending review)."""
    settings = settings_from(data_dir, nats_url, None, namespace, config)
    reply = _call(settings, REVIEW_LIST, ListRequest(campaign_id=campaign, status=None if status == "all" else status))
    if json_out:
        print(reply.model_dump_json())
        return
    _print_proposals(reply)


@app.command()
def show(
    proposal: ProposalArg, campaign: Campaign = None,
    data_dir: DataDir = None, nats_url: NatsUrl = None, namespace: Namespace = None, config: Config = None,
    json_out: Json = False,
) -> None:
    """One proposal in biological terms, with its predictions and any decision."""
    settings = settings_from(data_dir, nats_url, None, namespace, config)
    reply = _call(settings, REVIEW_LIST, ListRequest(campaign_id=campaign, proposal_id=proposal, status=None))
    if json_out:
        print(reply.model_dump_json())
        return
    (record,) = reply.proposals
    status = record["status"] + (f": {record['failure_reason']}" if record.get("failure_reason") else "")
    console.print(f"[bold]{record['id']}[/bold] (campaign {record['campaign_id']}, round {record['round']}, "
                  f"version {record['version']}, strategy {record['strategy']})")
    console.print(f"status: [bold]{status}[/bold]")
    console.print(f"design: {_description(record)}")
    for name, prediction in (record.get("predicted") or {}).items():
        console.print(f"  predicted {name}: {_prediction(prediction)}")
    why = why_line(record)
    if why:
        console.print(why, highlight=False, soft_wrap=True)
    for decision in reply.reviews:
        console.print(f"{decision['action']} by {decision['reviewer']} at {decision['decided_at']}: "
                      f"{decision['reason'] or decision['meaning']}")


def _decide(spec: RpcSpec[Q, DecisionReply], request: Q, settings: Settings, json_out: bool) -> None:
    verb = spec.name
    reply = _call(settings, spec, request)
    if json_out:
        print(reply.model_dump_json())
        return
    console.print(reply.decision.get("meaning") or f"{verb}d")
    if reply.work_order:
        order = reply.work_order
        where = f"robot station {order['station']}" if order["queue"] == "robot" else "the bench"
        console.print(f"dispatched run [bold]{order['run_id']}[/bold] to {where}")


@app.command()
def approve(
    proposal: ProposalArg, campaign: Campaign = None, user: User = None, password: Password = None,
    reason: Reason = "",
    data_dir: DataDir = None, nats_url: NatsUrl = None, namespace: Namespace = None, config: Config = None,
    json_out: Json = False,
) -> None:
    """Approve a pending proposal: it goes to the campaign's robot station or the bench."""
    settings = settings_from(data_dir, nats_url, None, namespace, config)
    request = ApproveRequest(credentials=_credentials(user, password), proposal_id=proposal, campaign_id=campaign,
                             reason=reason)
    _decide(REVIEW_APPROVE, request, settings, json_out)


@app.command()
def reject(
    proposal: ProposalArg, reason: Reason = "", campaign: Campaign = None, user: User = None,
    password: Password = None,
    data_dir: DataDir = None, nats_url: NatsUrl = None, namespace: Namespace = None, config: Config = None,
    json_out: Json = False,
) -> None:
    """Reject a pending proposal (a reason is required)."""
    if not reason.strip():
        raise UserError("reason: a rejection needs a reason (--reason)")
    settings = settings_from(data_dir, nats_url, None, namespace, config)
    request = RejectRequest(credentials=_credentials(user, password), proposal_id=proposal, campaign_id=campaign,
                            reason=reason)
    _decide(REVIEW_REJECT, request, settings, json_out)


def amended_design(original: Design, ko: list[str] | None, no_ko: bool, expr: list[str] | None,
                   medium: list[str] | None, param: list[str] | None) -> Design:
    """The original design edited by the options: `--ko` replaces the knockouts; the others set entries."""
    try:
        knockouts = [] if no_ko else (ko if ko else list(original.knockouts))
        expression = {**original.expression, **parse_assignments(expr or [], "expr")}
        uptake = {**original.medium, **parse_assignments(medium or [], "medium")}
        parameters = {**original.parameters, **parse_assignments(param or [], "param")}
        return build_design(knockouts, expression, uptake, parameters)
    except DesignInputError as exc:
        raise UserError(str(exc)) from None


@app.command()
def amend(
    proposal: ProposalArg,
    ko: Annotated[list[str] | None, typer.Option("--ko", help="Knockout (repeat); replaces the proposed ones.")] = None,
    no_ko: Annotated[bool, typer.Option("--no-ko", help="Remove every knockout.")] = False,
    expr: Annotated[list[str] | None, typer.Option("--expr", help="GENE=FOLD (repeat; 1 = wild type).")] = None,
    medium: Annotated[list[str] | None, typer.Option("--medium", help="EXCHANGE=MAX_UPTAKE (repeat).")] = None,
    param: Annotated[list[str] | None, typer.Option("--param", help="NAME=VALUE (repeat).")] = None,
    reason: Reason = "", campaign: Campaign = None, user: User = None, password: Password = None,
    data_dir: DataDir = None, nats_url: NatsUrl = None, namespace: Namespace = None, config: Config = None,
    json_out: Json = False,
) -> None:
    """Edit a pending proposal's design: the edit becomes version + 1, approved in your name and dispatched."""
    if not (ko or no_ko or expr or medium or param):
        raise UserError("design: nothing to amend (give --ko, --no-ko, --expr, --medium or --param)")
    settings = settings_from(data_dir, nats_url, None, namespace, config)
    listed = _call(settings, REVIEW_LIST, ListRequest(campaign_id=campaign, proposal_id=proposal, status=None))
    original = Design.model_validate(listed.proposals[0]["design"])
    design = amended_design(original, ko, no_ko, expr, medium, param)
    request = AmendRequest(credentials=_credentials(user, password), proposal_id=proposal,
                           campaign_id=listed.proposals[0]["campaign_id"], reason=reason, design=design)
    reply = _call(settings, REVIEW_AMEND, request)
    if json_out:
        print(reply.model_dump_json())
        return
    console.print(reply.decision.get("meaning", "amended"))
    if reply.work_order:
        console.print(f"dispatched run [bold]{reply.work_order['run_id']}[/bold]")


@app.command("hash-password")
def hash_password_command(
    password: Annotated[str | None, typer.Option("--password", envvar="FLUXLAB_REVIEWER_PASSWORD",
                                                 help="Password to hash (else prompted twice).")] = None,
    user: Annotated[str | None, typer.Option("--user", help="Print a ready [reviewers.<user>] entry.")] = None,
) -> None:
    """Print a salted scrypt hash for the reviewers file."""
    password = password or typer.prompt("password", hide_input=True, confirmation_prompt=True)
    if not password:
        raise UserError("password: must not be empty")
    encoded = hash_password(password)
    if user:
        print(f"[reviewers.{json.dumps(user)}]\nname = {json.dumps(user)}\npassword_hash = {json.dumps(encoded)}")
    else:
        print(encoded)
