"""The rollup.commands agent: decode a batch, apply its commands, publish membership events, flush."""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator, Sequence

from aiokafka import ConsumerRecord

from rollup_sync.db import RollupStore
from rollup_sync.handlers import Command, handle_batch
from seqflow.clock import Clock
from seqflow.messaging.batches import Records, batch_agent
from seqflow.messaging.dlq import dead_letter, decode_typed_or_dead_letter
from seqflow.service import SeqflowApp

log = logging.getLogger(__name__)

BATCH_SIZE = 200
BATCH_WITHIN = 0.2  # seconds to wait for a batch to fill


def register_agents(app: SeqflowApp, store: RollupStore, clock: Clock) -> None:
    topic = app.topic_names.rollup_commands

    @batch_agent(app, topic, "rollup-commands", BATCH_SIZE, BATCH_WITHIN)
    async def rollup_commands(batches: AsyncIterator[Records]) -> None:
        async for records in batches:
            await process_batch(app, store, clock, records)


async def process_batch(app: SeqflowApp, store: RollupStore, clock: Clock, events: Sequence[ConsumerRecord]) -> None:
    """Apply the batch's commands in order in one transaction (`handle_batch`: a handful of set statements);
    publish what they emit and await the acks before the offsets commit."""
    topic = app.topic_names.rollup_commands
    decoded = first_of_each([(event, found) for event in events if (found := await decode_one(app, topic, event))])
    assert app.pool is not None  # opened in on_first_start, before agents run
    with app.metrics.handler_seconds.labels("rollup_batch").time():
        async with app.pool.acquire() as conn, conn.transaction():
            out, poison = await handle_batch(store, conn, [command for _, command in decoded], clock.now())
    for i, reason in poison.items():
        await dead_letter(app.publisher, topic, decoded[i][0].key, decoded[i][0].value, reason)
    await app.publisher.send_all(app.topic_names.rollup_membership, out)
    if out:
        async with app.pool.acquire() as conn:
            await store.clear_emitted(conn, [env.id for _, (env, _) in decoded])


def first_of_each(decoded: list[tuple[ConsumerRecord, Command]]) -> list[tuple[ConsumerRecord, Command]]:
    """A command repeated within the batch is applied (and its events emitted) once."""
    seen: set[uuid.UUID] = set()
    out = []
    for event, command in decoded:
        if command[0].id not in seen:
            seen.add(command[0].id)
            out.append((event, command))
    return out


async def decode_one(app: SeqflowApp, topic: str, event: ConsumerRecord) -> Command | None:
    """The envelope and its payload model (one pass over the JSON), or None once dead-lettered."""
    app.metrics.events_consumed.labels(topic).inc()
    return await decode_typed_or_dead_letter(app.publisher, topic, event.key, event.value)
