"""Produce envelopes from agents and handlers, awaiting broker acks in batches."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any

import faust

from seqflow.messaging.codec import encode
from seqflow.messaging.envelope import Envelope
from seqflow.metrics import ServiceMetrics


class Publisher:
    """`send` only enqueues into the producer buffer; `flush` awaits every pending ack.

    Per-message `await` of the ack costs a broker round trip each (ARCHITECTURE: a naive agent did
    ~1k events/s), so agents send a batch and flush once before committing their input.
    """

    def __init__(self, app: faust.App, metrics: ServiceMetrics) -> None:
        self.app = app
        self.metrics = metrics
        self._pending: list[Awaitable[Any]] = []

    async def send(self, topic: str, env: Envelope) -> None:
        await self.send_raw(topic, env.key.encode("utf-8"), encode(env))

    async def send_raw(
        self, topic: str, key: bytes | None, value: bytes, headers: list[tuple[str, bytes]] | None = None
    ) -> None:
        # Straight to the producer: faust's Topic.send wraps every message in futures, sensors and callbacks
        # that cost more than the send itself at thousands of messages a second (issue 7's profile).
        producer = await self.app.maybe_start_producer()
        self._pending.append(await producer.send(topic, key, value, None, None, headers))
        self.metrics.events_produced.labels(topic).inc()

    async def flush(self) -> None:
        pending, self._pending = self._pending, []
        if pending:
            await asyncio.gather(*pending)

    async def send_all(self, topic: str, envs: list[Envelope]) -> None:
        for env in envs:
            await self.send(topic, env)
        await self.flush()
