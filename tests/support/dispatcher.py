"""A dispatcher running in-process on this test's broker, schemas, clock and local SMTP server."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aiosmtpd.controller import Controller

from seqflow.clock import FileClock
from seqflow.service import SeqflowApp
from seqflow.settings import Settings
from seqflow_dispatcher.app import create_app
from support.services import service_env, started


@asynccontextmanager
async def running_dispatcher(
    broker: str, topic_prefix: str, pg_dsn: str, schema_prefix: str, tmp_path: Path, file_clock: FileClock,
    smtp: tuple[Controller, list[EmailMessage]],
) -> AsyncIterator[SeqflowApp]:  # fmt: skip
    """Started and ready (its consumer group joined), stopped on the way out."""
    env = service_env(broker, topic_prefix, pg_dsn, schema_prefix, tmp_path, file_clock,
                      SEQFLOW_SMTP_HOST=smtp[0].hostname, SEQFLOW_SMTP_PORT=str(smtp[0].port))  # fmt: skip
    async with started(create_app(Settings.from_env("dispatcher", env)), wait_ready=True) as app:
        yield app


def dispatcher_fixture() -> Any:
    """A `dispatcher` fixture for a test module: `dispatcher = dispatcher_fixture()`."""

    @pytest.fixture
    async def dispatcher(
        broker: str, topic_prefix: str, pg_dsn: str, schema_prefix: str, tmp_path: Path, file_clock: FileClock,
        smtp: tuple[Controller, list[EmailMessage]],
    ) -> AsyncIterator[SeqflowApp]:  # fmt: skip
        async with running_dispatcher(broker, topic_prefix, pg_dsn, schema_prefix, tmp_path, file_clock, smtp) as app:
            yield app

    return dispatcher


async def ledger(pg_dsn: str, schema_prefix: str) -> list[asyncpg.Record]:
    """Every row of the dispatcher's send ledger (address and status)."""
    conn = await asyncpg.connect(pg_dsn)
    try:
        return list(await conn.fetch(f'SELECT address, status FROM "{schema_prefix}dispatcher".ledger'))
    finally:
        await conn.close()
