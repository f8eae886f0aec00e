"""The tasks service in-process on this test's broker and PostgreSQL, and a client for its HTTP API."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiokafka import AIOKafkaConsumer
from pydantic import BaseModel

from seqflow.clock import FileClock
from seqflow.devstack import free_port
from seqflow.messaging.envelope import Envelope
from seqflow.service import SeqflowApp
from seqflow.settings import Settings
from seqflow_tasks.app import create_app
from support.kafka import produce
from support.services import service_env, started

ADMIN = "admin-token-123"
NOW = datetime(2026, 12, 1, 14, 0, tzinfo=UTC)


async def wait_for(condition: Callable[[], Any], limit: float = 30.0) -> Any:
    deadline = time.monotonic() + limit
    while not (result := await condition()):
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)
    return result


@dataclass
class Api:
    app: SeqflowApp
    broker: str
    session: aiohttp.ClientSession

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.app.settings.web_port}"

    async def call(self, method: str, path: str, token: str = ADMIN, headers: dict[str, str] | None = None,
                   **kw: Any) -> tuple[int, Any]:  # fmt: skip
        headers = {**({"Authorization": f"Bearer {token}"} if token else {}), **(headers or {})}
        async with self.session.request(method, self.base + path, headers=headers, allow_redirects=False, **kw) as r:
            text = await r.text()
            try:
                return r.status, json.loads(text)
            except ValueError:
                return r.status, text

    def topic(self, base: str) -> str:
        return self.app.topic_names.name(base)

    async def produce(self, base: str, type_: str, key: str, payload: BaseModel) -> None:
        await produce(self.broker, self.topic(base), [(type_, key, payload, NOW)])

    async def published(self, base: str, type_: str, count: int = 1) -> list[Envelope]:
        consumer = AIOKafkaConsumer(self.topic(base), bootstrap_servers=self.broker, auto_offset_reset="earliest")
        await consumer.start()
        found: list[Envelope] = []
        try:
            while len(found) < count:
                msg = await asyncio.wait_for(consumer.getone(), 30)
                env = Envelope.model_validate_json(msg.value)
                found += [env] if env.type == type_ else []
        finally:
            await consumer.stop()
        return found


@asynccontextmanager
async def tasks_api(broker: str, pg_dsn: str, schema_prefix: str, topic_prefix: str, clock: FileClock,
                    datadir: Path, **extra: str) -> AsyncIterator[Api]:  # fmt: skip
    """The tasks service started with admin token `ADMIN` (plus `extra` SEQFLOW_* settings), ready to call."""
    env = service_env(broker, topic_prefix, pg_dsn, schema_prefix, datadir, clock, SEQFLOW_ADMIN_TOKEN=ADMIN, **extra)
    async with started(create_app(Settings.from_env("tasks", env))) as app, aiohttp.ClientSession() as session:
        client = Api(app, broker, session)

        async def admin_ready() -> bool:
            return app.is_ready and (await client.call("GET", "/users/me"))[0] == 200

        await wait_for(admin_ready)
        yield client


async def add_user(api: Api, uid: str, perms: list[str]) -> str:
    """Create a user as the admin; returns the token the server generated for them."""
    body = {"id": uid, "name": uid.title(), "email": f"{uid}@agency.example", "permissions": perms}
    status, created = await api.call("POST", "/users", json=body)
    assert status == 201, created
    return str(created["token"])


@pytest.fixture
async def api(
    broker: str, pg_dsn: str, schema_prefix: str, topic_prefix: str, file_clock: FileClock, tmp_path: Path
) -> AsyncIterator[Api]:
    """The tasks service for one test (import this fixture into a test module or conftest)."""
    async with tasks_api(broker, pg_dsn, schema_prefix, topic_prefix, file_clock, tmp_path) as client:
        yield client


SMS_TOKEN = "sms-webhook-test-token"  # noqa: S105 - the local stub's credential


@pytest.fixture
async def public_api(
    broker: str, pg_dsn: str, schema_prefix: str, topic_prefix: str, file_clock: FileClock, tmp_path: Path
) -> AsyncIterator[Api]:
    """The tasks service on a port known in advance, so its public URL (which Twilio signs) is known, with
    `SMS_TOKEN` as the SMS auth token."""
    port = free_port()
    extra = {"SEQFLOW_WEB_PORT": str(port), "SEQFLOW_PUBLIC_URL": f"http://127.0.0.1:{port}/",
             "SEQFLOW_SMS_AUTH_TOKEN": SMS_TOKEN}  # fmt: skip
    async with tasks_api(broker, pg_dsn, schema_prefix, topic_prefix, file_clock, tmp_path, **extra) as client:
        yield client
