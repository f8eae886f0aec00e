"""Debian's Prometheus scrapes a running stack (two scheduler replicas) while a small sequence runs, and
every PromQL expression of the Grafana dashboard and of the alert rules parses and returns series.

A metric renamed in code but not in the dashboard or the rules returns no series here, and fails the test.
Alert expressions are evaluated without their final threshold (`signal_of`), since a healthy stack must not
fire them but must have the series they watch.
"""

from __future__ import annotations

import contextlib
import json
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from support.api import Api, make_user
from support.kafka import produce_raw, wait_for
from support.prom import alert_rules, binary, dashboard_queries, signal_of

from seqflow.promstack import PrometheusProcess, service_targets, start_prometheus
from seqflow.stack import Stack

RATE_INTERVAL = "30s"  # Grafana's $__rate_interval at a 1 s scrape interval
TEMPLATE: dict[str, Any] = {
    "name": "Watched", "owner": "alice", "branches": [{"key": "main", "steps": [
        {"key": "intro", "type": "auto_email",
         "email": {"from_alias": "alice@agency.example", "subject": "Hi {{first_name}}", "body": "Hello"}},
        {"key": "call", "type": "call"}]}],
}  # fmt: skip
CONTACTS = [
    {"id": "c1", "first_name": "Ada", "last_name": "Lovelace", "email": "ada@x.example", "phone": "+15550001"},
    {"id": "c2", "first_name": "Alan", "last_name": "Turing", "email": "alan@x.example", "phone": "+15550002"},
]


@pytest.fixture
def stack(tmp_path: Path, pg_dsn: str, clock_file: Path) -> Iterator[Stack]:
    with Stack(tmp_path / "stack", database_url=pg_dsn, schema_prefix=f"e{uuid.uuid4().hex[:8]}_",
               clock=f"file:{clock_file}", tick_seconds=0.1, replicas={"scheduler": 2},
               drop_schemas_on_close=True) as s:  # fmt: skip
        yield s


@pytest.fixture
def prometheus(stack: Stack, tmp_path: Path) -> Iterator[PrometheusProcess]:
    binary("prometheus")  # fails, naming the package, when it is not installed
    server = start_prometheus(tmp_path / "prometheus", service_targets(stack.service_ports()), interval="1s")
    try:
        yield server
    finally:
        server.stop()


def expressions() -> list[tuple[str, str]]:
    """(where it comes from, PromQL) for every dashboard target and every alert's signal."""
    panels = [(f"panel {title!r}", expr.replace("$__rate_interval", RATE_INTERVAL)) for title, expr in
              dashboard_queries()]  # fmt: skip
    alerts = [(f"alert {rule['alert']}", signal_of(rule["expr"])) for rule in alert_rules()]
    return panels + alerts


def without_series(prom: PrometheusProcess) -> list[str]:
    """The expressions that fail to parse or return no series, with Prometheus' answer."""
    bad = []
    for where, expr in expressions():
        answer = prom.query(expr)
        if answer.get("status") != "success" or not answer["data"]["result"]:
            bad.append(f"{where}: {expr} -> {answer.get('error') or 'no series'}")
    return bad


async def drive_a_small_sequence(stack: Stack) -> None:
    """Two contacts, one email an hour: a send, a rate-limit wait, and (the clock stands still) a backlog."""
    async with aiohttp.ClientSession() as http:
        alice = await make_user(Api(http, stack.api), "alice")
        template = await alice.ok("POST", "/templates", TEMPLATE)
        rollup = await alice.ok("POST", "/rollups", {"name": "Watched people"})
        await alice.ok("POST", f"/rollups/{rollup['id']}/members", {"contacts": CONTACTS})
        await alice.ok("POST", "/sequences", {
            "name": "Watched Q4", "template_id": template["id"], "rollup_id": rollup["id"], "begin": "2026-12-01",
            "timezone": "America/New_York", "primary_user": "alice",
            "rate_limits": {"email": {"count": 1, "per": "PT1H"}}})  # fmt: skip


async def test_every_dashboard_and_alert_expression_returns_series_from_a_real_prometheus(
    stack: Stack, prometheus: PrometheusProcess
) -> None:
    await stack.wait_ready()
    await drive_a_small_sequence(stack)
    assert stack.broker is not None
    await produce_raw(stack.broker.bootstrap, "rollup.commands", [(b"c9", b"not an envelope")])  # a dead letter
    await wait_for(lambda: len(stack.sent_mail()) == 1, 60, "the first email (the second waits for the limit)")
    with contextlib.suppress(AssertionError):  # the assertion below says which expressions lack series
        await wait_for(lambda: not without_series(prometheus), 90, "series for every expression")
    assert without_series(prometheus) == []
    assert prometheus.query('count(up{job="scheduler"} == 1)')["data"]["result"][0]["value"][1] == "2"
    assert loaded_rules(prometheus) == {rule["alert"] for rule in alert_rules()}


def loaded_rules(prom: PrometheusProcess) -> set[str]:
    """The names of the alert rules the server loaded and evaluates without error."""
    with urllib.request.urlopen(f"{prom.url}/api/v1/rules", timeout=10) as r:  # noqa: S310 - our local server
        groups = json.load(r)["data"]["groups"]
    return {rule["name"] for group in groups for rule in group["rules"] if rule["health"] != "err"}
