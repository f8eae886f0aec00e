"""Thin consumers: decode a batch, apply it in one transaction, dead-letter poison.

At-least-once: a batch agent commits a batch's offsets when the body asks for the next batch. So the body
asks only once the batch is recorded: poison is dead-lettered, a database that is away is waited for rather
than skipped, and a stop waits for the batch in hand.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections.abc import AsyncIterator, Coroutine, Sequence
from functools import partial
from typing import Any

import asyncpg
from aiokafka import ConsumerRecord

from seqflow.messaging.batches import Records, batch_agent, by_topic
from seqflow.messaging.codec import PoisonMessage
from seqflow.messaging.dlq import apply_isolating, dead_letter, decode_typed_or_dead_letter
from seqflow.service import SeqflowApp
from seqflow_tasks.db import Store
from seqflow_tasks.handlers import Decoded, apply_batch, consumed_here
from seqflow_tasks.readmodel import Batch

log = logging.getLogger(__name__)

# Up to BATCH_SIZE events, or what came within BATCH_WITHIN seconds, is one transaction: the cost of a batch
# (its round trips, its statements) is shared by more events, at a read-model delay of at most BATCH_WITHIN.
BATCH_SIZE = 2000
BATCH_WITHIN = 0.25
# The database being away or busy: wait for it. Any other error is the batch's content (a value PostgreSQL
# refuses, a payload a handler cannot apply): find the event that causes it and dead-letter it.
TRANSIENT_ERRORS = (
    OSError, asyncio.TimeoutError, asyncpg.InterfaceError, asyncpg.PostgresConnectionError,
    asyncpg.OperatorInterventionError, asyncpg.TransactionRollbackError, asyncpg.InsufficientResourcesError,
)  # fmt: skip
RETRY_SECONDS = (0.1, 0.5, 1.0, 2.0, 5.0)

Item = tuple[ConsumerRecord, Decoded]


def register_agents(app: SeqflowApp, store: Store) -> None:
    names = app.topic_names
    topics = (names.due_tasks, names.enrollment_changes, names.dispatch_results, names.rollup_membership,
              names.engagement_events)  # fmt: skip

    @batch_agent(app, topics, "tasks-read-models", BATCH_SIZE, BATCH_WITHIN)
    async def consume(batches: AsyncIterator[Records]) -> None:
        """One consumer for every topic; a batch's topics are recorded side by side (a transaction each)."""
        async for records in batches:
            await finished(gather_topics(app, store, records))


async def gather_topics(app: SeqflowApp, store: Store, records: Records) -> None:
    await asyncio.gather(*(process_batch(app, store, topic, some) for topic, some in by_topic(records).items()))


async def finished(work: Coroutine[Any, Any, None]) -> None:
    """Run `work` to its end even if the agent is cancelled meanwhile (a stop that ran out of patience): the
    batch must not be left half recorded."""
    task = asyncio.ensure_future(work)
    try:
        await asyncio.shield(task)
    except asyncio.CancelledError:
        await task
        raise


async def process_batch(app: SeqflowApp, store: Store, topic: str, events: Sequence[ConsumerRecord]) -> None:
    app.metrics.events_consumed.labels(topic).inc(len(events))
    items = [item for event in events if (item := await _decode(app, topic, event)) is not None]
    if not items:
        return
    started = time.perf_counter()
    await apply_isolating(items, partial(_apply_waiting, app, store), partial(_park, app, topic))
    elapsed = time.perf_counter() - started
    for kind in {env.type for _, (env, _) in items}:
        app.metrics.handler_seconds.labels(kind).observe(elapsed)


async def _decode(app: SeqflowApp, topic: str, event: ConsumerRecord) -> Item | None:
    found = await decode_typed_or_dead_letter(app.publisher, topic, event.key, event.value)
    if found is None:
        return None
    try:
        consumed_here(*found)
        return event, found
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
        except TRANSIENT_ERRORS as exc:
            delay = RETRY_SECONDS[min(attempt, len(RETRY_SECONDS) - 1)]
            log.warning("read-model batch failed; retrying", extra={"error": repr(exc), "retry_in": delay})
            await asyncio.sleep(delay)
    return None


async def _park(app: SeqflowApp, topic: str, item: Item, exc: Exception) -> None:
    record = item[0]
    reason = f"refused by the database: {exc}" if isinstance(exc, asyncpg.PostgresError) else repr(exc)
    await dead_letter(app.publisher, topic, record.key, record.value, reason)
