"""Thin consumers: decode a batch, apply each event with one handler, dead-letter poison."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from faust.types import EventT

from seqflow.messaging.codec import PoisonMessage
from seqflow.messaging.dlq import dead_letter, decode_or_dead_letter
from seqflow.service import SeqflowApp
from seqflow_tasks.db import Store
from seqflow_tasks.handlers import handle

log = logging.getLogger(__name__)

BATCH_SIZE = 200
BATCH_WITHIN = 0.1  # seconds to wait for a batch to fill


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
    for event in events:
        await process_one(app, store, topic, event)


async def process_one(app: SeqflowApp, store: Store, topic: str, event: EventT) -> None:
    app.metrics.events_consumed.labels(topic).inc()
    env = await decode_or_dead_letter(app.publisher, topic, event.key, event.value)
    if env is None:
        return
    assert app.pool is not None  # opened in on_first_start, before agents run
    with app.metrics.handler_seconds.labels(env.type).time():
        try:
            async with app.pool.acquire() as conn:
                await handle(store, conn, env)
        except PoisonMessage as exc:
            await dead_letter(app.publisher, topic, event.key, event.value, exc.reason)
