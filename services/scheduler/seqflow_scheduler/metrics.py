"""The scheduler's own Prometheus metrics (no ids as labels), fed from the engine's actions."""

from __future__ import annotations

from datetime import datetime

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from seqflow_scheduler.running import TickResult

LATENESS_BUCKETS = (0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 900, 3600)
DUE_WORK = frozenset({"email_sent", "sms_sent", "task_due", "send_failed"})


class SchedulerMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.rate_limit_waits = Counter(
            "seqflow_rate_limit_waits_total", "Times the rate limiter held sends back", ["channel"], registry=registry
        )
        self.window_deferrals = Counter(
            "seqflow_window_deferrals_total", "Steps whose due time was held to the send window", registry=registry
        )
        self.due_lateness = Histogram(
            "seqflow_due_lateness_seconds", "How long after its due instant due work was emitted",
            buckets=LATENESS_BUCKETS, registry=registry,
        )  # fmt: skip
        self.actions = Counter("seqflow_engine_actions_total", "Engine actions by kind", ["action"], registry=registry)
        self.ticks = Counter("seqflow_sequence_ticks_total", "Sequences advanced by a tick", registry=registry)
        self.rounds = Counter(
            "seqflow_round_work_total", "What this replica did of rounds that share a big sequence between "
            "replicas: round_opened, lane (a slice of a lane), round_closed", ["kind"], registry=registry,
        )  # fmt: skip
        self.quarantined = Gauge(
            "seqflow_sequences_quarantined", "Sequences set aside (state error) because they failed to tick",
            registry=registry,
        )  # fmt: skip
        self.last_tick = Gauge(
            "seqflow_scheduler_last_tick_timestamp_seconds", "Unix time at which the last tick loop finished",
            registry=registry,
        )  # fmt: skip

    def observe(self, result: TickResult, now: datetime) -> None:
        if result.kind != "sequence":
            self.rounds.labels(result.kind).inc()
        if result.kind in ("sequence", "lane"):
            self.ticks.inc()
        for a in result.actions:
            self.actions.labels(a.action).inc()
            if a.action == "rate_limited":
                self.rate_limit_waits.labels(a.detail.get("channel", "")).inc()
            elif a.action == "deferred":
                self.window_deferrals.inc()
            elif a.action in DUE_WORK:
                self.due_lateness.observe(max(0.0, (now - a.at).total_seconds()))
