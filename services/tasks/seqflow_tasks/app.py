"""Build the tasks faust app: database, store, clock, the five consumers and the public HTTP API."""

from __future__ import annotations

import logging

from prometheus_client import CollectorRegistry

import seqflow_tasks.erasure
import seqflow_tasks.gauges
from seqflow.clock import make_clock
from seqflow.service import SeqflowApp, build_app
from seqflow.settings import Settings
from seqflow_tasks import openapi, web  # noqa: F401 - openapi registers /openapi.json and /docs
from seqflow_tasks.agents import register_agents
from seqflow_tasks.api import Deps, install
from seqflow_tasks.db_access import AccessStore
from seqflow_tasks.tokens import token_hash

SERVICE = "tasks"
log = logging.getLogger(__name__)


def create_app(settings: Settings, registry: CollectorRegistry | None = None) -> SeqflowApp:
    app = build_app(SERVICE, settings, registry or CollectorRegistry())
    seqflow_tasks.gauges.register_gauges(app, settings.schema_name("tasks"))
    seqflow_tasks.erasure.register(app)
    app.use_database(settings.database_url)
    store = AccessStore(settings.schema_name("tasks"))
    clock = make_clock(settings.clock)
    register_agents(app, store)
    install(app, Deps(app, store, clock))
    admin_hash = token_hash(settings.admin_token)
    if admin_hash is None:
        raise ValueError("SEQFLOW_ADMIN_TOKEN must be 1-512 printable ASCII characters")

    app.startup_pending.add("admin")

    @app.task
    async def bootstrap_admin() -> None:
        """The built-in admin user (id `admin`) carries the hash of `settings.admin_token` (so a token the
        admin rotated or revoked through the API comes back at the next start); /ready waits for it."""
        assert app.pool is not None
        async with app.pool.acquire() as c:
            await store.upsert_admin(c, admin_hash, clock.now())
        app.startup_pending.discard("admin")

    web.install(app, Deps(app, store, make_clock(settings.clock)))  # the web UI's pages, on the same app
    return app
