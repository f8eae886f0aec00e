"""Build the rollup-sync faust app: database, store, clock and the rollup.commands agent."""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from rollup_sync import erasure
from rollup_sync.agents import register_agents
from rollup_sync.db import RollupStore
from seqflow.clock import make_clock
from seqflow.messaging import catalog  # noqa: F401 - registers every message type with the codec
from seqflow.service import SeqflowApp, build_app
from seqflow.settings import Settings

SERVICE = "rollup-sync"


def create_app(settings: Settings, registry: CollectorRegistry | None = None) -> SeqflowApp:
    app = build_app(SERVICE, settings, registry or CollectorRegistry())
    app.use_database(settings.database_url)
    store = RollupStore(settings.schema_name("rollup_sync"))
    register_agents(app, store, make_clock(settings.clock))
    erasure.register(app)
    return app
