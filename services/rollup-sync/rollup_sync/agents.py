"""The rollup.commands agent: decode a batch, apply each command, publish membership events, flush."""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator, Sequence

from faust.types import EventT

from rollup_sync.db import RollupStore
from rollup_sync.handlers import handle_command
from seqflow.clock import Clock
from seqflow.messaging.batches import Records, batch_agent
from seqflow.messaging.codec import PoisonMessage
from seqflow.messaging.dlq import dead_letter, decode_or_dead_letter
from seqflow.messaging.envelope import Envelope
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


async def process_batch(app: SeqflowApp, store: RollupStore, clock: Clock, events: Sequence[EventT]) -> None:
    """Apply the batch's commands in order in one transaction; publish what they emit and await the acks
    before the offsets commit."""
    topic = app.topic_names.rollup_commands
    envs = first_of_each([(event, env) for event in events if (env := await decode_one(app, topic, event))])
    assert app.pool is not None  # opened in on_first_start, before agents run
    out: list[Envelope] = []
    poison: list[tuple[EventT, str]] = []
    with app.metrics.handler_seconds.labels("rollup_batch").time():
        async with app.pool.acquire() as conn, conn.transaction():
            now = clock.now()
            for event, env in envs:
                try:
                    out.extend(await handle_command(store, conn, env, now))
                except PoisonMessage as exc:
                    poison.append((event, exc.reason))
    for event, reason in poison:
        await dead_letter(app.publisher, topic, event.key, event.value, reason)
    await app.publisher.send_all(app.topic_names.rollup_membership, out)
    if out:
        async with app.pool.acquire() as conn:
            await store.clear_emitted(conn, [env.id for _, env in envs])


def first_of_each(envs: list[tuple[EventT, Envelope]]) -> list[tuple[EventT, Envelope]]:
    """A command repeated within the batch is applied (and its events emitted) once."""
    seen: set[uuid.UUID] = set()
    out = []
    for event, env in envs:
        if env.id not in seen:
            seen.add(env.id)
            out.append((event, env))
    return out


async def decode_one(app: SeqflowApp, topic: str, event: EventT) -> Envelope | None:
    app.metrics.events_consumed.labels(topic).inc()
    return await decode_or_dead_letter(app.publisher, topic, event.key, event.value)
