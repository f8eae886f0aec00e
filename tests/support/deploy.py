"""The deployment files' paths, what seqflow exports, parsers for the files, and the CLI's subcommands:
shared by the deploy-file tests (tests/unit/test_deploy_*.py)."""

from __future__ import annotations

import argparse
import importlib
import json
import re
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
COMPOSE = ROOT / "docker-compose.yml"
DOCKERFILE = DEPLOY / "Dockerfile"
PROMETHEUS = DEPLOY / "prometheus.yml"
GRAFANA_DATASOURCE = DEPLOY / "grafana" / "provisioning" / "datasources" / "prometheus.yml"
GRAFANA_PROVIDER = DEPLOY / "grafana" / "provisioning" / "dashboards" / "seqflow.yml"
DASHBOARD = DEPLOY / "grafana" / "dashboards" / "seqflow.json"
K8S = DEPLOY / "k8s"

# service name -> web port (ARCHITECTURE.md / the brief)
SERVICE_PORTS = {"tasks": 8000, "scheduler": 8001, "dispatcher": 8002, "rollup-sync": 8003}
SEQFLOW_IMAGE_COMMANDS = {"migrate", *SERVICE_PORTS}

SEQFLOW_SETTINGS = {
    "SEQFLOW_KAFKA_BOOTSTRAP",
    "SEQFLOW_DATABASE_URL",
    "SEQFLOW_WEB_HOST",
    "SEQFLOW_SMTP_HOST",
    "SEQFLOW_SMTP_PORT",
    "SEQFLOW_SMS_URL",
    "SEQFLOW_SMS_ACCOUNT_SID",
    "SEQFLOW_SMS_AUTH_TOKEN",
    "SEQFLOW_TRACKING_SECRET",
    "SEQFLOW_PUBLIC_URL",
    "SEQFLOW_ADMIN_TOKEN",
    "SEQFLOW_LOG_LEVEL",
}

COUNTERS_AND_GAUGES = {
    "seqflow_events_consumed_total",
    "seqflow_events_produced_total",
    "seqflow_dlq_total",
    "seqflow_sends_total",
    "seqflow_rate_limit_waits_total",
    "seqflow_window_deferrals_total",
    "seqflow_consumer_lag",
    "seqflow_tasks_open",
}
HISTOGRAMS = {"seqflow_handler_seconds", "seqflow_due_lateness_seconds"}
KNOWN_METRICS = COUNTERS_AND_GAUGES | HISTOGRAMS
METRIC_NAME = re.compile(r"\bseqflow_[a-z0-9_]+")


# ---------------------------------------------------------------------------------------------- helpers


def load_yaml(path: Path) -> Any:
    with path.open(encoding="utf-8") as fh:
        return yaml.safe_load(fh)


def compose() -> dict[str, Any]:
    return load_yaml(COMPOSE)


def compose_services() -> dict[str, Any]:
    return compose()["services"]


def uses_seqflow_image(service: dict[str, Any]) -> bool:
    build = service.get("build")
    if isinstance(build, dict) and build.get("dockerfile") == "deploy/Dockerfile":
        return True
    return str(service.get("image", "")).startswith("seqflow")


def seqflow_compose_services() -> dict[str, dict[str, Any]]:
    return {name: svc for name, svc in compose_services().items() if uses_seqflow_image(svc)}


def env_of(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):  # KEY=VALUE form
        return dict(item.split("=", 1) for item in env)
    return {key: str(value) for key, value in env.items()}


def k8s_documents() -> list[dict[str, Any]]:
    docs: list[dict[str, Any]] = []
    for path in sorted(K8S.glob("*.yaml")):
        with path.open(encoding="utf-8") as fh:
            docs.extend(doc for doc in yaml.safe_load_all(fh) if doc is not None)
    return docs


def k8s_of_kind(kind: str) -> list[dict[str, Any]]:
    return [doc for doc in k8s_documents() if doc.get("kind") == kind]


def pod_containers(workload: dict[str, Any]) -> list[dict[str, Any]]:
    return workload["spec"]["template"]["spec"]["containers"]


def k8s_seqflow_containers() -> Iterator[tuple[str, dict[str, Any]]]:
    for doc in k8s_documents():
        if doc.get("kind") not in {"Deployment", "Job", "StatefulSet", "CronJob", "DaemonSet"}:
            continue
        for container in pod_containers(doc):
            if str(container.get("image", "")).startswith("seqflow"):
                yield doc["metadata"]["name"], container


def deployments_by_service() -> dict[str, dict[str, Any]]:
    return {doc["metadata"]["name"].removeprefix("seqflow-"): doc for doc in k8s_of_kind("Deployment")}


def dashboard_exprs() -> list[tuple[str, str]]:
    dash = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    out: list[tuple[str, str]] = []
    for panel in dash["panels"]:
        for target in panel.get("targets", []):
            out.append((panel["title"], target.get("expr", "")))
    return out


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, with line continuations joined and comments dropped."""
    logical: list[str] = []
    pending = ""
    for raw in DOCKERFILE.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        logical.append(pending + line)
        pending = ""
    if pending:
        logical.append(pending)
    out = []
    for line in logical:
        instruction, _, rest = line.partition(" ")
        out.append((instruction.upper(), rest.strip()))
    return out


# ---------------------------------------------------------------------------------------------- the CLI


def subcommands_from_parser() -> set[str] | None:
    try:
        cli = importlib.import_module("seqflow.cli")
    except ModuleNotFoundError as exc:
        if exc.name in {"seqflow", "seqflow.cli"}:
            return None
        raise
    build_parser = getattr(cli, "build_parser", None)
    if build_parser is None:
        return None
    parser = build_parser()
    names = {
        name for action in parser._actions if isinstance(action, argparse._SubParsersAction) for name in action.choices
    }
    assert names, "seqflow.cli.build_parser() has no subcommands"
    return names


def console_script() -> str | None:
    return shutil.which("seqflow", path=str(Path(sys.executable).parent)) or shutil.which("seqflow")
