"""Checks on the deployment files that can run without a Docker engine or a cluster.

Nothing here builds an image or starts a container. What is checked: the files parse, they agree with
each other (ports, service names, mounts), every command handed to the seqflow image is a subcommand the
CLI really has, and the dashboard only queries metrics seqflow exports.
"""

from __future__ import annotations

import argparse
import importlib
import json
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
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


def _subcommands_from_parser() -> set[str] | None:
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


def _console_script() -> str | None:
    return shutil.which("seqflow", path=str(Path(sys.executable).parent)) or shutil.which("seqflow")


@pytest.fixture(scope="module")
def cli_has() -> Callable[[str], bool]:
    """A predicate: does the seqflow CLI have this subcommand?

    Reads seqflow.cli.build_parser() when it exists; otherwise asks the installed console script
    (`seqflow <cmd> --help`), after checking that it rejects a made-up subcommand.
    """
    names = _subcommands_from_parser()
    if names is not None:
        return names.__contains__

    script = _console_script()
    if script is None:
        pytest.fail("neither seqflow.cli.build_parser nor a `seqflow` console script is available")

    def runs(cmd: str) -> bool:
        result = subprocess.run([script, cmd, "--help"], capture_output=True, timeout=120, check=False)
        return result.returncode == 0

    assert not runs("surely-not-a-seqflow-subcommand"), "the seqflow CLI accepts any subcommand"
    return runs


# ---------------------------------------------------------------------------------------------- compose


def test_the_compose_file_defines_every_service_seqflow_needs() -> None:
    expected = {"kafka", "postgres", "migrate", *SERVICE_PORTS, "prometheus", "grafana"}
    assert expected <= set(compose_services())


def test_exactly_the_migration_and_the_four_services_run_from_the_seqflow_image() -> None:
    assert set(seqflow_compose_services()) == SEQFLOW_IMAGE_COMMANDS
    for name, svc in seqflow_compose_services().items():
        assert svc["build"] == {"context": ".", "dockerfile": "deploy/Dockerfile"}, name


def test_each_compose_service_on_the_seqflow_image_runs_its_own_subcommand() -> None:
    for name, svc in seqflow_compose_services().items():
        assert svc.get("command") == [name], f"{name}: command {svc.get('command')!r}"


def test_every_command_compose_passes_to_the_seqflow_image_is_a_real_cli_subcommand(
    cli_has: Callable[[str], bool],
) -> None:
    for name, svc in seqflow_compose_services().items():
        command = svc.get("command")
        assert isinstance(command, list) and command, f"{name} has no command list"
        assert cli_has(command[0]), f"{name}: `seqflow {command[0]}` is not a CLI subcommand"


def test_kafka_runs_as_a_single_kraft_node_that_auto_creates_topics() -> None:
    kafka = compose_services()["kafka"]
    env = env_of(kafka)
    assert str(kafka["image"]).startswith("apache/kafka:")
    assert set(env["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
    assert env["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "true"
    assert env["KAFKA_CONTROLLER_QUORUM_VOTERS"].startswith("1@kafka:")
    assert "ZOOKEEPER" not in " ".join(env)
    assert "kafka:9092" in env["KAFKA_ADVERTISED_LISTENERS"]


def test_postgres_is_version_16_with_a_healthcheck() -> None:
    postgres = compose_services()["postgres"]
    assert str(postgres["image"]).split(":")[1].startswith("16")
    assert "pg_isready" in " ".join(postgres["healthcheck"]["test"])


def test_migrate_waits_for_a_healthy_postgres() -> None:
    migrate = compose_services()["migrate"]
    assert migrate["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert migrate.get("restart", "no") == "no"


def test_the_four_services_start_only_after_migrate_completed_successfully() -> None:
    services = compose_services()
    for name in SERVICE_PORTS:
        depends = services[name]["depends_on"]
        assert depends["migrate"]["condition"] == "service_completed_successfully", name
        assert depends["kafka"]["condition"] == "service_healthy", name


def test_every_seqflow_container_in_compose_gets_every_documented_setting() -> None:
    for name, svc in seqflow_compose_services().items():
        env = env_of(svc)
        missing = SEQFLOW_SETTINGS - set(env)
        assert not missing, f"{name} lacks {sorted(missing)}"
        assert env["SEQFLOW_WEB_HOST"] == "0.0.0.0", name  # noqa: S104 (containers must listen on all interfaces)
        assert env["SEQFLOW_KAFKA_BOOTSTRAP"] == "kafka:9092", name
        assert env["SEQFLOW_DATABASE_URL"].startswith("postgresql://"), name
        assert "@postgres:5432/" in env["SEQFLOW_DATABASE_URL"], name


def test_each_compose_service_listens_and_publishes_on_its_own_web_port() -> None:
    services = compose_services()
    for name, port in SERVICE_PORTS.items():
        svc = services[name]
        assert env_of(svc)["SEQFLOW_WEB_PORT"] == str(port), name
        assert f"{port}:{port}" in [str(p) for p in svc["ports"]], name


def test_the_compose_healthchecks_of_the_services_probe_the_ready_endpoint() -> None:
    services = compose_services()
    for name in SERVICE_PORTS:
        test = services[name]["healthcheck"]["test"]
        assert "/ready" in " ".join(test), name


def test_prometheus_and_grafana_mount_the_files_in_deploy() -> None:
    services = compose_services()
    prom_mounts = [str(v).split(":")[:2] for v in services["prometheus"]["volumes"]]
    assert ["./deploy/prometheus.yml", "/etc/prometheus/prometheus.yml"] in prom_mounts
    graf_mounts = dict(str(v).split(":")[:2] for v in services["grafana"]["volumes"])
    assert graf_mounts["./deploy/grafana/provisioning"] == "/etc/grafana/provisioning"
    dashboards_in_container = graf_mounts["./deploy/grafana/dashboards"]
    provider = load_yaml(GRAFANA_PROVIDER)["providers"][0]
    assert provider["options"]["path"] == dashboards_in_container
    for host_path in [*graf_mounts, *(m[0] for m in prom_mounts)]:
        if host_path.startswith("./"):
            assert (ROOT / host_path).exists(), host_path


# ---------------------------------------------------------------------------------------------- Dockerfile


def test_the_dockerfile_entrypoint_is_the_seqflow_console_script() -> None:
    entrypoints = [args for instr, args in dockerfile_instructions() if instr == "ENTRYPOINT"]
    assert entrypoints, "no ENTRYPOINT"
    assert json.loads(entrypoints[-1]) == ["seqflow"]


def test_the_image_is_python_3_11_slim_and_installs_the_project_with_pip() -> None:
    instructions = dockerfile_instructions()
    froms = [args.split()[0] for instr, args in instructions if instr == "FROM"]
    assert froms[-1] == "python:3.11-slim"
    runs = [args for instr, args in instructions if instr == "RUN"]
    assert any(re.search(r"pip install \.(\s|$)", run) for run in runs)


def test_the_image_runs_as_a_non_root_user() -> None:
    users = [args for instr, args in dockerfile_instructions() if instr == "USER"]
    assert users, "no USER instruction"
    user = users[-1].split(":")[0]
    assert user not in {"root", "0"}


def test_everything_the_dockerfile_copies_from_the_build_context_exists() -> None:
    for instr, args in dockerfile_instructions():
        if instr != "COPY" or args.startswith("--from"):
            continue
        *sources, _dest = args.split()
        for source in sources:
            assert (ROOT / source).exists(), f"COPY {source}: missing from the repo"


# ---------------------------------------------------------------------------------------------- Prometheus


def test_prometheus_scrapes_metrics_from_each_service_on_its_web_port() -> None:
    config = load_yaml(PROMETHEUS)
    scraped: set[str] = set()
    for job in config["scrape_configs"]:
        assert job.get("metrics_path", "/metrics") == "/metrics", job["job_name"]
        for static in job.get("static_configs", []):
            scraped.update(static["targets"])
    expected = {f"{name}:{port}" for name, port in SERVICE_PORTS.items()}
    assert expected <= scraped
    assert {target.split(":")[0] for target in scraped} <= set(compose_services())


# ---------------------------------------------------------------------------------------------- Grafana


def test_the_grafana_datasource_points_at_the_compose_prometheus() -> None:
    config = load_yaml(GRAFANA_DATASOURCE)
    assert config["apiVersion"] == 1
    (datasource,) = config["datasources"]
    assert datasource["type"] == "prometheus"
    assert datasource["url"] == "http://prometheus:9090"
    assert datasource["uid"]


def test_the_grafana_dashboard_provider_loads_files() -> None:
    config = load_yaml(GRAFANA_PROVIDER)
    assert config["apiVersion"] == 1
    (provider,) = config["providers"]
    assert provider["type"] == "file"
    assert provider["options"]["path"].startswith("/")


def test_every_dashboard_panel_queries_the_provisioned_datasource() -> None:
    uid = load_yaml(GRAFANA_DATASOURCE)["datasources"][0]["uid"]
    dash = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    assert dash["panels"]
    for panel in dash["panels"]:
        assert panel["datasource"]["uid"] == uid, panel["title"]
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert target.get("datasource", panel["datasource"])["uid"] == uid, panel["title"]


def test_every_dashboard_query_mentions_only_metrics_seqflow_exports() -> None:
    exprs = dashboard_exprs()
    assert exprs
    for title, expr in exprs:
        names = METRIC_NAME.findall(expr)
        assert names, f"{title!r} queries no seqflow_ metric: {expr!r}"
        for name in names:
            base = re.sub(r"_(bucket|sum|count)$", "", name)
            ok = name in COUNTERS_AND_GAUGES or (base in HISTOGRAMS and name != base)
            assert ok, f"{title!r} queries unknown metric {name!r}"


def test_the_dashboard_shows_every_exported_metric() -> None:
    shown = {re.sub(r"_(bucket|sum|count)$", "", name) for _, e in dashboard_exprs() for name in METRIC_NAME.findall(e)}
    assert shown == KNOWN_METRICS


def test_the_handler_latency_panel_shows_p50_p95_and_p99() -> None:
    quantiles = set()
    for _, expr in dashboard_exprs():
        if "seqflow_handler_seconds_bucket" in expr:
            match = re.search(r"histogram_quantile\(\s*([0-9.]+)", expr)
            assert match, expr
            quantiles.add(float(match.group(1)))
    assert quantiles == {0.5, 0.95, 0.99}


def test_the_dashboard_breaks_down_by_labels_and_never_by_ids() -> None:
    exprs = " ".join(expr for _, expr in dashboard_exprs())
    for label in ("topic", "handler", "channel", "status"):
        assert re.search(rf"by \([^)]*\b{label}\b", exprs), label
    assert not re.search(r"\b(contact|sequence|enrollment|event)_id\b", exprs)


# ---------------------------------------------------------------------------------------------- Kubernetes


def test_the_kubernetes_manifests_parse_and_name_their_kind() -> None:
    docs = k8s_documents()
    assert docs
    for doc in docs:
        assert doc.get("apiVersion") and doc.get("kind"), doc


def test_kubernetes_has_a_deployment_per_service_a_migrate_job_an_api_service_and_a_configmap() -> None:
    assert set(deployments_by_service()) == set(SERVICE_PORTS)
    jobs = k8s_of_kind("Job")
    assert [pod_containers(job)[0]["args"] for job in jobs] == [["migrate"]]
    assert k8s_of_kind("Service")
    assert k8s_of_kind("ConfigMap")


def test_the_scheduler_and_dispatcher_scale_out_to_two_replicas() -> None:
    deployments = deployments_by_service()
    assert deployments["scheduler"]["spec"]["replicas"] >= 2
    assert deployments["dispatcher"]["spec"]["replicas"] >= 2


def test_every_command_kubernetes_passes_to_the_seqflow_image_is_a_real_cli_subcommand(
    cli_has: Callable[[str], bool],
) -> None:
    seen = set()
    for workload, container in k8s_seqflow_containers():
        assert "command" not in container, f"{workload} overrides the seqflow ENTRYPOINT"
        args = container.get("args")
        assert isinstance(args, list) and args, f"{workload} passes no subcommand"
        assert cli_has(args[0]), f"{workload}: `seqflow {args[0]}` is not a CLI subcommand"
        seen.add(args[0])
    assert seen == SEQFLOW_IMAGE_COMMANDS


def test_each_deployment_runs_its_own_subcommand_on_its_own_port() -> None:
    for name, deployment in deployments_by_service().items():
        (container,) = pod_containers(deployment)
        assert container["args"] == [name]
        env = {item["name"]: item.get("value") for item in container.get("env", [])}
        assert env["SEQFLOW_WEB_PORT"] == str(SERVICE_PORTS[name])
        assert [p["containerPort"] for p in container["ports"]] == [SERVICE_PORTS[name]]
        selector = deployment["spec"]["selector"]["matchLabels"]
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert selector.items() <= labels.items(), name


def test_each_deployment_probes_health_for_liveness_and_ready_for_readiness() -> None:
    for name, deployment in deployments_by_service().items():
        (container,) = pod_containers(deployment)
        port_names = {p.get("name") for p in container["ports"]} | {p["containerPort"] for p in container["ports"]}
        liveness = container["livenessProbe"]["httpGet"]
        readiness = container["readinessProbe"]["httpGet"]
        assert liveness["path"] == "/health", name
        assert readiness["path"] == "/ready", name
        assert liveness["port"] in port_names and readiness["port"] in port_names, name


def test_every_seqflow_container_in_kubernetes_gets_every_documented_setting() -> None:
    configmaps = {doc["metadata"]["name"]: set(doc.get("data", {})) for doc in k8s_of_kind("ConfigMap")}
    secrets = {
        doc["metadata"]["name"]: set(doc.get("stringData", {})) | set(doc.get("data", {}))
        for doc in k8s_of_kind("Secret")
    }
    for workload, container in k8s_seqflow_containers():
        keys = {item["name"] for item in container.get("env", [])}
        for source in container.get("envFrom", []):
            if "configMapRef" in source:
                keys |= configmaps[source["configMapRef"]["name"]]
            if "secretRef" in source:
                keys |= secrets[source["secretRef"]["name"]]
        missing = SEQFLOW_SETTINGS - keys
        assert not missing, f"{workload} lacks {sorted(missing)}"


def test_the_api_service_routes_to_the_tasks_pods_web_port() -> None:
    tasks = deployments_by_service()["tasks"]
    labels = tasks["spec"]["template"]["metadata"]["labels"]
    (container,) = pod_containers(tasks)
    port_names = {p.get("name") for p in container["ports"]} | {p["containerPort"] for p in container["ports"]}
    routed = [svc for svc in k8s_of_kind("Service") if svc["spec"]["selector"].items() <= labels.items()]
    assert routed, "no Service selects the tasks pods"
    for svc in routed:
        for port in svc["spec"]["ports"]:
            assert port["targetPort"] in port_names


def test_the_kustomization_lists_every_manifest_except_the_example_secret() -> None:
    resources = load_yaml(K8S / "kustomization.yaml")["resources"]
    for resource in resources:
        assert (K8S / resource).is_file(), resource
    on_disk = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    assert set(resources) == {name for name in on_disk if ".example." not in name}
