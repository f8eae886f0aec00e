"""`seqflow dev`'s Prometheus (seqflow.promstack.attach_prometheus): it scrapes every service replica under
its service's job name, loads the alert rules, and stops with the stack."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from support.kafka import wait_for
from support.prom import alert_rules, binary

from seqflow.devstack import free_port
from seqflow.promstack import PrometheusProcess, attach_prometheus

METRICS = b"# TYPE seqflow_ready gauge\nseqflow_ready 1\n"


@dataclass
class FakeStack:
    """What attach_prometheus uses of seqflow.stack.Stack."""

    workdir: Path
    ports: dict[str, int]
    children: list[Any] = field(default_factory=list)

    def service_ports(self) -> dict[str, int]:
        return self.ports


async def metrics(_: web.Request) -> web.Response:
    return web.Response(body=METRICS, content_type="text/plain")


@pytest.fixture
async def replicas() -> AsyncIterator[dict[str, int]]:
    """Two 'scheduler' replicas serving /metrics on free ports."""
    app = web.Application()
    app.router.add_get("/metrics", metrics)
    runner = web.AppRunner(app)
    await runner.setup()
    ports = {"scheduler-0": free_port(), "scheduler-1": free_port()}
    for port in ports.values():
        await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield ports
    finally:
        await runner.cleanup()


async def test_dev_prometheus_scrapes_each_replica_under_its_service_job_and_stops_with_the_stack(
    tmp_path: Path, replicas: dict[str, int]
) -> None:
    binary("prometheus")
    stack = FakeStack(tmp_path, replicas)
    url = attach_prometheus(stack, port=free_port())
    [server] = stack.children
    assert isinstance(server, PrometheusProcess) and url == server.url
    try:
        ready = 'count(seqflow_ready{job="scheduler"} == 1)'

        def both_scraped() -> bool:
            result = server.query(ready)["data"]["result"]
            return bool(result) and result[0]["value"][1] == "2"

        await wait_for(both_scraped, 30, "both replicas scraped")
        config = (tmp_path / "prometheus" / "prometheus.yml").read_text()
        assert "deploy/prometheus/alerts.yml" in config and alert_rules()
    finally:
        server.stop()  # what Stack.close() does with every child
    assert server.proc.poll() is not None
