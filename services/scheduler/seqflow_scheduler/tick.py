"""One tick of a scheduler: a lane of an open round (rounds.py), or one sequence with due work run whole: load
its engine, apply the inbox, advance to now, save, fill the outbox.

The engine is `seqflow.rules.engine.Runtime`, the same one `seqflow simulate` drives; this module only
moves state between PostgreSQL and it, and turns its actions into messages.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

import asyncpg

from seqflow.messaging.topics import Topics
from seqflow.rules.engine import Runtime
from seqflow.rules.gates import whole_seconds
from seqflow.rules.state import Rejected
from seqflow_scheduler import rounds
from seqflow_scheduler.db import SchedulerDb, SequenceRow
from seqflow_scheduler.load import Loaded, load, save_queues, wake_at
from seqflow_scheduler.running import QueueOverrun, Setup, TickResult, clamp, guarded, runtime_for, write_outputs
from seqflow_scheduler.snapshot import state_from

log = logging.getLogger("seqflow.scheduler")
ROSTER_PATIENCE = timedelta(seconds=60)  # how long a sequence waits for its roster's membership events


def holds_at_activation(row: SequenceRow, now: datetime) -> bool:
    """While roster members are still arriving (for at most ROSTER_PATIENCE), the sequence stays at its
    activation instant, so a late member still enters then, as the simulator has it."""
    return row.roster_missing > 0 and now < row.activated_at + ROSTER_PATIENCE


async def tick_one(conn: asyncpg.Connection, db: SchedulerDb, topics: Topics, sms_from: str, now: datetime,
                   lanes_first: bool = True) -> TickResult | None:  # fmt: skip
    """Run one piece of due work; None when nothing is due. The pieces are a lane of an open round (tried
    first unless `lanes_first` is False, so a loop can alternate), the close of a round whose lanes are
    done, or a sequence claimed whole: it opens a round when its due work is big and the rules let replicas
    share it, else it runs up to `now`. A sequence that fails is quarantined (`guarded`); the caller goes on."""
    if lanes_first and (lane := await rounds.tick_lane(conn, db, topics, sms_from)) is not None:
        return lane
    if (closed := await rounds.close_finished(conn, db)) is not None:
        return closed
    row = await db.claim_due(conn, now)
    if row is None:
        return None if lanes_first else await rounds.tick_lane(conn, db, topics, sms_from)
    return await guarded(conn, db, topics, row, now,
                         lambda scale: run_whole(conn, db, row, topics, sms_from, now, scale))  # fmt: skip


async def run_whole(conn: asyncpg.Connection, db: SchedulerDb, row: SequenceRow, topics: Topics, sms_from: str,
                    now: datetime, scale: int) -> TickResult:  # fmt: skip
    """Open a round for the claimed sequence if its due work is big and may be shared, else advance it."""
    setup = Setup.of(row)
    if await rounds.open_if_big(conn, db, row, setup, now):
        return TickResult(row.id, [], 0, kind="round_opened")
    return await advance(conn, db, row, topics, sms_from, now, scale, setup)


async def advance(conn: asyncpg.Connection, db: SchedulerDb, row: SequenceRow, topics: Topics, sms_from: str,
                  now: datetime, scale: int = 1, setup: Setup | None = None) -> TickResult:  # fmt: skip
    """Load what is due of the sequence's engine, apply its inbox, advance it to `now`, save what changed
    and fill the outbox."""
    holding = holds_at_activation(row, now)
    if holding:
        now = row.activated_at
    elif row.roster_missing:
        log.warning("starting without the whole roster", extra={"sequence": row.id, "reason":
                    f"{row.roster_missing} roster members never arrived"})  # fmt: skip
        await db.forget_roster(conn, row.id)
    floor = whole_seconds(row.advanced_to)
    now = max(whole_seconds(now), floor)
    setup = setup or Setup.of(row)
    state = state_from(row.state)
    loaded = await load(conn, db, row, setup.activation, state, now, scale)
    now = loaded.until
    rt = await runtime_for(conn, db, row, setup, state, loaded, holding)
    for inp in loaded.inputs:
        rt.submit(clamp(inp, floor))
    rt.rejected += [Rejected(inp, "paused") for inp in loaded.refused]
    rt.advance(now)
    if rt.overrun:
        raise QueueOverrun(sorted(rt.overrun))
    await write_outputs(conn, db, row, rt, now, topics, sms_from)  # first: the wake reads the enrollments' timers
    await save(conn, db, row, loaded, rt, now, holding)
    return TickResult(row.id, rt.actions, len(rt.rejected))


async def save(conn: asyncpg.Connection, db: SchedulerDb, row: SequenceRow, loaded: Loaded, rt: Runtime,
               now: datetime, holding: bool) -> None:  # fmt: skip
    await save_queues(conn, db, row.id, loaded, rt)
    state = rt.export_state()
    state.queue = {}  # the queue is rows (limiter_queue)
    # While holding at the activation instant, an arriving roster member wakes the sequence sooner.
    # A tick that left due work for the next one wakes at once.
    if loaded.more:
        wake: datetime | None = now
    elif holding:
        wake = row.activated_at + ROSTER_PATIENCE
    else:
        wake = await wake_at(conn, db, row.id, rt)
    await db.save_sequence(conn, row.id, state, now, wake, len(loaded.inputs) + len(loaded.refused))
    if rt.edits:
        await db.save_edits(conn, row.id, rt.edits.get("template"), rt.edits.get("activation"))
