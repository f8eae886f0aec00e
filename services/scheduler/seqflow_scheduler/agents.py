"""Thin consumers: decode (poison → DLQ), apply one intake handler in a transaction; and the ticker."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import asyncpg

from seqflow.clock import Clock
from seqflow.messaging.codec import PoisonMessage, decode_payload
from seqflow.messaging.dlq import dead_letter, decode_or_dead_letter
from seqflow.service import SeqflowApp
from seqflow_scheduler.db import SchedulerDb
from seqflow_scheduler.intake import HANDLERS
from seqflow_scheduler.metrics import SchedulerMetrics
from seqflow_scheduler.quarantine import TRANSIENT
from seqflow_scheduler.tick import tick_one

log = logging.getLogger("seqflow.scheduler")

CONSUMED = ("rollup_membership", "sequence_lifecycle", "engagement_events", "tasks_outcomes", "dispatch_results")
OUTBOX_BATCH = 500
RETRIES = 5  # of a handler that lost a deadlock against a tick
OUTBOX_PARTS_AT_ONCE = 4  # of OUTBOX_PARTS: leaves partitions for the other replicas


def register_agents(app: SeqflowApp, db: SchedulerDb, clock: Clock) -> None:
    for attr in CONSUMED:
        _consumer(app, db, getattr(app.topic_names, attr))
    metrics = SchedulerMetrics(app.registry)

    @app.timer(interval=app.settings.tick_seconds)
    async def ticker() -> None:
        try:
            await run_ticks(app, db, clock, metrics)
        except Exception:  # noqa: BLE001 - e.g. the database is away: the next tick tries again
            log.exception("tick failed")


def _consumer(app: SeqflowApp, db: SchedulerDb, topic: str) -> None:
    channel = app.topic(topic, key_serializer="raw", value_serializer="raw")

    async def consume(stream: Any) -> None:
        async for event in stream.events():
            await handle(app, db, topic, event.key, event.value)

    consume.__name__ = f"consume_{topic.replace('.', '_').replace('-', '_')}"
    app.agent(channel, name=consume.__name__)(consume)


async def handle(app: SeqflowApp, db: SchedulerDb, topic: str, key: bytes | None, value: bytes | None) -> None:
    env = await decode_or_dead_letter(app.publisher, topic, key, value)
    if env is None:
        return
    handler = HANDLERS.get(env.type)
    app.metrics.events_consumed.labels(topic).inc()
    if handler is None:
        return  # another consumer's message type on a shared topic
    started = time.perf_counter()
    try:
        await apply(app, db, env, handler)
    except TRANSIENT:
        raise  # the database went away: the message is fine, the consumer must not skip it
    except Exception as exc:  # noqa: BLE001 - a message that fails for any reason is parked, the consumer goes on
        reason = exc.reason if isinstance(exc, PoisonMessage) else f"{type(exc).__name__}: {exc}"
        await dead_letter(app.publisher, topic, key, value or b"", reason)
        return
    finally:
        app.metrics.handler_seconds.labels(env.type).observe(time.perf_counter() - started)
    log.debug("applied", extra={"event_id": str(env.id), "enrollment": env.key})


async def apply(app: SeqflowApp, db: SchedulerDb, env: Any, handler: Any) -> None:
    """Run the handler in a transaction; a deadlock or serialization failure (a concurrent tick) is retried."""
    payload = decode_payload(env)
    assert app.pool is not None
    for attempt in range(RETRIES):
        try:
            async with app.pool.acquire() as conn, conn.transaction():
                await handler(conn, db, env, payload)
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
        while True:
            async with conn.transaction():
                result = await tick_one(conn, db, app.topic_names, app.settings.sms_from, now)
            if result is None:
                break
            done += 1
            if metrics is not None:
                metrics.observe(result.actions, now)
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
            for r in rows:
                await app.publisher.send_raw(r["topic"], r["key"].encode(), bytes(r["value"]))
            await app.publisher.flush()
        if not rows:
            return
