"""Batch agents and batched producing on a real Tansu broker: order per key, commits after the batch, stops."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from prometheus_client import CollectorRegistry
from support.kafka import produce_raw, wait_for

from seqflow.devstack import free_port
from seqflow.messaging.batches import Records, batch_agent, by_topic
from seqflow.service import SeqflowApp, build_app
from seqflow.settings import Settings


def make_app(broker: str, topic_prefix: str, datadir: Path) -> SeqflowApp:
    env = {"SEQFLOW_KAFKA_BOOTSTRAP": broker, "SEQFLOW_TOPIC_PREFIX": topic_prefix}
    settings = Settings.from_env("probe", {**env, "SEQFLOW_WEB_PORT": str(free_port())})
    return build_app("probe", settings.model_copy(update={"datadir": str(datadir)}), CollectorRegistry())


@pytest.fixture
def new_app(broker: str, topic_prefix: str, tmp_path: Path) -> Callable[[], SeqflowApp]:
    """Apps of one service (the same consumer groups), as replicas or restarts of it."""
    return lambda: make_app(broker, topic_prefix, tmp_path)


def recording_agent(
    app: SeqflowApp,
    topic: str | list[str],
    seen: list[list[bytes]],
    gate: asyncio.Event | None = None,
    arrived: list[int] | None = None,
    topics: list[dict[str, Records]] | None = None,
) -> None:
    @batch_agent(app, topic, "probe-recorder", size=100, within=0.05)
    async def record(batches: AsyncIterator[Records]) -> None:
        async for records in batches:
            if arrived is not None:
                arrived.append(len(records))
            if gate is not None:
                await gate.wait()
            seen.append([r.value for r in records])
            if topics is not None:
                topics.append(by_topic(records))


async def group_members(broker: str, group: str) -> list[str]:
    admin = AIOKafkaAdminClient(bootstrap_servers=broker)
    await admin.start()
    try:
        (described,) = (await admin.describe_consumer_groups([group]))[0].groups
        return [member[0] for member in described[5]]  # (member_id, client_id, ...)
    finally:
        await admin.close()


async def read_all(broker: str, topic: str, n: int) -> list[tuple[int, bytes, bytes]]:
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=broker, auto_offset_reset="earliest")
    await consumer.start()
    try:
        out: list[tuple[int, bytes, bytes]] = []
        while len(out) < n:
            got = await asyncio.wait_for(consumer.getmany(timeout_ms=1000), 30)
            out += [(r.partition, r.key, r.value) for recs in got.values() for r in recs]
        return out
    finally:
        await consumer.stop()


async def test_send_many_keeps_each_keys_order_on_the_partition_a_plain_send_would_choose(
    broker: str, new_app: Callable[[], SeqflowApp]
) -> None:
    app = new_app()
    batched, plain = app.topic_names.name("probe.many"), app.topic_names.name("probe.plain")
    keys = [f"seq1:c{i}".encode() for i in range(40)]
    messages = [(k, f"{k.decode()}#{n}".encode()) for n in range(25) for k in keys]  # 1,000, keys interleaved
    await app.start()
    try:
        for topic in (batched, plain):
            await app.topic(topic).maybe_declare()
        await app.publisher.send_many(batched, messages)
        await app.publisher.flush()
    finally:
        await app.stop()
    producer = AIOKafkaProducer(bootstrap_servers=broker)
    await producer.start()
    try:
        expected = {k: (await producer.send_and_wait(plain, b"", key=k)).partition for k in keys}
    finally:
        await producer.stop()
    got = await read_all(broker, batched, len(messages))
    assert len(got) == len(messages)
    assert all(partition == expected[key] for partition, key, _ in got)
    for k in keys:
        assert [v for _, key, v in got if key == k] == [f"{k.decode()}#{n}".encode() for n in range(25)]


async def test_a_batch_agent_commits_a_batch_once_its_body_is_done_and_a_restart_resumes_after_it(
    broker: str, new_app: Callable[[], SeqflowApp], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="seqflow.consumed")
    first, seen = new_app(), []  # type: ignore[var-annotated]
    topic = first.topic_names.name("probe.batches")
    recording_agent(first, topic, seen)
    await first.start()
    try:
        await wait_for(lambda: first.is_ready, what="joined")
        await produce_raw(broker, topic, [(b"k", b"a%d" % i) for i in range(10)])
        await wait_for(lambda: sum(map(len, seen)) == 10, what="first ten")
    finally:
        await first.stop()
    assert sorted(v for batch in seen for v in batch) == sorted(b"a%d" % i for i in range(10))
    # It left its group (Tansu's first generation is 0): a restart's join does not wait for its session to expire.
    assert await group_members(broker, f"{first.conf.id}.probe-recorder") == []
    lines = [r for r in caplog.records if r.name == "seqflow.consumed" and getattr(r, "topic", None) == topic]
    assert sum(r.args[0] for r in lines) == 10  # type: ignore[index]  # one INFO line a batch, with its size

    await produce_raw(broker, topic, [(b"k", b"b%d" % i) for i in range(5)])
    again, seen_again = new_app(), []  # type: ignore[var-annotated]
    recording_agent(again, topic, seen_again)
    await again.start()
    try:
        await wait_for(lambda: sum(map(len, seen_again)) == 5, what="the five sent while it was down")
    finally:
        await again.stop()
    assert [v for batch in seen_again for v in batch] == [b"b%d" % i for i in range(5)]  # none of the committed


async def test_one_batch_agent_reads_several_topics_with_one_consumer_and_keeps_each_keys_order(
    broker: str, new_app: Callable[[], SeqflowApp]
) -> None:
    app, seen, split = new_app(), [], []  # type: ignore[var-annotated]
    first, second = app.topic_names.name("probe.multi.a"), app.topic_names.name("probe.multi.b")
    recording_agent(app, [first, second], seen, topics=split)
    await app.start()
    try:
        await wait_for(lambda: app.is_ready, what="joined")
        assert len(app.batch_agents) == 1 and app.batch_agents[0].consumer is not None
        assert {tp.topic for tp in app.batch_agents[0].consumer.assignment()} == {first, second}
        await produce_raw(broker, first, [(b"k%d" % (i % 3), b"a%d" % i) for i in range(12)])
        await produce_raw(broker, second, [(b"k%d" % (i % 3), b"b%d" % i) for i in range(9)])
        await wait_for(lambda: sum(map(len, seen)) == 21, what="both topics' records")
    finally:
        await app.stop()
    for topic, prefix, n in ((first, b"a", 12), (second, b"b", 9)):
        got = [r for batch in split for r in batch.get(topic, [])]
        assert all(r.topic == topic for r in got)
        for k in range(3):  # one key's records in the order sent
            assert [r.value for r in got if r.key == b"k%d" % k] == [prefix + b"%d" % i for i in range(k, n, 3)]


async def test_a_stop_waits_for_the_batch_in_hand_and_commits_it(
    broker: str, new_app: Callable[[], SeqflowApp]
) -> None:
    app, seen, gate, arrived = new_app(), [], asyncio.Event(), []  # type: ignore[var-annotated]
    topic = app.topic_names.name("probe.stop")
    await produce_raw(broker, topic, [(b"k", b"x%d" % i) for i in range(3)])
    recording_agent(app, topic, seen, gate, arrived)
    await app.start()
    await wait_for(lambda: arrived, what="a batch in the body")
    stopping = asyncio.ensure_future(app.stop())
    await wait_for(lambda: app.batch_agents[0].stopping, what="the stop began")
    await asyncio.sleep(0)
    assert not stopping.done() and not seen  # the stop waits for the body's batch
    gate.set()
    await asyncio.wait_for(stopping, 60)
    assert seen and [v for batch in seen for v in batch] == [b"x%d" % i for i in range(len(seen[0]))]

    again, seen_again = new_app(), []  # type: ignore[var-annotated]
    recording_agent(again, topic, seen_again)
    await produce_raw(broker, topic, [(b"k", b"after")])
    await again.start()
    try:
        await wait_for(lambda: seen_again and seen_again[-1][-1] == b"after", what="the message after the stop")
    finally:
        await again.stop()
    everything = [v for batch in seen + seen_again for v in batch]
    assert everything == [b"x0", b"x1", b"x2", b"after"]  # the batch in hand was committed: none twice, none lost
