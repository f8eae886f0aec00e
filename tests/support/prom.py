"""The alert rules and dashboard queries of deploy/, and Debian's Prometheus binaries, for the tests."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
ALERTS = ROOT / "deploy" / "prometheus" / "alerts.yml"
ALERT_TESTS = ROOT / "deploy" / "prometheus" / "alerts_test.yml"
DASHBOARD = ROOT / "deploy" / "grafana" / "dashboards" / "seqflow.json"
# the final `<op> <number>` of a rule: what is left is the signal, which a healthy stack has series for
THRESHOLD = re.compile(r"\s*(?:>=|<=|==|!=|>|<)\s*-?[0-9.]+\s*$")


def binary(name: str) -> str:
    """The path of `promtool` / `prometheus`; a clear failure (never a skip) when it is not installed."""
    path = shutil.which(name) or (f"/usr/bin/{name}" if Path(f"/usr/bin/{name}").exists() else None)
    if path is None:
        pytest.fail(f"`{name}` is not installed: run `apt-get install -y prometheus` (Debian) first")
    return path


def alert_rules() -> list[dict[str, Any]]:
    groups = yaml.safe_load(ALERTS.read_text(encoding="utf-8"))["groups"]
    return [rule for group in groups for rule in group["rules"] if "alert" in rule]


def signal_of(expr: str) -> str:
    """The rule's expression without its final threshold comparison."""
    match = THRESHOLD.search(expr.strip())
    assert match, f"alert expression does not end in `<op> <number>`: {expr!r}"
    return expr.strip()[: match.start()]


def dashboard_queries() -> list[tuple[str, str]]:
    """(panel title, PromQL) for every target of the Grafana dashboard."""
    panels = json.loads(DASHBOARD.read_text(encoding="utf-8"))["panels"]
    return [(p["title"], t["expr"]) for p in panels for t in p.get("targets", []) if t.get("expr")]
