"""The deployment files agree with the code: service names, settings, NATS configs the real binary accepts."""

from __future__ import annotations

import re
import stat
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from services import registry
from services.runtime.nats_server import find_nats_server
from services.runtime.security import (
    CREDENTIALS_FILE,
    DEFAULT_STATIONS,
    env_password_refs,
    generate_credentials,
    password_environment,
    render_accounts_config,
    users,
)
from services.runtime.settings import Settings

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
NATS_DIR = DEPLOY / "nats"
K8S_FILES = sorted((DEPLOY / "k8s").glob("*.yaml"))
CLUSTER_NODES = sorted((NATS_DIR / "cluster").glob("node*.conf"))

# FLUXLAB_* variables the manifests set that are not (yet) fields of Settings:
#  - FLUXLAB_NATS_PW_<USER>: passwords substituted by nats-server itself into accounts.conf (not read by fluxlab);
#  - FLUXLAB_STREAM_REPLICAS: stream replicas in a cluster (asked of the lead as Settings.stream_replicas);
#  - FLUXLAB_HTTP_HOST: the review page's bind address, 0.0.0.0 in containers (asked of the lead as Settings.http_host).
#  - FLUXLAB_AUDIT_KEY: the tracker's review-decision signing key (services/tracker/audit.py reads it).
EXTRA_SETTINGS = {"FLUXLAB_STREAM_REPLICAS", "FLUXLAB_HTTP_HOST", "FLUXLAB_AUDIT_KEY"}
PASSWORD_VAR = re.compile(r"^FLUXLAB_NATS_PW_[A-Z0-9_]+$")


def known_services() -> set[str]:
    """Read at test time, so services registered later are known too."""
    return {*registry.SERVICES, *registry.SIMULATORS}


def allowed_env(name: str) -> bool:
    setting_names = {f"FLUXLAB_{field.upper()}" for field in Settings.model_fields}
    return name in setting_names or name in EXTRA_SETTINGS or bool(PASSWORD_VAR.match(name))


def k8s_docs() -> list[dict[str, Any]]:
    return [doc for path in K8S_FILES for doc in yaml.safe_load_all(path.read_text()) if doc]


def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    return data


def nats_env() -> dict[str, str]:
    """Dummy passwords for every user, plus the server names the container configs read from the environment."""
    return {**password_environment({user: "test-only" for user in users(DEFAULT_STATIONS)}),
            "SERVER_NAME": "nats1", "POD_NAME": "nats-0", "PATH": "/usr/bin:/bin"}


def nats_config_test(path: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(find_nats_server()), "-t", "-c", str(path)], env=env, capture_output=True, text=True,
                          timeout=30, cwd=path.parent)


def test_every_yaml_parses() -> None:
    assert K8S_FILES, "no Kubernetes manifests under deploy/k8s"
    kinds = {doc["kind"] for doc in k8s_docs()}
    assert {"Deployment", "StatefulSet", "Service", "ConfigMap"} <= kinds
    assert compose()["services"]


def test_k8s_deployments_run_known_services_with_known_settings() -> None:
    deployments = [doc for doc in k8s_docs() if doc["kind"] == "Deployment"]
    served = set()
    for deployment in deployments:
        for container in deployment["spec"]["template"]["spec"]["containers"]:
            command = container["command"]
            assert command[:2] == ["fluxlab", "serve"], deployment["metadata"]["name"]
            assert command[2] in known_services(), f"{command[2]} is not a registered service"
            served.add(command[2])
            names = {item["name"] for item in container.get("env", [])}
            assert {"FLUXLAB_NATS_URL", "FLUXLAB_DB_URL", "FLUXLAB_NAMESPACE"} <= names
            assert all(allowed_env(n) for n in names if n.startswith("FLUXLAB_")), sorted(names)
            db_url = next(item for item in container["env"] if item["name"] == "FLUXLAB_DB_URL")
            assert "secretKeyRef" in db_url["valueFrom"], "the database URL carries a password: from a Secret"
            assert "livenessProbe" in container or command[2] == "robot-sim"
    assert set(registry.SERVICES) <= served
    replicas = {d["spec"]["template"]["spec"]["containers"][0]["command"][2]: d["spec"]["replicas"]
                for d in deployments}
    assert replicas["predictor"] == 2 and replicas["robot-sim"] == 2


def test_k8s_review_has_a_service_for_its_web_page() -> None:
    services = [doc for doc in k8s_docs() if doc["kind"] == "Service"]
    review = [s for s in services if s["spec"]["selector"].get("app.kubernetes.io/component") == "review"]
    assert [p["port"] for s in review for p in s["spec"]["ports"]] == [8700]


def test_k8s_nats_statefulset_is_a_three_node_cluster() -> None:
    docs = k8s_docs()
    nats = next(d for d in docs if d["kind"] == "StatefulSet" and d["metadata"]["name"] == "nats")
    assert nats["spec"]["replicas"] == 3
    headless = next(d for d in docs if d["kind"] == "Service" and d["metadata"]["name"] == nats["spec"]["serviceName"])
    assert headless["spec"]["clusterIP"] == "None"
    config = next(d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"] == "nats-config")
    assert config["data"]["nats.conf"].count("nats-route://") == 3


def test_k8s_nats_config_is_valid_and_carries_the_committed_accounts(tmp_path: Path) -> None:
    config = next(d for d in k8s_docs() if d["kind"] == "ConfigMap" and d["metadata"]["name"] == "nats-config")
    assert config["data"]["accounts.conf"] == (NATS_DIR / "accounts.conf").read_text(), (
        "deploy/k8s/nats.yaml's accounts.conf differs from deploy/nats/accounts.conf: copy it over"
    )
    for name, text in config["data"].items():
        (tmp_path / name).write_text(text)
    result = nats_config_test(tmp_path / "nats.conf", nats_env())
    assert result.returncode == 0, result.stderr


def test_compose_services_run_known_services_with_known_settings() -> None:
    services = compose()["services"]
    served = {}
    for name, service in services.items():
        command = service.get("command")
        if not command or command[0] != "fluxlab":
            continue
        assert command[:2] == ["fluxlab", "serve"] and command[2] in known_services(), name
        served[command[2]] = service
        env = service.get("environment", {})
        assert {"FLUXLAB_NATS_URL", "FLUXLAB_DB_URL", "FLUXLAB_NAMESPACE"} <= set(env), name
        assert all(allowed_env(n) for n in env if n.startswith("FLUXLAB_")), sorted(env)
        assert service["build"]["dockerfile"] == "deploy/Dockerfile"
    assert set(registry.SERVICES) <= set(served)
    assert served["predictor"]["deploy"]["replicas"] == 2 and served["robot-sim"]["deploy"]["replicas"] == 2
    assert {"nats1", "nats2", "nats3", "postgres"} <= set(services)


def test_compose_and_k8s_pass_no_literal_secrets() -> None:
    text = (DEPLOY / "compose.yaml").read_text()
    for line in text.splitlines():
        if re.search(r"(PASSWORD|_PW_)\w*:", line):
            assert "${" in line or line.strip().endswith(":"), line
    for doc in k8s_docs():
        assert doc["kind"] != "Secret", "Secrets are created out of band, never committed"


def test_dockerfile_installs_the_project_with_postgres() -> None:
    text = (DEPLOY / "Dockerfile").read_text()
    assert text.startswith("#") and "FROM python:3.11-slim" in text
    assert '".[postgres]"' in text


def test_committed_accounts_config_is_the_rendered_one() -> None:
    stations = list(DEFAULT_STATIONS)
    rendered = render_accounts_config("fluxlab", env_password_refs(users(stations)), stations)
    assert (NATS_DIR / "accounts.conf").read_text() == rendered, (
        "regenerate: python -m services.runtime.security > deploy/nats/accounts.conf"
    )


def test_accounts_config_holds_no_literal_password() -> None:
    for line in (NATS_DIR / "accounts.conf").read_text().splitlines():
        if line.strip().startswith("password:"):
            assert re.fullmatch(r"\s*password: \$FLUXLAB_NATS_PW_[A-Z0-9_]+", line), line


def test_nats_binary_has_config_test_mode() -> None:
    help_text = subprocess.run([str(find_nats_server()), "--help"], capture_output=True, text=True, timeout=30)
    assert re.search(r"^\s+-t\s", help_text.stdout + help_text.stderr, re.MULTILINE)


@pytest.mark.parametrize("path", [NATS_DIR / "single.conf", NATS_DIR / "container.conf", *CLUSTER_NODES],
                         ids=lambda p: p.name)
def test_nats_configs_are_valid(path: Path) -> None:
    result = nats_config_test(path, nats_env())
    assert result.returncode == 0, result.stderr
    assert "is valid" in result.stdout + result.stderr


def test_nats_config_without_passwords_is_refused() -> None:
    result = nats_config_test(NATS_DIR / "single.conf", {"PATH": "/usr/bin:/bin"})
    assert result.returncode != 0 and "FLUXLAB_NATS_PW_" in result.stderr


def _ports(text: str, key: str) -> int:
    block = text.split("cluster {")[1] if key == "cluster" else text.split("cluster {")[0]
    field = "listen" if key in ("client", "cluster") else "http"
    match = re.search(rf'^\s*{field}:\s*"[\d.]+:(\d+)"', block, re.MULTILINE)
    assert match, f"no {key} port"
    return int(match.group(1))


def test_cluster_has_three_nodes_with_distinct_ports_and_routes() -> None:
    assert len(CLUSTER_NODES) == 3
    texts = [path.read_text() for path in CLUSTER_NODES]
    ports = [_ports(text, key) for text in texts for key in ("client", "cluster", "http")]
    assert len(set(ports)) == 9 and 4222 not in ports
    cluster_ports = {_ports(text, "cluster") for text in texts}
    names = {re.search(r'server_name:\s*"([^"]+)"', text).group(1) for text in texts}  # type: ignore[union-attr]
    stores = {re.search(r'store_dir:\s*"([^"]+)"', text).group(1) for text in texts}  # type: ignore[union-attr]
    assert len(names) == 3 and len(stores) == 3
    for text in texts:
        routes = {int(p) for p in re.findall(r"nats-route://127\.0\.0\.1:(\d+)", text)}
        assert routes == cluster_ports


def test_generate_credentials_are_private_and_stable(tmp_path: Path) -> None:
    first = generate_credentials(tmp_path / "data")
    path = tmp_path / "data" / CREDENTIALS_FILE
    assert set(first) == set(users(DEFAULT_STATIONS)) and len(set(first.values())) == len(first)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert generate_credentials(tmp_path / "data") == first


def test_render_refuses_missing_or_unsafe_passwords() -> None:
    stations = list(DEFAULT_STATIONS)
    passwords = {user: "ok" for user in users(stations)}
    with pytest.raises(KeyError, match="operator"):
        render_accounts_config("fluxlab", {k: v for k, v in passwords.items() if k != "operator"}, stations)
    with pytest.raises(ValueError, match="literal password"):
        render_accounts_config("fluxlab", {**passwords, "cli": 'a"b'}, stations)
    assert 'password: "ok"' in render_accounts_config("t1", passwords, stations)
