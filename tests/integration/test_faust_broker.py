"""A service app built by `build_app` on a real Tansu broker: its batch agents consume and dead-letter, it
serves its views, and it has no faust consumer (a faust agent is refused)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiokafka import AIOKafkaConsumer
from prometheus_client import CollectorRegistry
from support.api import eventually
from support.kafka import produce_raw, wait_for

from seqflow.devstack import free_port
from seqflow.messaging.batches import Records, batch_agent
from seqflow.messaging.codec import encode
from seqflow.messaging.dlq import REASON_HEADER, decode_or_dead_letter
from seqflow.messaging.envelope import Envelope
from seqflow.service import SeqflowApp, build_app
from seqflow.settings import Settings


@pytest.fixture
async def app(broker: str, topic_prefix: str, tmp_path: Path) -> AsyncIterator[SeqflowApp]:
    env = {"SEQFLOW_KAFKA_BOOTSTRAP": broker, "SEQFLOW_TOPIC_PREFIX": topic_prefix}
    settings = Settings.from_env("probe", {**env, "SEQFLOW_WEB_PORT": str(free_port())})
    settings = settings.model_copy(update={"datadir": str(tmp_path)})
    yield build_app("probe", settings, CollectorRegistry())


def echo_agent(app: SeqflowApp, topic: str, received: list[Envelope]) -> None:
    @batch_agent(app, topic, "echo", size=100, within=0.05)
    async def consume(batches: AsyncIterator[Records]) -> None:
        async for records in batches:
            for event in records:
                env = await decode_or_dead_letter(app.publisher, topic, event.key, event.value)
                if env is not None:
                    received.append(env)


async def read_one(bootstrap: str, topic: str) -> Any:
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest")
    await consumer.start()
    try:
        return await asyncio.wait_for(consumer.getone(), 30)
    finally:
        await consumer.stop()


async def get(app: SeqflowApp, path: str) -> tuple[int, str]:
    url = f"http://127.0.0.1:{app.settings.web_port}{path}"
    async with aiohttp.ClientSession() as session, session.get(url) as resp:
        return resp.status, await resp.text()


def envelope(n: int) -> Envelope:
    return Envelope(type="test.ping", key="seq1:c1", occurred_at=datetime.now(UTC), payload={"n": n})


async def test_an_agent_consumes_what_a_producer_sent_and_dead_letters_poison(broker: str, app: SeqflowApp) -> None:
    topic = app.topic_names.name("probe.in")
    received: list[Envelope] = []
    echo_agent(app, topic, received)
    await app.start()
    try:
        values = [encode(envelope(1)), b"not an envelope", encode(envelope(2))]
        await produce_raw(broker, topic, [(b"seq1:c1", value) for value in values])
        await wait_for(lambda: len(received) == 2)
        dead = await read_one(broker, f"{topic}.dlq")
    finally:
        await app.stop()
    assert [e.payload["n"] for e in received] == [1, 2]
    assert dead.value == b"not an envelope"
    assert dict(dead.headers)[REASON_HEADER].startswith(b"invalid envelope")


async def test_the_app_serves_health_readiness_and_metrics(broker: str, app: SeqflowApp) -> None:
    echo_agent(app, app.topic_names.name("probe.in"), [])
    await app.start()
    try:
        await wait_for(lambda: app.is_ready)
        health, ready, metrics = (
            await get(app, "/health"),
            await get(app, "/ready"),
            await get(app, "/metrics"),
        )
    finally:
        await app.stop()
    assert (health[0], ready[0], metrics[0]) == (200, 200, 200)
    assert "seqflow_events_produced_total" in metrics[1]


async def test_the_metrics_show_the_consumer_lag_of_each_consumed_topic(broker: str, app: SeqflowApp) -> None:
    topic = app.topic_names.name("probe.lag")
    received: list[Envelope] = []
    echo_agent(app, topic, received)
    await app.start()
    try:
        await produce_raw(broker, topic, [(b"seq1:c1", encode(envelope(n))) for n in range(3)])
        await wait_for(lambda: len(received) == 3)
        line = f'seqflow_consumer_lag{{topic="{topic}"}} 0.0'
        text = await eventually(lambda: get(app, "/metrics"), lambda r: line in r[1], "the lag gauge", 30)
    finally:
        await app.stop()
    assert line in text[1]


async def test_a_faust_agent_is_refused_as_nothing_would_run_it(app: SeqflowApp) -> None:
    with pytest.raises(TypeError, match="batch_agent"):
        app.agent(app.topic(app.topic_names.name("probe.faust")))
