"""Prometheus metrics every service shares, built on an injected registry."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class ServiceMetrics:
    """Counters and histograms common to all services; labels are topic/handler names only."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.events_consumed = Counter(
            "seqflow_events_consumed_total", "Messages consumed", ["topic"], registry=registry
        )
        self.events_produced = Counter(
            "seqflow_events_produced_total", "Messages produced", ["topic"], registry=registry
        )
        self.handler_seconds = Histogram(
            "seqflow_handler_seconds",
            "Handler latency in seconds",
            ["handler"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.dlq = Counter("seqflow_dlq_total", "Messages dead-lettered", ["topic"], registry=registry)
        self.consumer_lag = Gauge(
            "seqflow_consumer_lag", "Messages on the broker not yet fetched, summed over assigned partitions",
            ["topic"], registry=registry,
        )  # fmt: skip
        # 1 while /ready answers 200: an alert can tell "up but not ready" from "down"
        self.ready = Gauge("seqflow_ready", "1 when the service reports ready, else 0", registry=registry)


def render(registry: CollectorRegistry) -> bytes:
    """The registry in the Prometheus text exposition format."""
    return generate_latest(registry)
