"""Replicas share the work of one big sequence (issue 7.2): a sequence without rate limits and more due work
than a slice is worked in a round whose lanes run on several connections at once, and what they reach is
exactly what the simulator reaches. Ticks run straight against PostgreSQL (no broker)."""

from __future__ import annotations

import asyncio
import random
from datetime import datetime, timedelta
from typing import Any

import asyncpg
import pytest
from support.api import eventually
from support.scheduler_ticks import ACTIVATION, T0, activate, live_lines, simulated, tick_until_idle

from seqflow.messaging.topics import Topics
from seqflow.rules.state import Input
from seqflow_scheduler import load
from seqflow_scheduler.db import SchedulerDb
from seqflow_scheduler.tick import tick_one

MAIL = {"from_alias": "alice@agency.example", "subject": "Hi", "body": "Hello"}
TEMPLATE: dict[str, Any] = {"name": "two", "owner": "alice", "branches": [{"key": "main", "steps": [
    {"key": "intro", "type": "auto_email", "email": MAIL, "conditions": [
        {"when": "replied", "then": {"exit": "replied"}},
        {"when": "no_condition_met", "within": "PT1H", "then": {"next": True}}]},
    {"key": "bump", "type": "auto_sms", "delay": "PT30M", "sms": {"body": "Hi again"}}]}]}  # fmt: skip
UNLIMITED = {**ACTIVATION, "rate_limits": None}
SMS_FROM = "+15550000"


def people(n: int, prefix: str = "c") -> list[dict[str, Any]]:
    """n contacts; every 17th has no phone (its SMS step fails and waits for a Retry)."""
    return [{"id": f"{prefix}{i:03d}", "email": f"{prefix}{i}@x.example", "phone": f"+1555{i:07d}" if i % 17 else ""}
            for i in range(n)]  # fmt: skip


async def tick(conn: asyncpg.Connection, db: SchedulerDb, now: datetime, lanes_first: bool = True) -> Any:
    async with conn.transaction():
        return await tick_one(conn, db, Topics(), SMS_FROM, now, lanes_first)


async def round_to(conn: asyncpg.Connection, db: SchedulerDb) -> datetime | None:
    return await conn.fetchval(f"SELECT round_to FROM {db.s}.sequences WHERE id = 's1'")  # type: ignore[no-any-return]


def sent(result: Any) -> set[str]:
    return {a.contact for a in result.actions if a.action == "email_sent"}


async def test_two_replicas_run_lanes_of_one_big_sequence_at_the_same_moment(
    conn: asyncpg.Connection, other: asyncpg.Connection, schema_prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 60 contacts, slices of 8: the first claim opens a round instead of running the sequence. While one
    # connection holds a lane (its transaction open), the other runs a different lane of the same sequence
    # and commits; neither waits for the other, and they send to different contacts.
    monkeypatch.setattr(load, "SLICE", 8)
    contacts = people(60)
    db = SchedulerDb(f"{schema_prefix}scheduler")
    await activate(conn, db, contacts, TEMPLATE, UNLIMITED)
    now = T0 + timedelta(minutes=1)
    opened = await tick(conn, db, now)
    assert opened.sequence_id == "s1" and opened.actions == []
    assert await round_to(conn, db) == now
    async with conn.transaction():
        first = await tick_one(conn, db, Topics(), SMS_FROM, now)
        second = await asyncio.wait_for(tick(other, db, now), timeout=10)  # commits while `first` is open
    assert first.sequence_id == second.sequence_id == "s1"
    assert sent(first) and sent(second) and not sent(first) & sent(second)
    for t in (now, T0 + timedelta(hours=2), T0 + timedelta(days=1)):
        await tick_until_idle(conn, db, t)
    assert await round_to(conn, db) is None
    assert await live_lines(conn, db) == simulated(contacts, T0 + timedelta(days=1), TEMPLATE, UNLIMITED)
    assert await conn.fetchval(f"SELECT count(*) FROM {db.s}.round_lanes") == 0


def engagement(rnd: random.Random, contacts: list[dict[str, Any]]) -> list[Input]:
    """Replies, removals and returns, unsubscribes and removals from the sequence at random instants of the
    first hours."""
    out = []
    for c in contacts:
        cid, at = c["id"], T0 + timedelta(minutes=rnd.randrange(0, 180), seconds=rnd.randrange(60))
        kind = rnd.random()
        if kind < 0.3:
            out.append(Input(at, "replied", cid, "intro"))
        elif kind < 0.4:
            out.append(Input(at, "member_removed", cid))
            out.append(Input(at + timedelta(minutes=rnd.randrange(1, 90)), "member_added", cid))
        elif kind < 0.5:
            out.append(Input(at, "unsubscribed", cid))
        elif kind < 0.6:
            out.append(Input(at, "remove_from_sequence", cid))
    return sorted(out, key=lambda i: i.at)


async def replica(conn: asyncpg.Connection, db: SchedulerDb, now: datetime, turn: int) -> int:
    """One replica's tick loop up to `now`: how many ticks it ran."""
    ticks = 0
    while await tick(conn, db, now, (ticks + turn) % 2 == 0) is not None:
        ticks += 1
    return ticks


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_replicas_sharing_rounds_reach_exactly_what_the_simulator_reaches(
    conn: asyncpg.Connection, other: asyncpg.Connection, schema_prefix: str, monkeypatch: pytest.MonkeyPatch,
    seed: int,
) -> None:  # fmt: skip
    # 150 contacts, slices of 7, two replicas ticking at once at instants a few minutes apart; each input
    # reaches the inbox before the instant it is stamped at is ticked (on time), as the simulator assumes.
    monkeypatch.setattr(load, "SLICE", 7)
    rnd = random.Random(seed)
    contacts = people(150)
    events = engagement(rnd, contacts)
    db = SchedulerDb(f"{schema_prefix}scheduler")
    await activate(conn, db, contacts, TEMPLATE, UNLIMITED)
    instants = [T0 + timedelta(minutes=m) for m in (0, 1, 7, 30, 61, 62, 95, 120, 150, 200, 300)]
    instants.append(T0 + timedelta(days=1))
    given, rounds = 0, set()
    for now in instants:
        due = [e for e in events[given:] if e.at <= now]
        async with conn.transaction():
            await db.add_inputs(conn, [("s1", f"e{given + i}", e) for i, e in enumerate(due)])
        given += len(due)
        started = asyncio.gather(replica(conn, db, now, 0), replica(other, db, now, 1))
        await asyncio.wait_for(started, timeout=60)
        rounds.add(await round_to(conn, db))
    assert await live_lines(conn, db) == simulated(contacts, instants[-1], TEMPLATE, UNLIMITED, events)
    assert await conn.fetchval(f"SELECT count(*) FROM {db.s}.inbox") == 0
    assert rounds == {None}  # every round closed


async def lane_of(conn: asyncpg.Connection, contact_id: str) -> int:
    return int(await conn.fetchval("SELECT hashtext($1) & 15", contact_id))


async def test_an_input_that_reaches_a_lane_after_its_contact_ran_past_it_applies_where_the_contact_is(
    conn: asyncpg.Connection, schema_prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Twelve contacts of one lane, slices of 4. The round runs to 14:10; the first slice runs c1..c4 to 14:10
    # (sent at 14:00, waiting for a reply until 15:00). A reply of the first of them stamped 14:05 arrives
    # only then: it applies at 14:10, where that contact's engine is (as a late input applies at the sequence's
    # instant in a tick of the whole sequence), not at 14:05, behind what the contact already did.
    monkeypatch.setattr(load, "SLICE", 4)
    pool = people(400, "p")
    lanes = {c["id"]: await lane_of(conn, c["id"]) for c in pool}
    contacts = [c for c in pool if lanes[c["id"]] == 0][:12]
    db = SchedulerDb(f"{schema_prefix}scheduler")
    await activate(conn, db, contacts, TEMPLATE, UNLIMITED)
    now = T0 + timedelta(minutes=10)
    await tick(conn, db, now)  # opens the round
    first = await tick(conn, db, now)
    early = sorted(sent(first))[0]
    assert len(sent(first)) == 4 and await round_to(conn, db) == now
    async with conn.transaction():
        await db.add_input(conn, "s1", "late", Input(T0 + timedelta(minutes=5), "replied", early, "intro"))
    await tick_until_idle(conn, db, now)
    got = await live_lines(conn, db)
    assert ("2026-12-01T14:10:00Z", early, "intro", "exited") in got
    assert len([line for line in got if line[3] == "email_sent"]) == 12


async def round_of_40(conn: asyncpg.Connection, schema_prefix: str, monkeypatch: pytest.MonkeyPatch,
                      slice_size: int) -> tuple[SchedulerDb, list[dict[str, Any]], datetime]:  # fmt: skip
    """40 contacts activated at T0 and a round opened to 14:01 (`slice_size` contacts a slice)."""
    monkeypatch.setattr(load, "SLICE", slice_size)
    contacts = people(40)
    db = SchedulerDb(f"{schema_prefix}scheduler")
    await activate(conn, db, contacts, TEMPLATE, UNLIMITED)
    now = T0 + timedelta(minutes=1)
    opened = await tick(conn, db, now)
    assert opened.kind == "round_opened"
    return db, contacts, now


async def test_a_lane_whose_replica_dies_mid_slice_is_run_again_by_another(
    conn: asyncpg.Connection, pg_dsn: str, schema_prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A replica takes a lane and dies before it commits (its connection drops): the slice's work rolls back,
    # the lane's lock goes with the connection, and the other replica runs the lane; nothing is sent twice.
    db, contacts, now = await round_of_40(conn, schema_prefix, monkeypatch, 8)
    doomed = await asyncpg.connect(pg_dsn)
    tx = doomed.transaction()
    await tx.start()
    lost = await tick_one(doomed, db, Topics(), SMS_FROM, now)
    assert sent(lost)
    pid = doomed.get_server_pid()
    doomed.terminate()
    gone = "SELECT NOT EXISTS (SELECT 1 FROM pg_stat_activity WHERE pid = $1)"
    await eventually(lambda: conn.fetchval(gone, pid), bool, "the server rolled the slice back", 10)
    await tick_until_idle(conn, db, now)
    got = await live_lines(conn, db)
    assert got == simulated(contacts, now, TEMPLATE, UNLIMITED)
    assert len([line for line in got if line[3] == "email_sent"]) == 40
    assert await round_to(conn, db) is None


async def test_a_pause_that_arrives_while_lanes_run_applies_when_the_round_closes_at_its_instant(
    conn: asyncpg.Connection, schema_prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The round runs to 14:01. A pause stamped 14:00:30 arrives after it opened (late for it, as it would be
    # for a whole tick to 14:01 that had already read the inbox): no lane takes it (it names no contact), the
    # round finishes, and the pause applies at 14:01, the round's instant. The SMS an hour later never goes.
    db, contacts, now = await round_of_40(conn, schema_prefix, monkeypatch, 4)
    assert sent(await tick(conn, db, now))  # one slice of a lane
    async with conn.transaction():
        await db.add_input(conn, "s1", "pause", Input(T0 + timedelta(seconds=30), "pause"))
    await tick_until_idle(conn, db, now)
    assert await round_to(conn, db) is None
    for t in (T0 + timedelta(hours=2), T0 + timedelta(days=1)):
        await tick_until_idle(conn, db, t)
    got = await live_lines(conn, db)
    assert got == simulated(contacts, T0 + timedelta(days=1), TEMPLATE, UNLIMITED, [Input(now, "pause")])
    assert len([line for line in got if line[3] == "email_sent"]) == 40
    assert not [line for line in got if line[3] == "sms_sent"]
    assert await conn.fetchval(f"SELECT count(*) FROM {db.s}.inbox") == 0
