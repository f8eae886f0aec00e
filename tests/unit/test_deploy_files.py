"""Checks on the deployment files that can run without a Docker engine or a cluster.

Nothing here builds an image or starts a container. What is checked: the files parse, they agree with
each other (ports, service names, mounts), every command handed to the seqflow image is a subcommand the
CLI really has, and the dashboard only queries metrics seqflow exports.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable

from support.deploy import (
    GRAFANA_PROVIDER,
    PROMETHEUS,
    ROOT,
    SEQFLOW_IMAGE_COMMANDS,
    SEQFLOW_SETTINGS,
    SERVICE_PORTS,
    compose_services,
    dockerfile_instructions,
    env_of,
    load_yaml,
    seqflow_compose_services,
)

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
