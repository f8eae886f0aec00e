"""Produce envelopes from agents and handlers, awaiting broker acks in batches."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Iterable
from functools import lru_cache
from typing import Any

import faust
from aiokafka.partitioner import murmur2

from seqflow.messaging.codec import encode
from seqflow.messaging.envelope import Envelope
from seqflow.metrics import ServiceMetrics

Message = tuple[bytes | None, bytes]  # key, value


@lru_cache(maxsize=1 << 16)
def partition_of(key: bytes, partitions: int) -> int:
    """The partition the Kafka clients' default partitioner gives a key (murmur2), so a key's messages sent
    by `send_many` and by a plain `send` land on the same partition; cached, as one enrollment's key comes
    back for each of its messages."""
    return (murmur2(key) & 0x7FFFFFFF) % partitions


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

    async def send_many(self, topic: str, messages: Iterable[Message]) -> None:
        """Enqueue messages as record batches, one per partition (in order), with one future per batch rather
        than per message: aiokafka's per-message `send` (its futures and partitioner) was a tenth of the
        scheduler's CPU. Keyless messages go to partition 0."""
        producer = (await self.app.maybe_start_producer())._ensure_producer()  # faust's wrapped aiokafka producer
        count = len(partitions := sorted(await producer.partitions_for(topic)))
        batches: dict[int, Any] = {}
        sent = 0
        for key, value in messages:
            partition = partitions[partition_of(key, count)] if key is not None else partitions[0]
            batch = batches.get(partition)
            if batch is None:
                batch = batches[partition] = producer.create_batch()
            if batch.append(key=key, value=value, timestamp=None) is None:  # full: send it, start the next
                self._pending.append(await producer.send_batch(batch, topic, partition=partition))
                batch = batches[partition] = producer.create_batch()
                batch.append(key=key, value=value, timestamp=None)
            sent += 1
        for partition, batch in batches.items():
            self._pending.append(await producer.send_batch(batch, topic, partition=partition))
        if sent:
            self.metrics.events_produced.labels(topic).inc(sent)

    async def flush(self) -> None:
        pending, self._pending = self._pending, []
        if pending:
            await asyncio.gather(*pending)

    async def send_all(self, topic: str, envs: list[Envelope]) -> None:
        await self.send_many(topic, [(env.key.encode("utf-8"), encode(env)) for env in envs])
        await self.flush()
