"""Test helpers for running one service in-process on this test's broker, PostgreSQL and file clock."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from seqflow.clock import FileClock
from seqflow.devstack import free_port
from seqflow.service import SeqflowApp
from support.kafka import wait_for

REJECTED = "gone@example.org"  # the local SMTP server refuses this address (550)


def service_env(broker: str, topic_prefix: str, pg_dsn: str, schema_prefix: str, datadir: Path, clock: FileClock,
                **extra: str) -> dict[str, str]:  # fmt: skip
    """The `SEQFLOW_*` environment of an in-process service: this test's broker, topic and schema
    prefixes, data dir and file clock, and a free web port; `extra` adds variables (`SEQFLOW_…="…"`)."""
    return {
        "SEQFLOW_KAFKA_BOOTSTRAP": broker,
        "SEQFLOW_DATABASE_URL": pg_dsn,
        "SEQFLOW_SCHEMA_PREFIX": schema_prefix,
        "SEQFLOW_TOPIC_PREFIX": topic_prefix,
        "SEQFLOW_WEB_PORT": str(free_port()),
        "SEQFLOW_DATADIR": str(datadir),
        "SEQFLOW_CLOCK": f"file:{clock.path}",
        **extra,
    }


@asynccontextmanager
async def started(app: SeqflowApp, *, wait_ready: bool = False) -> AsyncIterator[SeqflowApp]:
    """Start `app` (and, with `wait_ready`, wait until it reports ready); stop it on the way out."""
    await app.start()
    try:
        if wait_ready:
            await wait_for(lambda: app.is_ready, what=f"{app.service_name} ready")
        yield app
    finally:
        await app.stop()
