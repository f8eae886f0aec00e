"""Thin consumers: decode (poison → DLQ), apply one intake handler in a transaction; and the ticker."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from functools import partial
from itertools import groupby
from typing import Any

import asyncpg

from seqflow.clock import Clock
from seqflow.messaging.batches import Records, batch_agent, by_topic
from seqflow.messaging.codec import PoisonMessage, decode_payload
from seqflow.messaging.dlq import apply_isolating, dead_letter, decode_or_dead_letter
from seqflow.messaging.envelope import Envelope
from seqflow.messaging.publisher import Message
from seqflow.service import SeqflowApp
from seqflow_scheduler.db import SchedulerDb
from seqflow_scheduler.intake import BATCH_HANDLERS, HANDLERS
from seqflow_scheduler.metrics import SchedulerMetrics
from seqflow_scheduler.quarantine import TRANSIENT
from seqflow_scheduler.tick import tick_one

log = logging.getLogger("seqflow.scheduler")

CONSUMED = ("rollup_membership", "sequence_lifecycle", "engagement_events", "tasks_outcomes", "dispatch_results")
OUTBOX_BATCH = 500
BATCH_SIZE = 500  # consumed events applied in one transaction
BATCH_WITHIN = 0.05  # seconds a batch waits to fill
RETRIES = 5  # of a handler that lost a deadlock against a tick
OUTBOX_PARTS_AT_ONCE = 4  # of OUTBOX_PARTS: leaves partitions for the other replicas


def register_agents(app: SeqflowApp, db: SchedulerDb, clock: Clock) -> None:
    topics = [getattr(app.topic_names, attr) for attr in CONSUMED]

    @batch_agent(app, topics, "scheduler-intake", BATCH_SIZE, BATCH_WITHIN)
    async def consume(batches: AsyncIterator[Records]) -> None:
        """One consumer for every topic; a batch's topics are applied side by side (a transaction each), as
        the topics are independent streams: order holds per key within a topic."""
        async for records in batches:
            await asyncio.gather(*(handle_batch(app, db, topic, [(r.key, r.value) for r in some])
                                   for topic, some in by_topic(records).items()))  # fmt: skip

    metrics = SchedulerMetrics(app.registry)

    @app.timer(interval=app.settings.tick_seconds)
    async def ticker() -> None:
        try:
            await run_ticks(app, db, clock, metrics)
        except Exception:  # noqa: BLE001 - e.g. the database is away: the next tick tries again
            log.exception("tick failed")


@dataclass(frozen=True)
class Item:
    """A decoded event of a consumed batch, with its raw bytes (for the dead-letter topic)."""

    key: bytes | None
    value: bytes | None
    env: Envelope
    payload: Any


Raw = list[tuple[bytes | None, bytes | None]]


async def handle_batch(app: SeqflowApp, db: SchedulerDb, topic: str, raw: Raw) -> None:
    """Decode a consumed batch (poison → DLQ) and apply it in one transaction, in order; the offsets commit
    when this returns."""
    items = []
    for key, value in raw:
        app.metrics.events_consumed.labels(topic).inc()
        env = await decode_or_dead_letter(app.publisher, topic, key, value)
        if env is None or env.type not in HANDLERS:
            continue  # poison (parked), or another consumer's message type on a shared topic
        try:
            items.append(Item(key, value, env, decode_payload(env)))
        except PoisonMessage as exc:
            await dead_letter(app.publisher, topic, key, value or b"", exc.reason)
    if items:
        started = time.perf_counter()
        await apply_isolating(items, partial(apply, app, db), partial(park, app, topic), transient=TRANSIENT)
        elapsed = time.perf_counter() - started
        for kind in {i.env.type for i in items}:
            app.metrics.handler_seconds.labels(kind).observe(elapsed)


async def park(app: SeqflowApp, topic: str, item: Item, exc: Exception) -> None:
    reason = exc.reason if isinstance(exc, PoisonMessage) else f"{type(exc).__name__}: {exc}"
    await dead_letter(app.publisher, topic, item.key, item.value or b"", reason)


async def apply(app: SeqflowApp, db: SchedulerDb, items: Sequence[Item]) -> None:
    """Run the handlers in one transaction, consecutive events of a batched type together; a deadlock or
    serialization failure (a concurrent tick) is retried."""
    assert app.pool is not None
    for attempt in range(RETRIES):
        try:
            async with app.pool.acquire() as conn, conn.transaction():
                for kind, run in groupby(items, key=lambda i: i.env.type):
                    pairs = [(i.env, i.payload) for i in run]
                    if kind in BATCH_HANDLERS:
                        await BATCH_HANDLERS[kind](conn, db, pairs)
                    else:
                        for env, payload in pairs:
                            await HANDLERS[kind](conn, db, env, payload)
            return
        except asyncpg.TransactionRollbackError:
            if attempt == RETRIES - 1:
                raise
            await asyncio.sleep(0.05 * (attempt + 1))


async def run_ticks(app: SeqflowApp, db: SchedulerDb, clock: Clock, metrics: SchedulerMetrics | None = None) -> int:
    """Advance every sequence with due work to now, then publish the outbox. Returns sequences run."""
    if app.pool is None:
        return 0
    now, done = clock.now(), 0
    async with app.pool.acquire() as conn:
        await db.wake_for_inbox(conn)
        while True:
            async with conn.transaction():  # lanes of open rounds and whole sequences take turns
                result = await tick_one(conn, db, app.topic_names, app.settings.sms_from, now, done % 2 == 0)
            if result is None:
                break
            done += 1
            if metrics is not None:
                metrics.observe(result, now)
            await drain_outbox(app, db, conn)
        await drain_outbox(app, db, conn)
        if metrics is not None:
            metrics.quarantined.set(await db.quarantined_count(conn))
            metrics.last_tick.set(time.time())
    return done


async def drain_outbox(app: SeqflowApp, db: SchedulerDb, conn: Any) -> None:
    """Publish the outbox, a few partitions at a time: replicas drain different partitions at once, and
    one partition is drained by one replica at a time in id order, so one key's messages keep their order."""
    while True:
        async with conn.transaction():
            parts = await db.lock_outbox_parts(conn, OUTBOX_PARTS_AT_ONCE)
            if not parts:
                return
            rows = await db.take_outbox(conn, parts, OUTBOX_BATCH)
            by_topic: dict[str, list[Message]] = defaultdict(list)  # one call a topic: aiokafka waits for a
            for r in rows:  # partition's batch in flight before it queues the next one for that partition
                by_topic[r["topic"]].append((r["key"].encode(), bytes(r["value"])))
            for topic, messages in by_topic.items():
                await app.publisher.send_many(topic, messages)
            await app.publisher.flush()
        if not rows:
            return
