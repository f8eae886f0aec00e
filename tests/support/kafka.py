"""Test helpers for talking to the real broker: produce envelopes, collect what a topic carries."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord
from pydantic import BaseModel

from seqflow.messaging.codec import decode, encode
from seqflow.messaging.envelope import Envelope


async def wait_for(condition: Callable[[], Any], limit: float = 30.0, what: str = "condition") -> Any:
    """Poll `condition` until it is truthy; fail after `limit` seconds. Never a fixed sleep."""
    deadline = time.monotonic() + limit
    while not (result := condition()):
        assert time.monotonic() < deadline, f"{what} not met within {limit}s"
        await asyncio.sleep(0.05)
    return result


async def produce(bootstrap: str, topic: str, items: list[tuple[str, str, BaseModel, datetime]]) -> None:
    """Send (type, key, payload, occurred_at) envelopes in order."""
    records = [(key.encode(), encode(Envelope.wrap(type_, key, payload, at))) for type_, key, payload, at in items]
    await produce_raw(bootstrap, topic, records)


async def produce_raw(bootstrap: str, topic: str, records: list[tuple[bytes, bytes]]) -> None:
    """Send (key, value) records as they are, in order: poison messages, hand-built envelopes."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        for key, value in records:
            await producer.send_and_wait(topic, value, key=key)
    finally:
        await producer.stop()


class Collector:
    """Reads one topic from the beginning in the background.

    Keeps every raw record in `messages` and, unless `raw` (a topic that may carry what is not an
    envelope, such as a dead-letter topic), every decoded envelope in `items`.
    """

    def __init__(self, bootstrap: str, topic: str, *, raw: bool = False) -> None:
        self.bootstrap, self.topic, self.raw = bootstrap, topic, raw
        self.items: list[Envelope] = []
        self.messages: list[ConsumerRecord[bytes, bytes]] = []
        self._task: asyncio.Task[None] | None = None
        self._consumer: AIOKafkaConsumer | None = None

    async def start(self) -> Collector:
        self._consumer = AIOKafkaConsumer(self.topic, bootstrap_servers=self.bootstrap,
                                          auto_offset_reset="earliest", metadata_max_age_ms=1000)  # fmt: skip
        await self._consumer.start()
        self._task = asyncio.create_task(self._run())
        return self

    async def _run(self) -> None:
        assert self._consumer is not None
        async for msg in self._consumer:
            self.messages.append(msg)
            if not self.raw:
                self.items.append(decode(msg.value))

    def of(self, type_: str, **match: Any) -> list[Envelope]:
        return [e for e in self.items if e.type == type_ and all(e.payload.get(k) == v for k, v in match.items())]

    @property
    def payloads(self) -> list[dict[str, Any]]:
        return [e.payload for e in self.items]

    async def __aenter__(self) -> Collector:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._consumer:
            await self._consumer.stop()
