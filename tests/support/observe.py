"""Test helpers for watching a running `Stack` from outside: its database, due-sends topic and SMS stub."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

import aiohttp
import asyncpg

from seqflow.messaging.topics import Topics
from seqflow.stack import Stack
from support.kafka import Collector

Send = tuple[datetime, str, str]


async def scheduler_caught_up(conn: asyncpg.Connection, prefix: str, now: datetime) -> bool:
    """The sequence exists, nothing is due at `now`, and the inbox and outbox are empty."""
    s = f"{prefix}scheduler"
    row = await conn.fetchrow(
        f"SELECT (SELECT count(*) FROM {s}.sequences) AS seqs,"
        f" (SELECT count(*) FROM {s}.sequences WHERE wake_at IS NOT NULL AND wake_at <= $1) AS due,"
        f" (SELECT count(*) FROM {s}.inbox) AS inbox, (SELECT count(*) FROM {s}.outbox) AS outbox",
        now,
    )  # fmt: skip
    return bool(row["seqs"] == 1 and row["due"] == 0 and row["inbox"] == 0 and row["outbox"] == 0)


async def ledger(conn: asyncpg.Connection, prefix: str) -> list[asyncpg.Record]:
    """The dispatcher's ledger: one row a send, with its idempotency key, channel, address and status."""
    return list(await conn.fetch(f"SELECT idempotency_key, channel, address, status FROM {prefix}dispatcher.ledger"))


def published(sends: Collector) -> list[Send]:
    """(at, contact, channel) of every `send_requested` on the due-sends topic, sorted."""
    return sorted((datetime.fromisoformat(e.payload["at"]), e.payload["contact_id"], e.payload["channel"])
                  for e in sends.of("send_requested"))  # fmt: skip


async def sms_received(http: aiohttp.ClientSession, stack: Stack) -> list[dict[str, Any]]:
    """Every message the SMS provider stub has accepted."""
    async with http.get(f"{stack.sms_url}/_stub/messages") as r:
        data = await r.json()
    return list(data if isinstance(data, list) else data.get("messages", []))


@asynccontextmanager
async def watching(stack: Stack) -> AsyncIterator[tuple[aiohttp.ClientSession, asyncpg.Connection, Collector]]:
    """Once the stack is ready: an HTTP session, a database connection and a collector of its due sends."""
    await stack.wait_ready()
    assert stack.broker is not None
    sends = await Collector(stack.broker.bootstrap, Topics(stack.topic_prefix).due_sends).start()
    conn = await asyncpg.connect(stack.dsn)
    try:
        async with aiohttp.ClientSession() as http:
            yield http, conn, sends
    finally:
        await conn.close()
        await sends.stop()
