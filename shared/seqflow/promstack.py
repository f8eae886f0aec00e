"""A local Prometheus (Debian's `prometheus` binary) scraping a running stack, for `seqflow dev` and tests.

It loads the repository's alert rules (`deploy/prometheus/alerts.yml`) when they are beside the package,
so the alerts can be watched locally exactly as in production. Nothing here is needed in production.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from seqflow.devstack import free_port, spawn, terminate

ALERT_RULES = Path(__file__).resolve().parents[2] / "deploy" / "prometheus" / "alerts.yml"
DEV_PORT = 9090


def prometheus_binary() -> str | None:
    """The `prometheus` executable, or None when the package is not installed."""
    return shutil.which("prometheus") or ("/usr/bin/prometheus" if Path("/usr/bin/prometheus").exists() else None)


def scrape_config(targets: dict[str, list[int]], interval: str, rules: Path | None) -> dict[str, Any]:
    """Prometheus config: one job per service (named like deploy/prometheus.yml's), every replica a target."""
    return {
        "global": {"scrape_interval": interval, "evaluation_interval": interval},
        "rule_files": [str(rules)] if rules else [],
        "scrape_configs": [
            {"job_name": job, "metrics_path": "/metrics",
             "static_configs": [{"targets": [f"127.0.0.1:{port}" for port in ports]}]}
            for job, ports in sorted(targets.items())
        ],
    }  # fmt: skip


def service_targets(service_ports: dict[str, int]) -> dict[str, list[int]]:
    """`{"scheduler-0": 8001, "scheduler-1": 9123, ...}` (Stack.service_ports) grouped by service."""
    jobs: dict[str, list[int]] = {}
    for replica, port in sorted(service_ports.items()):
        jobs.setdefault(replica.rsplit("-", 1)[0], []).append(port)
    return jobs


class PrometheusProcess:
    """A Prometheus server on a local port; `proc` lets a Stack stop it with its other children."""

    def __init__(self, port: int, proc: subprocess.Popen[bytes]) -> None:
        self.port, self.proc = port, proc

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def query(self, expr: str) -> dict[str, Any]:
        """`/api/v1/query` of one PromQL expression: the decoded answer, errors included (status `error`)."""
        url = f"{self.url}/api/v1/query?{urllib.parse.urlencode({'query': expr})}"
        try:
            with urllib.request.urlopen(url, timeout=10) as r:  # noqa: S310 - our own local server
                return dict(json.load(r))
        except urllib.error.HTTPError as exc:  # 400/422: a bad expression, with Prometheus' reason
            return dict(json.load(exc))

    def stop(self) -> None:
        terminate(self.proc)


def start_prometheus(workdir: Path, targets: dict[str, list[int]], *, port: int | None = None,
                     interval: str = "1s", rules: Path | None = ALERT_RULES,
                     timeout: float = 30.0) -> PrometheusProcess:  # fmt: skip
    """Start Prometheus scraping `targets` and wait until it is ready. Fails if it is not installed."""
    binary = prometheus_binary()
    if binary is None:
        raise FileNotFoundError("prometheus is not installed (Debian: apt-get install -y prometheus)")
    workdir.mkdir(parents=True, exist_ok=True)
    config = workdir / "prometheus.yml"
    rules = rules if rules is not None and rules.exists() else None
    # JSON is YAML: no YAML library needed at run time
    config.write_text(json.dumps(scrape_config(targets, interval, rules), indent=1), encoding="utf-8")
    port = port or free_port()
    argv = [binary, f"--config.file={config}", f"--storage.tsdb.path={workdir / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}", "--storage.tsdb.retention.time=1d"]  # fmt: skip
    server = PrometheusProcess(port, spawn(argv, log=workdir / "prometheus.log"))
    try:
        _wait_ready(server, timeout)
    except BaseException:
        server.stop()
        raise
    return server


def _wait_ready(server: PrometheusProcess, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not _answers(f"{server.url}/-/ready"):
        if server.proc.poll() is not None:
            raise RuntimeError(f"prometheus exited with code {server.proc.returncode}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"prometheus on port {server.port} not ready within {timeout}s")
        time.sleep(0.1)


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as r:  # noqa: S310 - our own local server
            return bool(r.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def attach_prometheus(stack: Any, port: int | None = None) -> str | None:
    """For `seqflow dev`: start Prometheus on the stack's services when installed; the stack stops it.

    Listens on `port`, else 9090 when free. Returns its URL, or None when the binary is missing (dev runs
    without it).
    """
    if prometheus_binary() is None:
        return None
    port = port or (DEV_PORT if _port_free(DEV_PORT) else free_port())
    server = start_prometheus(stack.workdir / "prometheus", service_targets(stack.service_ports()), port=port,
                              interval="5s")  # fmt: skip
    stack.children.append(server)
    return server.url


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True
