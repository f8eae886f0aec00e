"""Chaos: replicas SIGKILLed at random while a rate-limited email → SMS sequence runs on the system clock.

Two schedulers and two dispatchers, one tasks and one rollup-sync. For about a minute a random replica of a
random service is killed every few seconds and started again shortly after. Afterwards every contact got
each message exactly once, no (t − per, t] interval of arrival times at the local SMTP and SMS servers
holds more than `count`, the overview's counts equal the ledger's, no ledger row is pending and every
dead-letter topic is empty. The seed is printed; `SEQFLOW_CHAOS_SEED=<seed>` replays a run's kill plan.
"""

from __future__ import annotations

import asyncio
import os
import random
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from support.api import Api, eventually, make_user
from support.observe import sms_received, watching

from seqflow.messaging.topics import DLQ_SUFFIX
from seqflow.rules.ratelimit import window_violations
from seqflow.stack import Stack

N = 100
COUNT, PER = 10, 4  # per channel: 10 sends in every 4 s → about 40 s of sending without any kill
CHAOS_SECONDS = 60.0
KILL_EVERY = (3.0, 6.0)  # seconds between kills
DOWN_FOR = (0.5, 2.5)  # seconds a killed replica stays down
REPLICAS = {"scheduler": 2, "dispatcher": 2, "tasks": 1, "rollup-sync": 1}
TEMPLATE: dict[str, Any] = {
    "name": "Chaos", "owner": "alice", "branches": [{"key": "main", "steps": [
        {"key": "intro", "type": "auto_email",
         "email": {"from_alias": "alice@agency.example", "subject": "Hi {{first_name}}", "body": "Hello"}},
        {"key": "bump", "type": "auto_sms", "sms": {"body": "Hi {{first_name}}"}}]}],
}  # fmt: skip
CONTACTS = [
    {"id": f"c{i:03d}", "first_name": f"N{i:03d}", "email": f"n{i:03d}@x.example", "phone": f"+1555{i:07d}"}
    for i in range(N)
]  # fmt: skip


@pytest.fixture
def seed() -> int:
    value = int(os.environ.get("SEQFLOW_CHAOS_SEED") or random.SystemRandom().randrange(2**32))
    print(f"chaos seed {value} (replay: SEQFLOW_CHAOS_SEED={value})")
    return value


@pytest.fixture
def stack(tmp_path: Path, pg_dsn: str) -> Iterator[Stack]:
    with Stack(tmp_path / "stack", database_url=pg_dsn, schema_prefix=f"e{uuid.uuid4().hex[:8]}_", clock="system",
               tick_seconds=0.2, replicas=REPLICAS, drop_schemas_on_close=True) as s:  # fmt: skip
        yield s


async def activate(http: aiohttp.ClientSession, stack: Stack, conn: asyncpg.Connection) -> str:
    alice = await make_user(Api(http, stack.api), "alice")
    template = await alice.ok("POST", "/templates", TEMPLATE)
    rollup = await alice.ok("POST", "/rollups", {"name": "Chaos people"})
    await alice.ok("POST", f"/rollups/{rollup['id']}/members", {"contacts": CONTACTS})
    members = f"SELECT count(*) FROM {stack.schema_prefix}scheduler.members WHERE present"
    await eventually(lambda: conn.fetchval(members), lambda n: n == N, "every member in the scheduler's copy")
    limits = {"email": {"count": COUNT, "per": f"PT{PER}S"}, "sms": {"count": COUNT, "per": f"PT{PER}S"}}
    activation = {"name": "Chaos run", "begin": datetime.now(UTC).date().isoformat(), "timezone": "UTC",
                  "primary_user": "alice", "rate_limits": limits}  # fmt: skip
    seq = await alice.ok("POST", "/sequences", {**activation, "template_id": template["id"], "rollup_id": rollup["id"]})
    return str(seq["id"])


async def wreak_havoc(stack: Stack, rng: random.Random) -> list[str]:
    """Kill a random replica every few seconds for CHAOS_SECONDS and start it again shortly after."""
    victims = [(name, i) for name, n in REPLICAS.items() for i in range(n)]
    killed: list[str] = []
    end = time.monotonic() + CHAOS_SECONDS
    while time.monotonic() < end:
        await asyncio.sleep(rng.uniform(*KILL_EVERY))  # the kill plan's rhythm, not a wait for a condition
        name, index = rng.choice(victims)
        stack.kill(name, index)
        killed.append(f"{name}-{index}")
        await asyncio.sleep(rng.uniform(*DOWN_FOR))
        stack.restart(name, index)
    return killed


async def ledger_rows(conn: asyncpg.Connection, prefix: str) -> list[asyncpg.Record]:
    return list(await conn.fetch(f"SELECT channel, status FROM {prefix}dispatcher.ledger"))


async def overview(http: aiohttp.ClientSession, stack: Stack, seq_id: str) -> dict[str, Any]:
    _, body = await Api(http, stack.api).request("GET", "/overview")
    found = [s for s in (body or {}).get("sequences", []) if s["id"] == seq_id] if isinstance(body, dict) else []
    return found[0] if found else {}


async def dead_letters(bootstrap: str, prefix: str) -> dict[str, int]:
    """Messages held by each of this stack's dead-letter topics (every one that exists)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    await consumer.start()
    try:
        names = [t for t in await consumer.topics() if t.startswith(prefix) and t.endswith(DLQ_SUFFIX)]
        held: dict[str, int] = {}
        for name in names:
            tps = [TopicPartition(name, p) for p in consumer.partitions_for_topic(name) or set()]
            ends = await consumer.end_offsets(tps) if tps else {}
            held[name] = sum(ends.values())
        return held
    finally:
        await consumer.stop()


async def explain(conn: asyncpg.Connection, prefix: str, channel: str, t: datetime, got: list[Any]) -> str:
    """The arrivals of a window over the limit and the ledger's provider calls around it, to debug a failure."""
    since = t - timedelta(seconds=PER)
    inside = sorted(m["received_at"] for m in got if since.timestamp() < m["received_at"] <= t.timestamp())
    sql = (f"SELECT idempotency_key, claims, call_started_at, call_ended_at, request->'limit' AS lim"
           f" FROM {prefix}dispatcher.ledger WHERE channel = $1 AND call_started_at BETWEEN $2 AND $3"
           " ORDER BY call_started_at")  # fmt: skip
    rows = await conn.fetch(sql, channel, since - timedelta(seconds=PER), t)
    calls = "\n".join(f"{r['idempotency_key']} claims={r['claims']} {r['call_started_at']:%T.%f}"
                      f" → {r['call_ended_at'] and format(r['call_ended_at'], '%T.%f')} limit={r['lim']}" for r in rows)
    return f"{channel}: {len(inside)} arrivals in ({since:%T.%f}, {t:%T.%f}]: {inside}\ncalls:\n{calls}"


def arrivals(times: list[float]) -> list[datetime]:
    return [datetime.fromtimestamp(t, UTC) for t in times]


def duplicates_dropped(stack: Stack) -> int:
    log = stack.workdir / "logs" / "smtp.log"
    return log.read_text(errors="replace").count("duplicate Message-ID") if log.exists() else 0


async def test_random_sigkills_lose_and_double_nothing_and_the_limit_holds_at_the_providers(
    stack: Stack, seed: int
) -> None:
    rng = random.Random(seed)
    prefix = stack.schema_prefix
    async with watching(stack) as (http, conn, _sends):
        seq_id = await activate(http, stack, conn)
        killed = await wreak_havoc(stack, rng)
        print(f"killed: {', '.join(killed)}")
        await stack.wait_ready()

        rows = await eventually(lambda: ledger_rows(conn, prefix),
                                lambda rows: len(rows) == 2 * N and {r["status"] for r in rows} == {"sent"},
                                "every send recorded as sent", 60)  # fmt: skip
        mail = stack.sent_mail()
        sms = await sms_received(http, stack)
        print(f"{len(mail)} emails, {len(sms)} SMS; {duplicates_dropped(stack)} duplicate emails dropped by Message-ID")
        assert sorted(m["to"] for m in mail) == sorted(c["email"] for c in CONTACTS)  # each exactly once
        assert sorted(m["to"] for m in sms) == sorted(c["phone"] for c in CONTACTS)
        for channel, got in (("email", mail), ("sms", sms)):
            over = window_violations(arrivals([m["received_at"] for m in got]), COUNT, PER)
            assert over == [], await explain(conn, prefix, channel, over[0], got)

        in_ledger = {"emails_sent": [r["channel"] for r in rows].count("email"),
                     "sms_sent": [r["channel"] for r in rows].count("sms"), "completed": N}  # fmt: skip
        await eventually(lambda: overview(http, stack, seq_id), lambda o: {k: o.get(k) for k in in_ledger} == in_ledger,
                         "the overview's counts equal the ledger's", 30)  # fmt: skip
        assert await conn.fetchval(f"SELECT count(*) FROM {prefix}dispatcher.ledger WHERE status = 'pending'") == 0
        assert stack.broker is not None
        held = await dead_letters(stack.broker.bootstrap, stack.topic_prefix)
        assert all(n == 0 for n in held.values()), held
