"""Build the dispatcher faust app: database, ledger store, clock, sends metric and the two agents."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge

from seqflow.clock import make_clock
from seqflow.messaging import catalog  # noqa: F401 - registers every message type with the codec
from seqflow.service import SeqflowApp, build_app
from seqflow.settings import Settings
from seqflow_dispatcher import erasure
from seqflow_dispatcher.agents import register_agents
from seqflow_dispatcher.channels import RetryPolicy
from seqflow_dispatcher.db import DispatchStore
from seqflow_dispatcher.handlers import LIMITS_WAIT, Wiring

SERVICE = "dispatcher"
DEFAULT_RETRY = RetryPolicy()
# A claim lasts this long unless its dispatcher renews it (every fifth of it): a crashed dispatcher's sends
# are taken over within about this plus the sweep interval. Seconds, so a crash delays a send only briefly.
LEASE_SECONDS = 10.0


def create_app(
    settings: Settings,
    registry: CollectorRegistry | None = None,
    retry: RetryPolicy = DEFAULT_RETRY,
    lease_seconds: float = LEASE_SECONDS,
    limits_wait: float = LIMITS_WAIT,
) -> SeqflowApp:
    registry = registry or CollectorRegistry()
    app = build_app(SERVICE, settings, registry)
    app.use_database(settings.database_url)
    erasure.register(app)
    sends_total = Counter(
        "seqflow_sends_total", "Sends by channel and final status", ["channel", "status"], registry=registry
    )
    # the age of the oldest claimed-but-unfinished ledger row (0 when none): a stuck send pages someone
    oldest = Gauge("seqflow_ledger_pending_oldest_seconds", "Age of the oldest pending ledger row", registry=registry)
    store = DispatchStore(settings.schema_name("dispatcher"), lease_seconds=lease_seconds)
    register_agents(app, Wiring(settings, store, make_clock(settings.clock), sends_total, oldest, retry,
                                 limits_wait))
    return app
