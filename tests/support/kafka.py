"""Test helpers for talking to the real broker: produce envelopes, collect what a topic carries."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
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
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        for type_, key, payload, at in items:
            env = Envelope.wrap(type_, key, payload, at)
            await producer.send_and_wait(topic, encode(env), key=key.encode())
    finally:
        await producer.stop()


class Collector:
    """Reads one topic from the beginning in the background and keeps every decoded envelope."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        self.bootstrap, self.topic = bootstrap, topic
        self.items: list[Envelope] = []
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
            self.items.append(decode(msg.value))

    def of(self, type_: str, **match: Any) -> list[Envelope]:
        return [e for e in self.items if e.type == type_ and all(e.payload.get(k) == v for k, v in match.items())]

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
        if self._consumer:
            await self._consumer.stop()
