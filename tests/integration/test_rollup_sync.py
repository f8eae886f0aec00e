"""rollup-sync on a real broker and PostgreSQL: commands in, membership events out, poison dead-lettered."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from pydantic import BaseModel

from rollup_sync.app import create_app
from seqflow.clock import FileClock
from seqflow.devstack import free_port
from seqflow.messaging.base import ContactData
from seqflow.messaging.codec import decode, encode
from seqflow.messaging.dlq import REASON_HEADER
from seqflow.messaging.envelope import Envelope
from seqflow.messaging.rollup import AddMember, ContactUpserted, RemoveMember
from seqflow.service import SeqflowApp
from seqflow.settings import Settings

AT = datetime(2026, 12, 1, 14, 0, tzinfo=UTC)
ADA = ContactData(id="c-ada", first_name="Ada", email="ada@example.org")


async def wait_for(condition: Callable[[], bool], limit: float = 30.0) -> None:
    deadline = time.monotonic() + limit
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


class TopicReader:
    """Reads a topic from the beginning in the background, collecting (message, envelope-or-None)."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        self.consumer = AIOKafkaConsumer(
            topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", metadata_max_age_ms=300
        )
        self.messages: list[Any] = []
        self.task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self.consumer.start()
        self.task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        async for message in self.consumer:
            self.messages.append(message)

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task
        await self.consumer.stop()

    @property
    def envelopes(self) -> list[Envelope]:
        return [decode(m.value) for m in self.messages]


@pytest.fixture
async def app(
    broker: str, topic_prefix: str, pg_dsn: str, schema_prefix: str, tmp_path: Path, file_clock: FileClock
) -> AsyncIterator[SeqflowApp]:
    env = {
        "SEQFLOW_KAFKA_BOOTSTRAP": broker,
        "SEQFLOW_DATABASE_URL": pg_dsn,
        "SEQFLOW_SCHEMA_PREFIX": schema_prefix,
        "SEQFLOW_TOPIC_PREFIX": topic_prefix,
        "SEQFLOW_WEB_PORT": str(free_port()),
        "SEQFLOW_DATADIR": str(tmp_path),
        "SEQFLOW_CLOCK": f"file:{file_clock.path}",
    }
    app = create_app(Settings.from_env("rollup-sync", env))
    await app.start()
    try:
        yield app
    finally:
        await app.stop()


@pytest.fixture
async def membership(broker: str, app: SeqflowApp) -> AsyncIterator[TopicReader]:
    reader = TopicReader(broker, app.topic_names.rollup_membership)
    await reader.start()
    try:
        yield reader
    finally:
        await reader.stop()


async def send_commands(bootstrap: str, topic: str, commands: list[tuple[str, BaseModel]]) -> None:
    """Produce commands keyed by contact id, as the API does."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        for type_, payload in commands:
            env = Envelope.wrap(type_, ADA.id, payload, AT)
            await producer.send_and_wait(topic, encode(env), key=env.key.encode())
    finally:
        await producer.stop()


def upsert(contact: ContactData = ADA) -> tuple[str, BaseModel]:
    return "contact_upserted", ContactUpserted(contact=contact)


def add(rollup: str) -> tuple[str, BaseModel]:
    return "add_member", AddMember(rollup_id=rollup, contact_id=ADA.id, at=AT)


def remove(rollup: str) -> tuple[str, BaseModel]:
    return "remove_member", RemoveMember(rollup_id=rollup, contact_id=ADA.id, at=AT)


def summary(envs: list[Envelope]) -> list[tuple[str, str]]:
    return [(e.type, e.payload.get("rollup_id", "")) for e in envs]


async def test_an_added_member_is_announced_with_its_contact_keyed_by_contact_id(
    broker: str, app: SeqflowApp, membership: TopicReader
) -> None:
    await send_commands(broker, app.topic_names.rollup_commands, [upsert(), add("r1")])
    await wait_for(lambda: len(membership.messages) == 1)
    [event] = membership.envelopes
    assert (event.type, event.key, membership.messages[0].key) == ("member_added", ADA.id, b"c-ada")
    assert event.payload["rollup_id"] == "r1"
    assert ContactData.model_validate(event.payload["contact"]) == ADA


async def test_adding_an_existing_member_emits_nothing(broker: str, app: SeqflowApp, membership: TopicReader) -> None:
    # r2 is a sentinel: once its event is out, the duplicate before it has been handled.
    await send_commands(broker, app.topic_names.rollup_commands, [upsert(), add("r1"), add("r1"), add("r2")])
    await wait_for(lambda: len(membership.messages) >= 2)
    assert summary(membership.envelopes) == [("member_added", "r1"), ("member_added", "r2")]


async def test_removing_then_adding_again_emits_both(broker: str, app: SeqflowApp, membership: TopicReader) -> None:
    commands = [upsert(), add("r1"), remove("r2"), remove("r1"), add("r1")]
    await send_commands(broker, app.topic_names.rollup_commands, commands)
    await wait_for(lambda: len(membership.messages) >= 3)
    assert summary(membership.envelopes) == [
        ("member_added", "r1"),
        ("member_removed", "r1"),
        ("member_added", "r1"),
    ]
    assert membership.envelopes[1].payload["how"] == "member_removed"


async def test_an_upsert_that_changes_a_contact_emits_contact_changed_and_a_same_one_nothing(
    broker: str, app: SeqflowApp, membership: TopicReader
) -> None:
    renamed = ADA.model_copy(update={"last_name": "Lovelace"})
    commands = [upsert(), upsert(), add("r1"), upsert(renamed), upsert(renamed), add("r2")]
    await send_commands(broker, app.topic_names.rollup_commands, commands)
    await wait_for(lambda: len(membership.messages) >= 3)
    assert summary(membership.envelopes) == [
        ("member_added", "r1"),
        ("contact_changed", ""),
        ("member_added", "r2"),
    ]
    assert membership.envelopes[1].payload["contact"]["last_name"] == "Lovelace"


async def test_a_replayed_command_changes_nothing(broker: str, app: SeqflowApp, membership: TopicReader) -> None:
    add_env = Envelope.wrap("add_member", ADA.id, add("r1")[1], AT)
    remove_env = Envelope.wrap("remove_member", ADA.id, remove("r1")[1], AT)
    upsert_env = Envelope.wrap("contact_upserted", ADA.id, upsert()[1], AT)
    sentinel = Envelope.wrap("add_member", ADA.id, add("r2")[1], AT)
    await produce_envelopes(broker, app, [upsert_env, add_env, remove_env, add_env, sentinel])
    await wait_for(lambda: len(membership.messages) >= 3)
    assert summary(membership.envelopes) == [
        ("member_added", "r1"),
        ("member_removed", "r1"),
        ("member_added", "r2"),
    ]


async def test_poison_commands_go_to_the_dead_letter_topic_and_the_consumer_carries_on(
    broker: str, app: SeqflowApp, membership: TopicReader
) -> None:
    topic = app.topic_names.rollup_commands
    nobody = AddMember(rollup_id="r1", contact_id="c-nobody", at=AT)
    await produce_raw(broker, topic, [b"not an envelope", encode(Envelope.wrap("add_member", "c-x", nobody, AT))])
    await send_commands(broker, topic, [upsert(), add("r1")])
    dlq = TopicReader(broker, app.topic_names.dlq("rollup.commands"))
    await dlq.start()
    try:
        await wait_for(lambda: len(dlq.messages) == 2 and len(membership.messages) == 1)
        reasons = sorted(dict(m.headers)[REASON_HEADER].decode() for m in dlq.messages)
    finally:
        await dlq.stop()
    assert reasons[0].startswith("add_member: unknown contact 'c-nobody'")
    assert reasons[1].startswith("invalid envelope")
    assert summary(membership.envelopes) == [("member_added", "r1")]


async def produce_raw(broker: str, topic: str, values: list[bytes]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=broker)
    await producer.start()
    try:
        for value in values:
            await producer.send_and_wait(topic, value, key=b"c-x")
    finally:
        await producer.stop()


async def produce_envelopes(broker: str, app: SeqflowApp, envs: list[Envelope]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=broker)
    await producer.start()
    try:
        for env in envs:
            await producer.send_and_wait(app.topic_names.rollup_commands, encode(env), key=env.key.encode())
    finally:
        await producer.stop()
