"""rollup-sync applies a batch of commands set-based, on real PostgreSQL, exactly as one by one would."""

from __future__ import annotations

import random
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest
from pydantic import BaseModel

from rollup_sync.db import RollupStore
from rollup_sync.handlers import Command, handle_batch
from seqflow.db.migrate import drop_schemas, migrate_all
from seqflow.messaging.base import ContactData
from seqflow.messaging.envelope import Envelope
from seqflow.messaging.rollup import AddMember, ContactUpserted, MemberAdded, RemoveMember, RollupCreated

AT = datetime(2026, 12, 1, 14, 0, tzinfo=UTC)
ADA = ContactData(id="c-ada", first_name="Ada", email="ada@example.org")
BOB = ContactData(id="c-bob", first_name="Bob", email="bob@example.org")


@pytest.fixture
def store(schema_prefix: str) -> RollupStore:
    return RollupStore(f"{schema_prefix}rollup_sync")


def command(type_: str, payload: BaseModel, key: str = ADA.id) -> Command:
    return Envelope.wrap(type_, key, payload, AT), payload


def upsert(contact: ContactData = ADA) -> Command:
    return command("contact_upserted", ContactUpserted(contact=contact), contact.id)


def add(rollup: str, contact_id: str = ADA.id, at: datetime = AT) -> Command:
    return command("add_member", AddMember(rollup_id=rollup, contact_id=contact_id, at=at), contact_id)


def remove(rollup: str, contact_id: str = ADA.id) -> Command:
    return command("remove_member", RemoveMember(rollup_id=rollup, contact_id=contact_id, at=AT), contact_id)


async def apply(store: RollupStore, conn: asyncpg.Connection, commands: list[Command]) -> tuple[list[Envelope], dict]:
    """One batch as `process_batch` applies it: one transaction, then the acked events forgotten."""
    async with conn.transaction():
        out, poison = await handle_batch(store, conn, commands, AT)
    await store.clear_emitted(conn, [env.id for env, _ in commands])
    return out, poison


def summary(envs: list[Envelope]) -> list[tuple[str, str, str]]:
    return [(e.type, e.key, e.payload.get("rollup_id", "")) for e in envs]


async def test_an_upsert_then_add_member_of_the_same_contact_in_one_batch_sees_the_contact(
    store: RollupStore, conn: asyncpg.Connection
) -> None:
    out, poison = await apply(store, conn, [upsert(), add("r1")])
    assert (summary(out), poison) == ([("member_added", ADA.id, "r1")], {})
    assert ContactData.model_validate(out[0].payload["contact"]) == ADA
    assert await store.members(conn, "r1") == [ADA.id]


async def test_commands_of_one_batch_apply_in_their_order(store: RollupStore, conn: asyncpg.Connection) -> None:
    """Grouped by type, or reordered, these would emit other events or leave other members."""
    renamed = ADA.model_copy(update={"last_name": "Lovelace"})
    batch = [upsert(), add("r1"), remove("r1"), add("r1"), upsert(renamed), add("r2"), remove("r3"), add("r3")]
    out, _ = await apply(store, conn, batch)
    assert summary(out) == [
        ("member_added", ADA.id, "r1"),
        ("member_removed", ADA.id, "r1"),
        ("member_added", ADA.id, "r1"),
        ("contact_changed", ADA.id, ""),
        ("member_added", ADA.id, "r2"),
        ("member_added", ADA.id, "r3"),
    ]
    assert out[2].payload["contact"]["last_name"] is None  # added before the rename
    assert out[4].payload["contact"]["last_name"] == "Lovelace"
    assert [await store.members(conn, r) for r in ("r1", "r2", "r3")] == [[ADA.id]] * 3
    out, _ = await apply(store, conn, [add("r1"), remove("r1")])
    assert summary(out) == [("member_removed", ADA.id, "r1")]
    assert await store.members(conn, "r1") == []


async def test_a_member_that_leaves_and_joins_again_in_one_batch_goes_to_the_end(
    store: RollupStore, conn: asyncpg.Connection
) -> None:
    await apply(store, conn, [upsert(), upsert(BOB), add("r1"), add("r1", BOB.id)])
    out, _ = await apply(store, conn, [remove("r1"), add("r1", at=AT + timedelta(hours=1))])
    assert summary(out) == [("member_removed", ADA.id, "r1"), ("member_added", ADA.id, "r1")]
    assert await store.members(conn, "r1") == [BOB.id, ADA.id]
    added_at = await conn.fetchval(f'SELECT added_at FROM "{store.schema}".members WHERE contact_id = $1', ADA.id)
    assert added_at == AT + timedelta(hours=1)


async def test_a_contact_upserted_twice_in_one_batch_keeps_the_last_and_announces_real_changes_only(
    store: RollupStore, conn: asyncpg.Connection
) -> None:
    renamed = ADA.model_copy(update={"last_name": "Lovelace"})
    out, _ = await apply(store, conn, [upsert(), upsert(renamed), upsert(renamed)])
    assert summary(out) == [("contact_changed", ADA.id, "")]  # the first made it exist: nobody held a copy
    out, _ = await apply(store, conn, [upsert(renamed), upsert(ADA), upsert(renamed)])
    assert summary(out) == [("contact_changed", ADA.id, "")] * 2
    data = await conn.fetchval(f'SELECT data FROM "{store.schema}".contacts WHERE id = $1', ADA.id)
    assert ContactData.model_validate_json(data) == renamed


async def test_commands_that_can_never_apply_are_reported_and_the_rest_of_the_batch_applies(
    store: RollupStore, conn: asyncpg.Connection
) -> None:
    ghost = add("r1", "c-ghost")
    not_a_command = command("member_added", MemberAdded(rollup_id="r1", contact=ADA, at=AT))
    out, poison = await apply(store, conn, [ghost, upsert(), not_a_command, add("r1"), add("r2", BOB.id)])
    assert summary(out) == [("member_added", ADA.id, "r1")]
    assert poison[0].startswith("add_member: unknown contact 'c-ghost'")
    assert poison[2] == "'member_added' is not a rollup command"
    assert poison[4].startswith("add_member: unknown contact 'c-bob'")
    processed = f'SELECT count(*) FROM "{store.schema}".processed_commands WHERE event_id = $1'
    assert await conn.fetchval(processed, ghost[0].id) == 0  # judged again when it comes again
    out, poison = await apply(store, conn, [upsert(BOB), add("r2", BOB.id)])
    assert (summary(out), poison) == ([("member_added", BOB.id, "r2")], {})


async def test_a_replayed_batch_returns_what_it_emitted_until_acked_and_then_nothing(
    store: RollupStore, conn: asyncpg.Connection
) -> None:
    first = [upsert(), add("r1"), remove("r1"), upsert(BOB), add("r1", BOB.id)]
    async with conn.transaction():
        out, _ = await handle_batch(store, conn, first, AT)
    assert summary(out) == [("member_added", ADA.id, "r1"), ("member_removed", ADA.id, "r1"),
                            ("member_added", BOB.id, "r1")]  # fmt: skip
    mixed = [first[1], add("r2"), first[2], first[4], add("r2")]  # replays around fresh commands
    async with conn.transaction():
        again, _ = await handle_batch(store, conn, mixed, AT)
    assert [e.id for e in again if e.payload.get("rollup_id") == "r1"] == [e.id for e in out]  # the same events
    assert summary(again) == [("member_added", ADA.id, "r1"), ("member_added", ADA.id, "r2"),
                              ("member_removed", ADA.id, "r1"), ("member_added", BOB.id, "r1")]  # fmt: skip
    assert await store.members(conn, "r1") == [BOB.id]
    await store.clear_emitted(conn, [env.id for env, _ in first + mixed])
    async with conn.transaction():
        assert await handle_batch(store, conn, first + mixed, AT) == ([], {})


async def test_rollups_created_in_one_batch_keep_their_last_name(store: RollupStore, conn: asyncpg.Connection) -> None:
    created = [command("rollup_created", RollupCreated(rollup_id=r, name=n), r) for r, n in
               [("r1", "one"), ("r2", "two"), ("r1", "uno")]]  # fmt: skip
    assert await apply(store, conn, created) == ([], {})
    rows = await conn.fetch(f'SELECT id, name FROM "{store.schema}".rollups ORDER BY id')
    assert [tuple(r) for r in rows] == [("r1", "uno"), ("r2", "two")]


# --- the batched path against one command at a time, on random command sequences


def random_commands(rng: random.Random, n: int) -> list[Command]:
    contacts = [ContactData(id=f"c{i}", first_name=f"N{i}", email=f"c{i}@example.org") for i in range(4)]
    made: list[Command] = []
    known = ["c-ghost"]  # never upserted: add_member of it never applies
    for _ in range(n):
        roll, c = rng.random(), rng.choice(contacts)
        if roll < 0.25:
            made.append(upsert(c.model_copy(update={"last_name": rng.choice([None, "X", "Y"])})))
            known.append(c.id)
        elif roll < 0.55:
            # Only known contacts: a redelivery of an add that failed for want of its contact applies once the
            # contact exists, unless it comes again in the same batch (then it is a duplicate of the failure).
            made.append(add(rng.choice(["r1", "r2"]), rng.choice(known), AT + timedelta(rng.random())))
        elif roll < 0.8:
            made.append(remove(rng.choice(["r1", "r2"]), c.id))
        elif roll < 0.88:
            made.append(command("rollup_created", RollupCreated(rollup_id="r1", name=rng.choice("ab")), "r1"))
        elif made:
            made.append(rng.choice(made))  # a redelivery
    return made


def batches(rng: random.Random, commands: list[Command]) -> list[list[Command]]:
    cuts = sorted(rng.sample(range(1, len(commands)), 3))
    return [commands[a:b] for a, b in zip([0, *cuts], [*cuts, len(commands)], strict=True)]


async def run(store: RollupStore, conn: asyncpg.Connection, batches: list[list[Command]]) -> dict[str, Any]:
    events: list[tuple[str, str, dict]] = []
    poisoned: set[uuid.UUID] = set()
    for batch in batches:
        out, poison = await apply(store, conn, batch)
        events += [(e.type, e.key, e.payload) for e in out]
        poisoned |= {batch[i][0].id for i in poison}
    s = f'"{store.schema}"'
    members = await conn.fetch(f"SELECT rollup_id, contact_id, added_at FROM {s}.members ORDER BY position")
    contacts = await conn.fetch(f"SELECT id, data FROM {s}.contacts ORDER BY id")
    rollups = await conn.fetch(f"SELECT id, name FROM {s}.rollups ORDER BY id")
    tables = [[tuple(r) for r in rows] for rows in (members, contacts, rollups)]
    return {"events": events, "poisoned": poisoned, "tables": tables}


@pytest.fixture
async def other_store(pg_dsn: str) -> AsyncIterator[RollupStore]:
    prefix = f"t{uuid.uuid4().hex[:8]}_"
    await migrate_all(pg_dsn, schemas=["rollup_sync"], schema_prefix=prefix)
    try:
        yield RollupStore(f"{prefix}rollup_sync")
    finally:
        await drop_schemas(pg_dsn, prefix)


@pytest.mark.parametrize("seed", range(8))
async def test_a_few_batches_end_where_one_command_at_a_time_ends(
    seed: int, store: RollupStore, other_store: RollupStore, conn: asyncpg.Connection
) -> None:
    rng = random.Random(seed)
    commands = random_commands(rng, 60)
    batched = await run(store, conn, batches(rng, commands))
    one_by_one = await run(other_store, conn, [[c] for c in commands])
    assert batched == one_by_one
    assert batched["events"] and batched["tables"][0]  # the sequence did something
