"""Test helpers for watching a running `Stack` from outside: its database, due-sends topic and SMS stub."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg

from seqflow.messaging.topics import Topics
from seqflow.rules.simulate import Scenario, run
from seqflow.stack import Stack
from support.api import Api, eventually, make_user
from support.kafka import Collector

Send = tuple[datetime, str, str]


async def scheduler_caught_up(conn: asyncpg.Connection, prefix: str, now: datetime) -> bool:
    """The sequence exists, nothing is due at `now` (no open round either), and the inbox and outbox are empty."""
    s = f"{prefix}scheduler"
    row = await conn.fetchrow(
        f"SELECT (SELECT count(*) FROM {s}.sequences) AS seqs, (SELECT count(*) FROM {s}.sequences WHERE"
        f" (wake_at IS NOT NULL AND wake_at <= $1) OR round_to IS NOT NULL) AS due,"
        f" (SELECT count(*) FROM {s}.inbox) AS inbox, (SELECT count(*) FROM {s}.outbox) AS outbox",
        now,
    )  # fmt: skip
    return bool(row["seqs"] == 1 and row["due"] == 0 and row["inbox"] == 0 and row["outbox"] == 0)


async def ledger(conn: asyncpg.Connection, prefix: str) -> list[asyncpg.Record]:
    """The dispatcher's ledger: one row a send, with its idempotency key, channel, address and status."""
    return list(await conn.fetch(f"SELECT idempotency_key, channel, address, status FROM {prefix}dispatcher.ledger"))


def simulated_sends(template: dict[str, Any], activation: dict[str, Any], contacts: list[dict[str, Any]],
                    activated_at: datetime, until: datetime) -> list[Send]:  # fmt: skip
    """(at, contact, channel) of every send the engine grants up to `until`, by the simulator, sorted."""
    sc = Scenario.model_validate({"template": template, "activation": activation, "activated_at": activated_at,
                                  "contacts": contacts, "until": until})  # fmt: skip
    actions, _ = run(sc)
    channel = {"email_sent": "email", "sms_sent": "sms"}
    return sorted((a.at, a.contact, channel[a.action]) for a in actions if a.action in channel)


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


async def activate_once_copied(http: aiohttp.ClientSession, stack: Stack, conn: asyncpg.Connection,
                               template: dict[str, Any], activation: dict[str, Any],
                               contacts: list[dict[str, Any]]) -> None:  # fmt: skip
    """Alice creates the template and a rollup of `contacts`, and activates the sequence once the scheduler's
    read copy holds every member: otherwise the members whose events arrive after the activation enter in a
    later tick of the same instant (a limiter has then given that instant's slots to the others: every send
    still keeps the limit, but not in contact order)."""
    admin = Api(http, stack.api)
    alice = await make_user(admin, "alice")
    made = await alice.ok("POST", "/templates", template)
    rollup = await alice.ok("POST", "/rollups", {"name": "People"})
    await alice.ok("POST", f"/rollups/{rollup['id']}/members", {"contacts": contacts})
    members = f"SELECT count(*) FROM {stack.schema_prefix}scheduler.members WHERE present"
    n = len(contacts)
    await eventually(lambda: conn.fetchval(members), lambda k: k == n, f"{n} members in the scheduler's read copy")
    await alice.ok("POST", "/sequences", {**activation, "template_id": made["id"], "rollup_id": rollup["id"]})


def clocked_stack(tmp_path: Path, pg_dsn: str, clock_file: Path, **more: Any) -> Stack:
    """A stack of its own: its own broker, schemas (dropped after) and the file clock; `more`: replicas, env."""
    return Stack(tmp_path / "stack", database_url=pg_dsn, schema_prefix=f"e{uuid.uuid4().hex[:8]}_",
                 clock=f"file:{clock_file}", tick_seconds=0.1, drop_schemas_on_close=True, **more)  # fmt: skip
