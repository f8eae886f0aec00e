"""What one tick loads of a sequence, and what it writes back: only the work that is due (issue 7.1).

A tick reads the enrollments whose timer is due, those its inputs name, and the head of each limiter
queue as far as the limit could grant in the span the tick covers (plus spare for items that take a
turn without a slot). Pause, resume, end and edit act on every enrollment: such a tick loads them all.
The engine stops at the end of a queue head it was given (`Runtime.overrun`); the tick then runs again
with a longer head, so the grants are exactly those of the whole queue.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import asyncpg

from seqflow.domain.activation import Activation, RateLimit
from seqflow.rules.engine import QueueItem, Runtime, timer_at
from seqflow.rules.gates import gates_for
from seqflow.rules.state import CHANNEL_FIELD, Enrollment, Input, SequenceState
from seqflow_scheduler.db import HELD_WHILE_PAUSED, RELEASES, SchedulerDb, SequenceRow
from seqflow_scheduler.snapshot import input_from

SEQUENCE_WIDE = frozenset({"pause", "resume", "end", "edit"})
SPARE = 16  # queue items past the free slots: stale, removed or blank-address items take a turn without one
UNLIMITED_HEAD = 1000  # an unlimited queue only holds what waits (removed enrollments); read it in pages
SLICE = 1000  # due enrollments and inputs one tick of a sequence without rate limits takes at most


def configure(slice_size: int) -> None:
    """This process's SLICE, from its settings (`SEQFLOW_SCHEDULER_SLICE`)."""
    global SLICE
    SLICE = slice_size


@dataclass
class Loaded:
    inputs: list[Input]
    enrollments: list[Enrollment]
    until: datetime  # how far the tick may advance: `now`, or the instant a slice of the due work ends at
    more: bool = False  # due work up to `now` was left for the next tick (which runs at once)
    refused: list[Input] = field(default_factory=list)  # user actions stamped while the sequence was paused
    queues: dict[str, list[QueueItem]] = field(default_factory=dict)
    horizon: dict[str, QueueItem] = field(default_factory=dict)  # the last item read of a longer queue


def head_size(limit: RateLimit | None, grants: list[datetime], start: datetime, now: datetime, scale: int) -> int:
    """How many queue items the limiter could grant in (start, now]: `count` per `per` the span covers,
    less the grants still in the window at the end of it."""
    if limit is None:
        return UNLIMITED_HEAD * scale
    per = limit.per_seconds
    windows = max(1, math.ceil((now - start).total_seconds() / per)) if per > 0 else 1
    recent = sum(1 for g in grants if g > now - timedelta(seconds=per))
    return (limit.count * windows - recent + SPARE) * scale


def whole_sequence(inputs: list[Input], activation: Activation, start: datetime, now: datetime) -> bool:
    """Whether this tick acts on every enrollment: a pause, resume, end or edit, or the end instant."""
    end = gates_for(activation).end
    return any(i.type in SEQUENCE_WIDE for i in inputs) or (end is not None and start < end <= now)


async def load(conn: asyncpg.Connection, db: SchedulerDb, row: SequenceRow, activation: Activation,
               state: SequenceState, now: datetime, scale: int) -> Loaded:  # fmt: skip
    """What the tick needs. A sequence without rate limits is worked in slices: its contacts do not share
    anything, so the first SLICE due enrollments and inputs (in instant order) run first and the tick stops
    at the instant the slice ends; the rest follow in the next tick at their own instants. A big activation
    is then many short ticks whose sends leave as each one commits. With a limit, every contact due at an
    instant must be in the same tick (the slots go in (due, contact) order), so nothing is sliced."""
    most = SLICE if unlimited(activation) else None
    due = await db.due_enrollments(conn, row.id, now, most)
    more = most is not None and len(due) >= most
    if more:
        now = max(timer_at(due[-1]) or now, row.advanced_to)  # later ones wait for the next tick
    keep = HELD_WHILE_PAUSED if state.paused and not await db.inbox_holds(conn, row.id, now, RELEASES) else ()
    taken, inputs_more = await db.take_inputs(conn, row.id, now, most, keep)
    inputs = [input_from(i) for i in taken]
    if inputs_more:
        now, more = max(inputs[-1].at, row.advanced_to), True
    whole = whole_sequence(inputs, activation, row.advanced_to, now)
    refused = refused_while_paused(inputs) if state.paused else []
    loaded = Loaded([i for i in inputs if i not in refused], [], now, more, refused=refused)
    limits = activation.rate_limits
    for channel in await db.queued_channels(conn, row.id):
        limit = getattr(limits, channel) if limits else None
        size = None if whole else head_size(limit, state.grants.get(channel, []), row.advanced_to, now, scale)
        items, more_items = await db.queue_head(conn, row.id, channel, size)
        loaded.queues[channel] = items
        if more_items:
            loaded.horizon[channel] = items[-1]
    named = {i.contact for i in inputs if i.contact} | {c for q in loaded.queues.values() for _, c, _ in q}
    base = await db.open_enrollments(conn, row.id) if whole else due
    have = {e.contact_id for e in base}
    loaded.enrollments = base + await db.enrollments_of(conn, row.id, named - have)
    return loaded


def refused_while_paused(inputs: list[Input]) -> list[Input]:
    """Of a paused sequence's inputs, the user actions stamped before its first resume: the sequence was paused
    at their instant, so they do not apply (a late resume applies at the engine's time, and would otherwise
    come first)."""
    resumed = min((i.at for i in inputs if i.type == "resume"), default=None)
    return [i for i in inputs if i.type in HELD_WHILE_PAUSED and (resumed is None or i.at < resumed)]


def unlimited(activation: Activation) -> bool:
    limits = activation.rate_limits
    return limits is None or all(getattr(limits, channel) is None for channel in CHANNEL_FIELD)


async def save_queues(conn: asyncpg.Connection, db: SchedulerDb, sequence_id: str, loaded: Loaded,
                      rt: Runtime) -> None:  # fmt: skip
    """Write back only the queue items the tick took or added."""
    for channel in CHANNEL_FIELD:
        before, after = set(loaded.queues.get(channel, ())), set(rt.queues[channel])
        if before != after:
            await db.update_queue(conn, sequence_id, channel, before - after, after - before)


async def wake_at(conn: asyncpg.Connection, db: SchedulerDb, sequence_id: str, rt: Runtime) -> datetime | None:
    """The earliest of the loaded engine's next work and every enrollment's indexed timer."""
    times = [t for t in (rt.next_wake(), await db.next_due(conn, sequence_id)) if t is not None]
    return min(times) if times else None
