"""Thin consumers: decode a batch, apply it in one transaction, dead-letter poison.

At-least-once: faust acks a `take_events` batch only after this code returns from it, so offsets are
committed after the batch's transaction. That is why `process_batch` returns only once the batch is
recorded: poison is dead-lettered, and a database that is away is waited for rather than skipped.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections.abc import Sequence
from typing import Any

import asyncpg
from faust.types import EventT

from seqflow.messaging.codec import PoisonMessage
from seqflow.messaging.dlq import dead_letter, decode_or_dead_letter
from seqflow.service import SeqflowApp
from seqflow_tasks.db import Store
from seqflow_tasks.handlers import Decoded, apply_batch, decoded
from seqflow_tasks.readmodel import Batch

log = logging.getLogger(__name__)

BATCH_SIZE = 500
BATCH_WITHIN = 0.1  # seconds to wait for a batch to fill
# An event the database refuses for what it holds; any other error is the database being away: wait for it.
POISON_ERRORS = (asyncpg.DataError, asyncpg.IntegrityConstraintViolationError)
RETRY_SECONDS = (0.1, 0.5, 1.0, 2.0, 5.0)

Item = tuple[EventT, Decoded]


def register_agents(app: SeqflowApp, store: Store) -> None:
    names = app.topic_names
    for topic in (
        names.due_tasks,
        names.enrollment_changes,
        names.dispatch_results,
        names.rollup_membership,
        names.engagement_events,
    ):
        _consumer(app, store, topic)


def _consumer(app: SeqflowApp, store: Store, topic: str) -> None:
    channel = app.topic(topic, key_serializer="raw", value_serializer="raw")

    async def consume(stream: Any) -> None:
        async for events in stream.take_events(BATCH_SIZE, within=BATCH_WITHIN):
            await process_batch(app, store, topic, events)

    app.agent(channel, name=f"tasks-{topic}")(consume)


async def process_batch(app: SeqflowApp, store: Store, topic: str, events: Sequence[EventT]) -> None:
    items = [item for event in events if (item := await _decode(app, topic, event)) is not None]
    if not items:
        return
    started = time.perf_counter()
    await _apply_isolating(app, store, topic, items)
    elapsed = time.perf_counter() - started
    for kind in {env.type for _, (env, _) in items}:
        app.metrics.handler_seconds.labels(kind).observe(elapsed)


async def _decode(app: SeqflowApp, topic: str, event: EventT) -> Item | None:
    app.metrics.events_consumed.labels(topic).inc()
    env = await decode_or_dead_letter(app.publisher, topic, event.key, event.value)
    if env is None:
        return None
    try:
        return event, decoded(env)
    except PoisonMessage as exc:
        await dead_letter(app.publisher, topic, event.key, event.value, exc.reason)
        return None


async def _apply(app: SeqflowApp, store: Store, items: Sequence[Item]) -> None:
    assert app.pool is not None  # opened in on_first_start, before agents run
    async with app.pool.acquire() as conn, conn.transaction():
        await apply_batch(Batch(store), conn, [d for _, d in items])


async def _apply_waiting(app: SeqflowApp, store: Store, items: Sequence[Item]) -> None:
    """Apply the batch; while the database is unreachable, retry with backoff instead of moving on."""
    for attempt in itertools.count():
        try:
            return await _apply(app, store, items)
        except POISON_ERRORS:
            raise
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            delay = RETRY_SECONDS[min(attempt, len(RETRY_SECONDS) - 1)]
            log.warning("read-model batch failed; retrying", extra={"error": repr(exc), "retry_in": delay})
            await asyncio.sleep(delay)
    return None


async def _apply_isolating(app: SeqflowApp, store: Store, topic: str, items: Sequence[Item]) -> None:
    """Apply the batch; if the database refuses an event, halve the batch until that event stands alone and
    dead-letter it: the rest is still written in few transactions, in order."""
    try:
        await _apply_waiting(app, store, items)
    except POISON_ERRORS as exc:
        if len(items) == 1:
            event = items[0][0]
            await dead_letter(app.publisher, topic, event.key, event.value, f"refused by the database: {exc}")
            return
        half = len(items) // 2
        await _apply_isolating(app, store, topic, items[:half])
        await _apply_isolating(app, store, topic, items[half:])
