"""NATS accounts and per-subject permissions for one namespace, and the credentials that go with them.

`render_accounts_config` writes the `accounts { FLUXLAB { ... } }` block that nats-server reads
(`deploy/nats/accounts.conf` is its output for namespace `fluxlab`). Every user may only publish
and consume what its part of the loop needs (the channel table):

- the core services (tracker, predictor, optimizer, review) read the streams they consume through
  durable pull consumers, publish only their own events and dead letters, and answer their rpc subjects;
- a robot user `robot-<station>` may pull only from its own station's work-queue consumer
  (durable `robot-<station>`, filter `<ns>.work.robot.<station>`) and publish only measurements
  and run failures; `bench` likewise for the bench queue;
- `cli` creates campaigns, imports measurements and calls rpc endpoints; `operator` may do anything
  inside the account.

Which user publishes or subscribes to which subject comes from the channel table (`schemas/channels.py`);
this module adds what NATS itself needs (JetStream API, `$SRV`, inboxes, the object store and key-value bucket).

Passwords are either env references (`$FLUXLAB_NATS_PW_TRACKER`, substituted by nats-server at start,
so no secret is ever written into a config file) or literal strings (tests, temp configs only).
"""

from __future__ import annotations

import json
import os
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from schemas.channels import CHANNELS, ROBOT, STREAMS
from services.runtime.subjects import Subjects

ACCOUNT = "FLUXLAB"
CORE_SERVICES = ("tracker", "predictor", "optimizer", "review")
CREDENTIALS_FILE = "nats-credentials.json"
DEFAULT_STATIONS = ("sim1", "sim2")
_ENV_REF = re.compile(r"^\$[A-Z_][A-Z0-9_]*$")


@dataclass
class Permissions:
    """What one user may publish and subscribe to."""

    publish: list[str] = field(default_factory=list)
    subscribe: list[str] = field(default_factory=list)
    allow_responses: bool = False


def robot_user(station: str) -> str:
    """User name of a robot station."""
    return f"robot-{station}"


def robot_durables(station: str) -> list[str]:
    """Durable consumers a station's user may pull from: real lab automation's and the simulator's (robot-sim)."""
    return [f"robot-{station}", f"robot-sim-{station}"]


def bench_durables(stations: Iterable[str] = DEFAULT_STATIONS) -> list[str]:
    """Durable consumers of the bench queue: the bench app's and the simulator's (bench-sim)."""
    return ["bench", "bench-sim", *(f"bench-sim-{station}" for station in stations)]


def users(stations: Iterable[str] = DEFAULT_STATIONS) -> list[str]:
    """Every user of the account, in config order."""
    return [*CORE_SERVICES, *(robot_user(s) for s in stations), "bench", "cli", "operator"]


def password_env_var(user: str) -> str:
    """Environment variable that carries a user's password (`robot-sim1` -> `FLUXLAB_NATS_PW_ROBOT_SIM1`)."""
    return "FLUXLAB_NATS_PW_" + re.sub(r"[^A-Za-z0-9]", "_", user).upper()


def env_password_refs(user_names: Iterable[str]) -> dict[str, str]:
    """Passwords as env references, for configs that are committed or shared."""
    return {user: "$" + password_env_var(user) for user in user_names}


def password_environment(passwords: dict[str, str]) -> dict[str, str]:
    """The environment a nats-server needs to read a config rendered with `env_password_refs`."""
    return {password_env_var(user): password for user, password in passwords.items()}


def _stream_admin(streams: Iterable[str]) -> list[str]:
    return [f"$JS.API.STREAM.{verb}.{stream}" for stream in streams for verb in ("INFO", "CREATE", "UPDATE")]


def _consumer_api(stream: str) -> list[str]:
    """Consumers of any name on one stream: create (durable, and ordered ones for replays), info, fetch, ack."""
    return [
        f"$JS.API.CONSUMER.CREATE.{stream}",
        f"$JS.API.CONSUMER.*.{stream}.*",
        f"$JS.API.CONSUMER.CREATE.{stream}.*.>",
        f"$JS.API.CONSUMER.DURABLE.CREATE.{stream}.*",
        f"$JS.API.CONSUMER.MSG.NEXT.{stream}.*",
        f"$JS.ACK.{stream}.*.>",
    ]


def _named_consumers(stream: str, durables: Iterable[str], filter_subject: str) -> list[str]:
    """Only these durables, each with a fixed filter (the filter is part of the create subject, so it is enforced)."""
    return [
        rule
        for durable in durables
        for rule in (
            f"$JS.API.CONSUMER.CREATE.{stream}.{durable}.{filter_subject}",
            f"$JS.API.CONSUMER.INFO.{stream}.{durable}",
            f"$JS.API.CONSUMER.MSG.NEXT.{stream}.{durable}",
            f"$JS.ACK.{stream}.{durable}.>",
        )
    ]


def _object_store(bucket: str) -> list[str]:
    stream = f"OBJ_{bucket}"
    return [
        f"$O.{bucket}.>", "$JS.API.STREAM.NAMES",
        *(f"$JS.API.STREAM.{verb}.{stream}" for verb in ("INFO", "CREATE", "UPDATE", "PURGE", "MSG.GET")),
        f"$JS.API.DIRECT.GET.{stream}", f"$JS.API.DIRECT.GET.{stream}.>",
        f"$JS.API.CONSUMER.CREATE.{stream}", f"$JS.API.CONSUMER.CREATE.{stream}.>",
        f"$JS.API.CONSUMER.INFO.{stream}.*", f"$JS.API.CONSUMER.DELETE.{stream}.*",
    ]


def _key_value(bucket: str) -> list[str]:
    """A key-value bucket (the predictor's per-version training claims)."""
    stream = f"KV_{bucket}"
    return [
        f"$KV.{bucket}.>",
        *(f"$JS.API.STREAM.{verb}.{stream}" for verb in ("INFO", "CREATE", "UPDATE", "MSG.GET", "MSG.DELETE")),
        f"$JS.API.DIRECT.GET.{stream}", f"$JS.API.DIRECT.GET.{stream}.>",
    ]


def _own_names(user: str) -> list[str]:
    """The names a user publishes its dead letters under (a lab user's simulator has a name of its own)."""
    if user.startswith("robot-"):
        return [user, "robot-sim"]
    if user == "bench":
        return ["bench", "bench-sim"]
    return [user]


def _role(user: str) -> str:
    """The channel table's role of a user (`robot-sim1` -> `robot`)."""
    return ROBOT if user.startswith("robot-") else user


def channel_rules(ns: str, user: str, direction: str) -> list[str]:
    """A user's `publishers` or `subscribers` subjects from the channel table; a user on every channel of a
    group gets the group's wildcard (`<ns>.evt.>`), an `own` parameter is bound to the user's own names."""
    role = _role(user)
    mine = [c for c in CHANNELS if role in getattr(c, direction)]
    rules: list[str] = []
    for group in dict.fromkeys(c.group for c in CHANNELS):
        in_group = [c for c in CHANNELS if c.group == group]
        chosen = [c for c in mine if c.group == group]
        owns = {c.name: c.publish_own if direction == "publishers" else None for c in chosen}
        if chosen == in_group and not any(owns.values()):
            rules.append(f"{ns}.{group}.>")
            continue
        for c in chosen:
            own = owns[c.name]
            rules += [c.pattern(ns, **{own: name}) for name in _own_names(user)] if own else [c.pattern(ns)]
    return rules


def _stream_reads(ns: str, user: str, stations: list[str]) -> list[str]:
    """JetStream consumer rules of the streams a user subscribes to or reads (work queues: named consumers)."""
    role = _role(user)
    rules: list[str] = []
    for stream in STREAMS:
        channels = [c for c in CHANNELS if c.group == stream.group and role in (*c.subscribers, *c.readers)]
        if not channels:
            continue
        if not stream.work_queue:
            rules += _consumer_api(stream.name(ns))
            continue
        durables = robot_durables(user.removeprefix("robot-")) if role == ROBOT else bench_durables(stations)
        for c in channels:
            bound = {c.read_own: user.removeprefix("robot-")} if c.read_own else {}
            rules += _named_consumers(stream.name(ns), durables, c.pattern(ns, **bound))
    return rules


def permissions(namespace: str, stations: Iterable[str] = DEFAULT_STATIONS) -> dict[str, Permissions]:
    """Per-user permissions of one namespace (see the module docstring): the channel table's subjects plus the
    JetStream, `$SRV` and inbox subjects each part of the loop needs."""
    s = Subjects(namespace)
    ns = s.ns
    events, work, dlq = s.events_stream, s.work_stream, s.dlq_stream
    common_pub = ["$JS.API.INFO", *(f"$JS.API.STREAM.INFO.{x}" for x in (events, work, dlq))]
    flow_control = "$JS.FC.>"  # ordered consumers (state replays) answer the server's flow control
    inbox = "_INBOX.>"
    # `fluxlab status` (the containers' liveness probe) pings `$SRV` and lists consumers: read-only metadata
    status_pub = ["$SRV.>", *(f"$JS.API.CONSUMER.LIST.{x}" for x in (events, work, dlq))]
    service_pub = [*common_pub, *_stream_admin((events, work, dlq)), *status_pub, flow_control]
    stations = list(stations)
    extra_pub = {"predictor": [*_object_store(s.models_bucket), *_key_value(f"{ns}-predictor-claims")],
                 "cli": _object_store(s.models_bucket)}  # `fluxlab models put|list`

    def user(name: str, base: list[str], subscribe: list[str], allow_responses: bool = True) -> Permissions:
        return Permissions(
            publish=[*base, *channel_rules(ns, name, "publishers"), *_stream_reads(ns, name, stations),
                     *extra_pub.get(name, [])],
            subscribe=[*channel_rules(ns, name, "subscribers"), *subscribe], allow_responses=allow_responses)

    result = {name: user(name, service_pub, ["$SRV.>", inbox]) for name in CORE_SERVICES}
    for station in stations:  # lab users answer `$SRV.PING` (fluxlab status, readiness)
        result[robot_user(station)] = user(robot_user(station), common_pub, [inbox, "$SRV.>"])
    result["bench"] = user("bench", common_pub, [inbox, "$SRV.>"])
    result["cli"] = user("cli", [*service_pub, "$SRV.>"], [inbox], allow_responses=False)
    result["operator"] = Permissions(publish=[">"], subscribe=[">"], allow_responses=True)
    return result


def _quote(value: str) -> str:
    return json.dumps(value)


def _password(value: str) -> str:
    if _ENV_REF.match(value):
        return value
    if any(c in value for c in '"\\\n\r$') or not value:
        raise ValueError("a literal password must be non-empty and hold no quote, backslash, '$' or newline")
    return _quote(value)


def _unique(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))


def _list(items: list[str], indent: str) -> str:
    inner = ",\n".join(f"{indent}  {_quote(item)}" for item in items)
    return f"[\n{inner}\n{indent}]"


def _user_block(user: str, password: str, perms: Permissions) -> str:
    pad = "        "
    lines = [
        "      {",
        f"{pad}user: {_quote(user)}",
        f"{pad}password: {_password(password)}",
        f"{pad}permissions: {{",
        f"{pad}  publish: {{ allow: {_list(_unique(perms.publish), pad + '  ')} }}",
        f"{pad}  subscribe: {{ allow: {_list(_unique(perms.subscribe), pad + '  ')} }}",
    ]
    if perms.allow_responses:
        lines.append(f"{pad}  allow_responses: true")
    lines += [f"{pad}}}", "      }"]
    return "\n".join(lines)


def render_accounts_config(namespace: str, passwords: dict[str, str], stations: list[str]) -> str:
    """The nats-server `accounts` block of one namespace; `passwords` maps every user to a literal or `$ENV_VAR`."""
    perms = permissions(namespace, stations)
    missing = sorted(set(perms) - set(passwords))
    if missing:
        raise KeyError(f"no password for user(s): {', '.join(missing)}")
    blocks = ",\n".join(_user_block(user, passwords[user], p) for user, p in perms.items())
    return (
        f"# Generated by services.runtime.security.render_accounts_config(namespace={namespace!r}).\n"
        "# Passwords are $FLUXLAB_NATS_PW_<USER> environment references: set them where nats-server runs.\n"
        "accounts {\n"
        f"  {ACCOUNT} {{\n"
        "    jetstream: enabled\n"
        "    users: [\n"
        f"{blocks}\n"
        "    ]\n"
        "  }\n"
        "}\n"
    )


def generate_credentials(data_dir: Path, stations: Iterable[str] = DEFAULT_STATIONS) -> dict[str, str]:
    """Random passwords for every user, kept in `<data_dir>/nats-credentials.json` (mode 0600); reused if present."""
    data_dir = Path(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / CREDENTIALS_FILE
    existing: dict[str, str] = json.loads(path.read_text()) if path.is_file() else {}
    wanted = users(stations)
    # nats-server parses a substituted value as a config token: one starting with a digit or '-' would be read
    # as a number, so generated passwords are 'p' + hex
    credentials = {user: existing.get(user) or "p" + secrets.token_hex(24) for user in wanted}
    if credentials != existing:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump(credentials, handle, indent=2)
    os.chmod(path, 0o600)
    return credentials


def main() -> None:
    """Print the committed accounts config: `python -m services.runtime.security > deploy/nats/accounts.conf`."""
    stations = list(DEFAULT_STATIONS)
    print(render_accounts_config("fluxlab", env_password_refs(users(stations)), stations), end="")


if __name__ == "__main__":
    main()
