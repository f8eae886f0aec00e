"""Builds the scheduler's faust app from Settings: consumers, the ticker, the database."""

from __future__ import annotations

from prometheus_client import CollectorRegistry

import seqflow.messaging.catalog  # noqa: F401 - registers every message type with the codec
from seqflow.clock import make_clock
from seqflow.service import SeqflowApp, build_app
from seqflow.settings import Settings
from seqflow_scheduler import erasure, load
from seqflow_scheduler.agents import register_agents
from seqflow_scheduler.db import SchedulerDb


def create_app(settings: Settings, registry: CollectorRegistry | None = None) -> SeqflowApp:
    app = build_app("scheduler", settings, registry or CollectorRegistry())
    app.use_database(settings.database_url)
    load.configure(settings.scheduler_slice)
    register_agents(app, SchedulerDb(settings.schema_name("scheduler")), make_clock(settings.clock))
    erasure.register(app)
    return app
