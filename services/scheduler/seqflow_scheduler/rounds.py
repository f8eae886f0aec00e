"""Rounds: replicas working on one big sequence at the same moment (issue 7.2).

In a sequence without rate limits the contacts share nothing but the sequence-wide events (pause, resume,
end, edit, the end instant): each contact's result depends only on its own timers and inputs. So when such a
sequence has more due work than one slice (`load.SLICE`) and none of those events is due, the tick that
claims it opens a round to `now` instead of running it: its due work is split into lanes by contact, and any
replica runs a slice of any lane (`tick_lane`) without holding the sequence. A slice takes whole contacts:
all their timers and inputs due by the round's instant, in order, so per-contact order is the simulator's.
When the last lane is done a tick closes the round (its instant becomes the sequence's), and the sequence
is due whole again: what arrived late, and the sequence-wide
events, apply then, at the round's instant at the earliest, as they would after any tick.

An input that arrives for a contact after its slice ran past the input's instant applies at the instant the
slice ran to (`seen_to`), as a late input applies at the sequence's instant in a tick of the whole sequence.
"""

from __future__ import annotations

from datetime import datetime

import asyncpg

from seqflow.messaging.topics import Topics
from seqflow.rules.gates import gates_for, whole_seconds
from seqflow_scheduler import load as loading
from seqflow_scheduler.db import SchedulerDb, SequenceRow, sequence_row
from seqflow_scheduler.load import Loaded, save_queues, unlimited
from seqflow_scheduler.running import Setup, TickResult, clamp, guarded, runtime_for, write_outputs
from seqflow_scheduler.snapshot import input_from, state_from


def may_share(row: SequenceRow, setup: Setup, to: datetime) -> bool:
    """Whether the rules let the contacts' work up to `to` run apart: no rate limit (a limit grants slots in
    (due, contact) order across contacts), the roster complete, no end instant, not paused or ended (the
    state is read last: a limited sequence never needs it here)."""
    if not unlimited(setup.activation) or row.roster_missing:
        return False
    end = gates_for(setup.activation).end
    if end is not None and row.advanced_to < end <= to:
        return False
    state = state_from(row.state)
    return not state.paused and state.ended_at is None


async def open_if_big(conn: asyncpg.Connection, db: SchedulerDb, row: SequenceRow, setup: Setup,
                      now: datetime) -> bool:  # fmt: skip
    """Open a round to `now` for a claimed sequence whose due work is more than a slice and may be shared."""
    to = max(whole_seconds(now), whole_seconds(row.advanced_to))
    if not may_share(row, setup, to) or not await db.backlog_over(conn, row.id, to, loading.SLICE):
        return False  # most ticks end here: the backlog query walks at most a slice
    if await db.sequence_wide_pending(conn, row.id, to):
        return False
    return await db.open_round(conn, row.id, to) > 0


async def close_finished(conn: asyncpg.Connection, db: SchedulerDb) -> TickResult | None:
    """Close a round whose lanes are all done; None when there is none."""
    record = await db.claim_finished_round(conn)
    if record is None:
        return None
    row = sequence_row(record)
    assert row.round_to is not None
    await db.close_round(conn, row.id, row.round_to)
    return TickResult(row.id, [], 0, kind="round_closed")


async def tick_lane(conn: asyncpg.Connection, db: SchedulerDb, topics: Topics, sms_from: str) -> TickResult | None:
    """Run a slice of a lane no other replica holds (the lane stays locked until the caller commits); None
    when no round has such a lane."""
    taken = await db.take_lane(conn)
    if taken is None:
        return None
    record, lane = taken
    row = sequence_row(record)
    assert row.round_to is not None
    return await guarded(conn, db, topics, row, row.round_to,
                         lambda _: run_lane(conn, db, row, lane, topics, sms_from))  # fmt: skip


async def run_lane(conn: asyncpg.Connection, db: SchedulerDb, row: SequenceRow, lane: int, topics: Topics,
                   sms_from: str) -> TickResult:  # fmt: skip
    """The first SLICE contacts of the lane with work due, each run from the sequence's instant to the
    round's; the lane leaves the round when none of its work is due any more."""
    to = row.round_to
    assert to is not None
    contacts = await db.lane_contacts(conn, row.id, lane, to, loading.SLICE)
    enrollments, seen = await db.enrollments_seen(conn, row.id, contacts)
    inputs = [input_from(i) for i in await db.take_lane_inputs(conn, row.id, lane, to, contacts)]
    loaded = Loaded(inputs, enrollments, to, queues=await db.queue_items_of(conn, row.id, contacts))
    rt = await runtime_for(conn, db, row, Setup.of(row), state_from(row.state), loaded)
    floor = whole_seconds(row.advanced_to)
    for inp in inputs:
        rt.submit(clamp(inp, max(floor, seen.get(inp.contact or "", floor))))
    rt.advance(to)
    await write_outputs(conn, db, row, rt, to, topics, sms_from)
    await save_queues(conn, db, row.id, loaded, rt)
    await db.lane_done(conn, row.id, lane, to, len(inputs))
    return TickResult(row.id, rt.actions, len(rt.rejected), kind="lane")
