"""The Kubernetes manifests, checked without a cluster: kinds, one Deployment per service, commands the CLI has,
ports, probes, settings and the kustomization (see test_deploy_files.py)."""

from __future__ import annotations

from collections.abc import Callable

from support.deploy import (
    K8S,
    SEQFLOW_IMAGE_COMMANDS,
    SEQFLOW_SETTINGS,
    SERVICE_PORTS,
    deployments_by_service,
    k8s_documents,
    k8s_of_kind,
    k8s_seqflow_containers,
    load_yaml,
    pod_containers,
)

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
