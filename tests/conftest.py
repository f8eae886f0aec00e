"""Shared fixtures: a real Tansu broker, PostgreSQL, fresh topic/schema prefixes, a file clock."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from support.services import REJECTED

from seqflow.channels.smtp_stub import start_smtp_stub
from seqflow.clock import FileClock, set_file_clock
from seqflow.db.migrate import drop_schemas, ensure_database, migrate_all
from seqflow.devstack import resolve_database, start_broker

TEST_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/seqflow_test"


@pytest.fixture(scope="session")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Bootstrap address of a Tansu broker that lives for the whole session."""
    proc = start_broker(log=tmp_path_factory.mktemp("broker") / "broker.log")
    try:
        yield proc.bootstrap
    finally:
        proc.stop()


@pytest.fixture
def topic_prefix() -> str:
    return f"t{uuid.uuid4().hex[:8]}-"


@pytest.fixture(scope="session")
def pg_dsn(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A DSN for database `seqflow_test`, on 127.0.0.1:5432 or else an embedded server."""
    dsn = resolve_database(TEST_DATABASE_URL, tmp_path_factory.mktemp("pgdata"))
    if dsn != TEST_DATABASE_URL:
        dsn = dsn.rsplit("/", 1)[0] + "/seqflow_test"
    asyncio.run(ensure_database(dsn))
    return dsn


@pytest.fixture
async def schema_prefix(pg_dsn: str) -> AsyncIterator[str]:
    """A fresh schema prefix with every service's migrations applied; dropped after the test."""
    prefix = f"t{uuid.uuid4().hex[:8]}_"
    await migrate_all(pg_dsn, schema_prefix=prefix)
    try:
        yield prefix
    finally:
        await drop_schemas(pg_dsn, prefix)


@pytest.fixture
def file_clock(tmp_path: Path) -> FileClock:
    """A FileClock set to 2026-12-01T14:00:00Z; move it with `set_file_clock(clock.path, t)`."""
    path = tmp_path / "clock"
    set_file_clock(path, datetime(2026, 12, 1, 14, 0, tzinfo=UTC))
    return FileClock(path)


@pytest.fixture
def smtp() -> Iterator[tuple[Controller, list[EmailMessage]]]:
    """A local SMTP server recording what it receives; it answers 550 for `support.services.REJECTED`."""
    controller, messages = start_smtp_stub("127.0.0.1", 0, reject=[REJECTED])
    try:
        yield controller, messages
    finally:
        controller.stop()
