"""Ticks read only what is due, yet grant exactly what the simulator grants: the scheduler's tick run
straight against PostgreSQL (no broker), its outbox compared with `seqflow.rules.simulate.run`."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import asyncpg
import pytest
from support.scheduler_ticks import ACTIVATION, T0, Line, activate, live_lines, simulated, tick_until_idle

from seqflow.messaging.topics import Topics
from seqflow.rules.state import Input
from seqflow_scheduler import load
from seqflow_scheduler.db import SchedulerDb


async def test_a_queue_head_of_blank_addresses_longer_than_the_free_slots_still_grants_what_the_simulator_grants(
    conn: asyncpg.Connection, schema_prefix: str
) -> None:
    # One slot an hour. c00 takes 14:00; twenty blank addresses then take their turns at 15:00 without a
    # slot, more than a tick reads of the queue at first, and c21 gets the 15:00 slot behind them.
    contacts = [{"id": "c00", "email": "c00@x.example"}, *[{"id": f"c{i:02d}"} for i in range(1, 21)],
                {"id": "c21", "email": "c21@x.example"}]  # fmt: skip
    db = SchedulerDb(f"{schema_prefix}scheduler")
    await activate(conn, db, contacts)
    for hour in range(3):
        await tick_until_idle(conn, db, T0 + timedelta(hours=hour))
    until = T0 + timedelta(hours=2)
    got = await live_lines(conn, db)
    assert got == simulated(contacts, until)
    assert ("2026-12-01T15:00:00Z", "c21", "intro", "email_sent") in got
    assert await conn.fetchval(f"SELECT count(*) FROM {db.s}.limiter_queue") == 0


async def test_a_big_unlimited_sequence_runs_in_slices_that_end_exactly_where_the_simulator_does(
    conn: asyncpg.Connection, schema_prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Slices of 4: the 11 entries at the activation instant take three ticks (run 20 minutes late), each
    # sending as it commits, and the 11 follow-ups, held by the window (closed at 14:30) until it opens at
    # 08:00 the next day, three more; every instant is still the simulator's.
    monkeypatch.setattr(load, "SLICE", 4)
    template = {"name": "two", "owner": "alice", "branches": [{"key": "main", "steps": [
        {"key": "intro", "type": "auto_email",
         "email": {"from_alias": "alice@agency.example", "subject": "Hi", "body": "Hello"}},
        {"key": "bump", "type": "auto_sms", "delay": "PT1H", "sms": {"body": "Hi again"}}]}]}  # fmt: skip
    activation = {**ACTIVATION, "rate_limits": None, "send_window": {"start": "08:00", "stop": "14:30"}}
    contacts = [{"id": f"c{i:02d}", "email": f"c{i}@x.example", "phone": f"+1555000{i:04d}"} for i in range(11)]
    db = SchedulerDb(f"{schema_prefix}scheduler")
    await activate(conn, db, contacts, template, activation)
    entry = await tick_until_idle(conn, db, T0 + timedelta(minutes=20))  # behind: each slice at its instant
    sends = f"SELECT count(*) FROM {db.s}.outbox WHERE topic = $1"
    assert entry >= 3 and await conn.fetchval(sends, Topics().due_sends) == 11
    later = await tick_until_idle(conn, db, T0 + timedelta(days=1))
    assert later >= 3 and await conn.fetchval(sends, Topics().due_sends) == 22
    got = await live_lines(conn, db)
    assert got == simulated(contacts, T0 + timedelta(days=1), template, activation)
    assert ("2026-12-02T08:00:00Z", "c10", "bump", "sms_sent") in got
    assert await conn.fetchval(f"SELECT count(*) FROM {db.s}.inbox") == 0


async def test_an_input_whose_wake_a_racing_tick_overwrote_is_still_applied_on_the_next_tick_loop(
    conn: asyncpg.Connection, schema_prefix: str
) -> None:
    # One slot an hour: c01 waits for 15:00. Its unsubscribe at 14:02 reaches the inbox while a tick holds the
    # sequence row: intake leaves a row that is already due alone, and the tick, which read the inbox before
    # the input committed, sets the wake to 15:00 (done by hand below). The next tick loop's wake_for_inbox
    # finds the input, and c01 exits at 14:02; without it nothing would look due until 15:00.
    contacts = [{"id": "c00", "email": "c00@x.example"}, {"id": "c01", "email": "c01@x.example"}]
    db = SchedulerDb(f"{schema_prefix}scheduler")
    await activate(conn, db, contacts)
    await tick_until_idle(conn, db, T0 + timedelta(minutes=1))
    unsubscribed = Input(T0 + timedelta(minutes=2), "unsubscribed", "c01")
    async with conn.transaction():
        await db.add_input(conn, "s1", "e1", unsubscribed)
        await conn.execute(f"UPDATE {db.s}.sequences SET wake_at = $1", T0 + timedelta(hours=1))  # the lost wake
    assert await tick_until_idle(conn, db, T0 + timedelta(minutes=3)) == 0  # nothing looks due
    assert await db.wake_for_inbox(conn) == 1
    assert await db.wake_for_inbox(conn) == 0  # woken once: the input is now the wake
    assert await tick_until_idle(conn, db, T0 + timedelta(minutes=3)) == 1
    got = await live_lines(conn, db)
    assert ("2026-12-01T14:02:00Z", "c01", "intro", "exited") in got
    assert not [line for line in got if line[1] == "c01" and line[3] == "email_sent"]


CALL_TEMPLATE: dict[str, Any] = {
    "name": "call", "owner": "alice", "branches": [{"key": "main", "steps": [
        {"key": "call", "type": "call", "conditions": [{"when": "Connected", "then": {"complete": True}}]}]}],
}  # fmt: skip


async def paused_with_a_task(conn: asyncpg.Connection, schema_prefix: str) -> SchedulerDb:
    """s1: c00 on its call task at 14:00, the sequence paused at 14:10 (ticked)."""
    db = SchedulerDb(f"{schema_prefix}scheduler")
    await activate(conn, db, [{"id": "c00", "phone": "+15550000"}], CALL_TEMPLATE, {**ACTIVATION, "rate_limits": None})
    await tick_until_idle(conn, db, T0 + timedelta(minutes=1))
    async with conn.transaction():
        await db.add_input(conn, "s1", "pause", Input(T0 + timedelta(minutes=10), "pause"))
    await tick_until_idle(conn, db, T0 + timedelta(minutes=11))
    return db


async def inbox_and_completions(conn: asyncpg.Connection, db: SchedulerDb) -> tuple[int, list[Line]]:
    inbox = await conn.fetchval(f"SELECT count(*) FROM {db.s}.inbox")
    return inbox, [line for line in await live_lines(conn, db) if line[3] == "completed"]


async def mark_then_tick(conn: asyncpg.Connection, db: SchedulerDb, minute: int) -> None:
    """A Mark As of c00's call stamped at 14:`minute` reaches the scheduler, which ticks at 14:22."""
    mark = Input(T0 + timedelta(minutes=minute), "outcome", "c00", "call", "Connected")
    async with conn.transaction():
        await db.add_input(conn, "s1", "mark", mark)
    await tick_until_idle(conn, db, T0 + timedelta(minutes=22))


async def resume_then_tick(conn: asyncpg.Connection, db: SchedulerDb) -> None:
    """The resume of 14:20 arrives late; the scheduler ticks at 14:23."""
    async with conn.transaction():
        await db.add_input(conn, "s1", "resume", Input(T0 + timedelta(minutes=20), "resume"))
    await tick_until_idle(conn, db, T0 + timedelta(minutes=23))


async def test_a_mark_as_that_arrives_before_the_resume_it_followed_waits_for_it(
    conn: asyncpg.Connection, schema_prefix: str
) -> None:
    # The API accepted the Mark As at 14:21 after recording a resume at 14:20; the two travel on different
    # topics and the Mark As reaches the scheduler first. A tick in between keeps it (the sequence is still
    # paused there); once the resume arrives both apply, in their order, as the simulator has them.
    db = await paused_with_a_task(conn, schema_prefix)
    await mark_then_tick(conn, db, 21)
    assert await inbox_and_completions(conn, db) == (1, [])  # kept for the resume
    assert await db.wake_for_inbox(conn) == 0  # a kept input does not wake the paused sequence
    await resume_then_tick(conn, db)
    late = ("2026-12-01T14:22:00Z", "c00", "call", "completed")  # late inputs: the engine's time
    assert await inbox_and_completions(conn, db) == (0, [late])


async def test_a_mark_as_stamped_while_paused_is_refused_when_the_later_resume_arrives(
    conn: asyncpg.Connection, schema_prefix: str
) -> None:
    # An outcome at 14:15, inside the pause (14:10-14:20): kept until the resume arrives, then refused as the
    # simulator refuses it, although the late resume and the outcome both apply at the engine's time.
    db = await paused_with_a_task(conn, schema_prefix)
    await mark_then_tick(conn, db, 15)
    await resume_then_tick(conn, db)
    assert await inbox_and_completions(conn, db) == (0, [])
    assert await conn.fetchval(f"SELECT inputs_applied FROM {db.s}.sequences") == 4  # start, pause, mark, resume
