"""rollup-sync on a real broker and PostgreSQL: commands in, membership events out, poison dead-lettered."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import pytest
from pydantic import BaseModel
from support.api import eventually
from support.kafka import Collector, produce, produce_raw, wait_for
from support.services import service_env, started

from rollup_sync.app import create_app
from seqflow.clock import FileClock
from seqflow.messaging.base import ContactData
from seqflow.messaging.codec import encode
from seqflow.messaging.dlq import REASON_HEADER
from seqflow.messaging.envelope import Envelope
from seqflow.messaging.rollup import AddMember, ContactUpserted, MemberAdded, RemoveMember
from seqflow.service import SeqflowApp
from seqflow.settings import Settings

AT = datetime(2026, 12, 1, 14, 0, tzinfo=UTC)
ADA = ContactData(id="c-ada", first_name="Ada", email="ada@example.org")


@pytest.fixture
async def app(
    broker: str, topic_prefix: str, pg_dsn: str, schema_prefix: str, tmp_path: Path, file_clock: FileClock
) -> AsyncIterator[SeqflowApp]:
    env = service_env(broker, topic_prefix, pg_dsn, schema_prefix, tmp_path, file_clock)
    async with started(create_app(Settings.from_env("rollup-sync", env))) as app:
        yield app


@pytest.fixture
async def membership(broker: str, app: SeqflowApp) -> AsyncIterator[Collector]:
    async with Collector(broker, app.topic_names.rollup_membership) as reader:
        yield reader


async def send_commands(bootstrap: str, topic: str, commands: list[tuple[str, BaseModel]]) -> None:
    """Produce commands keyed by contact id, as the API does."""
    await produce(bootstrap, topic, [(type_, ADA.id, payload, AT) for type_, payload in commands])


def upsert(contact: ContactData = ADA) -> tuple[str, BaseModel]:
    return "contact_upserted", ContactUpserted(contact=contact)


def add(rollup: str) -> tuple[str, BaseModel]:
    return "add_member", AddMember(rollup_id=rollup, contact_id=ADA.id, at=AT)


def remove(rollup: str) -> tuple[str, BaseModel]:
    return "remove_member", RemoveMember(rollup_id=rollup, contact_id=ADA.id, at=AT)


def summary(envs: list[Envelope]) -> list[tuple[str, str]]:
    return [(e.type, e.payload.get("rollup_id", "")) for e in envs]


async def test_an_added_member_is_announced_with_its_contact_keyed_by_contact_id(
    broker: str, app: SeqflowApp, membership: Collector
) -> None:
    await send_commands(broker, app.topic_names.rollup_commands, [upsert(), add("r1")])
    await wait_for(lambda: len(membership.messages) == 1)
    [event] = membership.items
    assert (event.type, event.key, membership.messages[0].key) == ("member_added", ADA.id, b"c-ada")
    assert event.payload["rollup_id"] == "r1"
    assert ContactData.model_validate(event.payload["contact"]) == ADA


async def test_adding_an_existing_member_emits_nothing(broker: str, app: SeqflowApp, membership: Collector) -> None:
    # r2 is a sentinel: once its event is out, the duplicate before it has been handled.
    await send_commands(broker, app.topic_names.rollup_commands, [upsert(), add("r1"), add("r1"), add("r2")])
    await wait_for(lambda: len(membership.messages) >= 2)
    assert summary(membership.items) == [("member_added", "r1"), ("member_added", "r2")]


async def test_removing_then_adding_again_emits_both(broker: str, app: SeqflowApp, membership: Collector) -> None:
    commands = [upsert(), add("r1"), remove("r2"), remove("r1"), add("r1")]
    await send_commands(broker, app.topic_names.rollup_commands, commands)
    await wait_for(lambda: len(membership.messages) >= 3)
    assert summary(membership.items) == [
        ("member_added", "r1"),
        ("member_removed", "r1"),
        ("member_added", "r1"),
    ]
    assert membership.items[1].payload["how"] == "member_removed"


async def test_an_upsert_that_changes_a_contact_emits_contact_changed_and_a_same_one_nothing(
    broker: str, app: SeqflowApp, membership: Collector
) -> None:
    renamed = ADA.model_copy(update={"last_name": "Lovelace"})
    commands = [upsert(), upsert(), add("r1"), upsert(renamed), upsert(renamed), add("r2")]
    await send_commands(broker, app.topic_names.rollup_commands, commands)
    await wait_for(lambda: len(membership.messages) >= 3)
    assert summary(membership.items) == [
        ("member_added", "r1"),
        ("contact_changed", ""),
        ("member_added", "r2"),
    ]
    assert membership.items[1].payload["contact"]["last_name"] == "Lovelace"


async def test_a_replayed_command_changes_nothing(broker: str, app: SeqflowApp, membership: Collector) -> None:
    add_env = Envelope.wrap("add_member", ADA.id, add("r1")[1], AT)
    remove_env = Envelope.wrap("remove_member", ADA.id, remove("r1")[1], AT)
    upsert_env = Envelope.wrap("contact_upserted", ADA.id, upsert()[1], AT)
    sentinel = Envelope.wrap("add_member", ADA.id, add("r2")[1], AT)
    envs = [upsert_env, add_env, remove_env, add_env, sentinel]
    await produce_raw(broker, app.topic_names.rollup_commands, [(e.key.encode(), encode(e)) for e in envs])
    await wait_for(lambda: len(membership.messages) >= 3)
    assert summary(membership.items) == [
        ("member_added", "r1"),
        ("member_removed", "r1"),
        ("member_added", "r2"),
    ]


async def test_poison_commands_go_to_the_dead_letter_topic_and_the_consumer_carries_on(
    broker: str, app: SeqflowApp, membership: Collector
) -> None:
    topic = app.topic_names.rollup_commands
    nobody = AddMember(rollup_id="r1", contact_id="c-nobody", at=AT)
    poison = [b"not an envelope", encode(Envelope.wrap("add_member", "c-x", nobody, AT))]
    await produce_raw(broker, topic, [(b"c-x", value) for value in poison])
    await send_commands(broker, topic, [upsert(), add("r1")])
    async with Collector(broker, app.topic_names.dlq("rollup.commands"), raw=True) as dlq:
        await wait_for(lambda: len(dlq.messages) == 2 and len(membership.messages) == 1)
        reasons = sorted(dict(m.headers)[REASON_HEADER].decode() for m in dlq.messages)
    assert reasons[0].startswith("add_member: unknown contact 'c-nobody'")
    assert reasons[1].startswith("invalid envelope")
    assert summary(membership.items) == [("member_added", "r1")]


async def test_a_command_applied_but_never_published_emits_its_events_when_it_comes_again(
    broker: str, app: SeqflowApp, membership: Collector, pg_dsn: str, schema_prefix: str
) -> None:
    """What a rollup-sync killed between its commit and the broker's ack leaves behind."""
    add_env = Envelope.wrap("add_member", ADA.id, add("r1")[1], AT)
    lost = Envelope.wrap("member_added", ADA.id, MemberAdded(rollup_id="r1", contact=ADA, at=AT), AT)
    conn = await asyncpg.connect(pg_dsn)
    try:
        s = f'"{schema_prefix}rollup_sync"'
        await conn.execute(f"INSERT INTO {s}.contacts (id, data, updated_at) VALUES ($1, $2::jsonb, $3)",
                           ADA.id, ADA.model_dump_json(), AT)  # fmt: skip
        await conn.execute(f"INSERT INTO {s}.members (rollup_id, contact_id, added_at) VALUES ('r1', $1, $2)",
                           ADA.id, AT)  # fmt: skip
        await conn.execute(f"INSERT INTO {s}.processed_commands (event_id, processed_at, emitted)"
                           " VALUES ($1, $2, $3::jsonb)", add_env.id, AT, f"[{lost.model_dump_json()}]")  # fmt: skip
        await produce_raw(broker, app.topic_names.rollup_commands, [(add_env.key.encode(), encode(add_env))])
        await wait_for(lambda: len(membership.items) == 1)
        assert membership.items[0].id == lost.id  # the same event: consumers dedupe it by id
        emitted = f"SELECT emitted FROM {s}.processed_commands WHERE event_id = $1"
        await eventually(lambda: conn.fetchval(emitted, add_env.id), lambda e: e is None, "the acked events forgotten")
    finally:
        await conn.close()

