"""The Grafana provisioning and dashboard: the datasource, the provider, and queries of metrics seqflow exports
(checked without a Grafana; see test_deploy_files.py)."""

from __future__ import annotations

import json
import re

from support.deploy import (
    COUNTERS_AND_GAUGES,
    DASHBOARD,
    GRAFANA_DATASOURCE,
    GRAFANA_PROVIDER,
    HISTOGRAMS,
    KNOWN_METRICS,
    METRIC_NAME,
    dashboard_exprs,
    load_yaml,
)

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
