"""The alert rules in deploy/prometheus: promtool accepts them, every alert has a case that fires it and one
that does not (deploy/prometheus/alerts_test.yml), a runbook section, and a threshold the Prometheus
integration test can strip."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import yaml

from tests.support.markdown import heading_anchors
from tests.support.prom import ALERT_TESTS, ALERTS, ROOT, alert_rules, binary, signal_of

OPERATIONS = ROOT / "docs" / "operations.md"
PAGE = "docs/operations.md#"


def promtool(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    argv = [binary("promtool"), *args]
    return subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=60, check=False)  # noqa: S603


def alert_cases() -> list[tuple[str, list[object]]]:
    tests = yaml.safe_load(ALERT_TESTS.read_text(encoding="utf-8"))["tests"]
    return [(case["alertname"], case["exp_alerts"]) for test in tests for case in test["alert_rule_test"]]


def test_promtool_accepts_the_alert_rules() -> None:
    result = promtool("check", "rules", str(ALERTS))
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(alert_rules())} rules found" in result.stdout


def test_the_alert_unit_tests_pass_under_promtool() -> None:
    result = promtool("test", "rules", ALERT_TESTS.name, cwd=ALERT_TESTS.parent)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_prometheus_config_loads_the_alert_rules() -> None:
    result = promtool("check", "config", str(ROOT / "deploy" / "prometheus.yml"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"Checking {ALERTS}" in result.stdout


def test_every_alert_has_a_case_that_fires_it_and_one_that_does_not() -> None:
    cases = alert_cases()
    for rule in alert_rules():
        expectations = [exp for name, exp in cases if name == rule["alert"]]
        assert any(expectations), f"{rule['alert']}: no case in which it fires"
        assert any(not exp for exp in expectations), f"{rule['alert']}: no case in which it stays quiet"


def test_every_alert_links_to_its_own_runbook_section_in_operations_md() -> None:
    anchors = heading_anchors(OPERATIONS)
    for rule in alert_rules():
        url = rule["annotations"]["runbook_url"]
        assert url == PAGE + rule["alert"].lower(), url
        assert url.removeprefix(PAGE) in anchors, f"{url}: no such heading in docs/operations.md"


def test_every_alert_ends_in_a_threshold_that_leaves_a_signal_to_evaluate() -> None:
    for rule in alert_rules():
        signal = signal_of(rule["expr"])
        assert re.search(r"\b(seqflow_[a-z_]+|up)\b", signal), rule["alert"]


def test_the_alerts_cover_what_an_operator_must_be_woken_for() -> None:
    metrics = " ".join(rule["expr"] for rule in alert_rules())
    for name in ("up", "seqflow_ready", "seqflow_consumer_lag", "seqflow_due_lateness_seconds_bucket",
                 "seqflow_dlq_total", "seqflow_sequences_quarantined", "seqflow_sends_total",
                 "seqflow_ledger_pending_oldest_seconds", "seqflow_scheduler_last_tick_timestamp_seconds"):  # fmt: skip
        assert re.search(rf"\b{name}\b", metrics), name
    assert {'status="failed"', 'status="bounced"'} <= set(re.findall(r'status="\w+"', metrics))


def test_compose_mounts_the_rules_where_the_prometheus_config_looks_for_them() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
    mounts = [str(v).split(":")[:2] for v in compose["services"]["prometheus"]["volumes"]]
    config = yaml.safe_load((ROOT / "deploy" / "prometheus.yml").read_text(encoding="utf-8"))
    assert ["./deploy/prometheus", "/etc/prometheus/prometheus"] in mounts
    assert config["rule_files"] == [str(ALERTS.relative_to(ROOT / "deploy"))]  # resolved beside the config file
