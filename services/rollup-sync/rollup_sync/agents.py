"""The rollup.commands agent: decode a batch, apply each command, publish membership events, flush."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from faust.types import EventT

from rollup_sync.db import RollupStore
from rollup_sync.handlers import handle_command
from seqflow.clock import Clock
from seqflow.messaging.codec import PoisonMessage
from seqflow.messaging.dlq import dead_letter, decode_or_dead_letter
from seqflow.messaging.envelope import Envelope
from seqflow.service import SeqflowApp

log = logging.getLogger(__name__)

BATCH_SIZE = 200
BATCH_WITHIN = 0.2  # seconds to wait for a batch to fill


def register_agents(app: SeqflowApp, store: RollupStore, clock: Clock) -> None:
    topic = app.topic_names.rollup_commands

    @app.agent(app.topic(topic, key_serializer="raw", value_serializer="raw"), name="rollup-commands")
    async def rollup_commands(stream: Any) -> None:
        async for events in stream.take_events(BATCH_SIZE, within=BATCH_WITHIN):
            await process_batch(app, store, clock, events)


async def process_batch(app: SeqflowApp, store: RollupStore, clock: Clock, events: Sequence[EventT]) -> None:
    """Apply each command in order; publish what they emit and await the acks before the offsets commit."""
    out: list[Envelope] = []
    for event in events:
        out.extend(await process_one(app, store, clock, event))
    await app.publisher.send_all(app.topic_names.rollup_membership, out)


async def process_one(app: SeqflowApp, store: RollupStore, clock: Clock, event: EventT) -> list[Envelope]:
    topic = app.topic_names.rollup_commands
    app.metrics.events_consumed.labels(topic).inc()
    env = await decode_or_dead_letter(app.publisher, topic, event.key, event.value)
    if env is None:
        return []
    assert app.pool is not None  # opened in on_first_start, before agents run
    with app.metrics.handler_seconds.labels("rollup_command").time():
        try:
            async with app.pool.acquire() as conn:
                return await handle_command(store, conn, env, clock.now())
        except PoisonMessage as exc:
            await dead_letter(app.publisher, topic, event.key, event.value, exc.reason)
            return []
