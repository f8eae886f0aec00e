"""The dispatcher's agents: due sends in batches → results; unsubscribes → suppression list."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import aiohttp
from faust.types import EventT

from seqflow.messaging.codec import PoisonMessage, decode_payload
from seqflow.messaging.dlq import dead_letter, decode_or_dead_letter
from seqflow.messaging.engagement import Unsubscribed
from seqflow.messaging.envelope import Envelope
from seqflow.messaging.work import SendRequested
from seqflow.service import SeqflowApp
from seqflow_dispatcher.db import DispatchStore
from seqflow_dispatcher.handlers import Deps, Wiring, dispatch_batch, on_unsubscribed

BATCH_SIZE = 100
BATCH_WITHIN = 0.1  # seconds to wait for a batch to fill
SMS_TIMEOUT = aiohttp.ClientTimeout(total=15)


def register_agents(app: SeqflowApp, wiring: Wiring) -> None:
    due_sends = app.topic_names.due_sends
    engagement = app.topic_names.engagement_events

    @app.agent(app.topic(due_sends, key_serializer="raw", value_serializer="raw"), name="due-sends")
    async def send_agent(stream: Any) -> None:
        async with aiohttp.ClientSession(timeout=SMS_TIMEOUT) as session:
            assert app.pool is not None  # opened in on_first_start, before agents run
            deps = wiring.deps(app.pool, session)
            async for events in stream.take_events(BATCH_SIZE, within=BATCH_WITHIN):
                await process_sends(app, deps, events)

    @app.agent(app.topic(engagement, key_serializer="raw", value_serializer="raw"), name="engagement")
    async def engagement_agent(stream: Any) -> None:
        async for events in stream.take_events(BATCH_SIZE, within=BATCH_WITHIN):
            for event in events:
                await process_engagement(app, wiring.store, event)


async def process_sends(app: SeqflowApp, deps: Deps, events: Sequence[EventT]) -> None:
    requests = [req for event in events if (req := await decode_request(app, event)) is not None]
    with app.metrics.handler_seconds.labels("send_batch").time():
        results = await dispatch_batch(deps, requests)
    now = deps.clock.now()
    envs = [Envelope.wrap("send_result", f"{r.sequence_id}:{r.contact_id}", r, now) for r in results]
    await app.publisher.send_all(app.topic_names.dispatch_results, envs)


async def decode_request(app: SeqflowApp, event: EventT) -> SendRequested | None:
    topic = app.topic_names.due_sends
    app.metrics.events_consumed.labels(topic).inc()
    env = await decode_or_dead_letter(app.publisher, topic, event.key, event.value)
    if env is None:
        return None
    try:
        payload = decode_payload(env)
        if not isinstance(payload, SendRequested):
            raise PoisonMessage(f"{env.type!r} is not a send request")
    except PoisonMessage as exc:
        await dead_letter(app.publisher, topic, event.key, event.value, exc.reason)
        return None
    return payload


async def process_engagement(app: SeqflowApp, store: DispatchStore, event: EventT) -> None:
    """Only `unsubscribed` concerns the dispatcher; other engagement types are skipped."""
    topic = app.topic_names.engagement_events
    app.metrics.events_consumed.labels(topic).inc()
    env = await decode_or_dead_letter(app.publisher, topic, event.key, event.value)
    if env is None or env.type != "unsubscribed":
        return
    try:
        payload = decode_payload(env)
    except PoisonMessage as exc:
        await dead_letter(app.publisher, topic, event.key, event.value, exc.reason)
        return
    assert isinstance(payload, Unsubscribed) and app.pool is not None
    with app.metrics.handler_seconds.labels("unsubscribed").time():
        await on_unsubscribed(app.pool, store, payload)
