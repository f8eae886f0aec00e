"""One tick of one sequence: load its engine, apply the inbox, advance to now, save, fill the outbox.

The engine is `seqflow.rules.engine.Runtime`, the same one `seqflow simulate` drives; this module only
moves state between PostgreSQL and it, and turns its actions into messages.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import asyncpg

from seqflow.domain.activation import Activation
from seqflow.domain.template import Template
from seqflow.messaging.topics import Topics
from seqflow.rules.engine import Runtime
from seqflow.rules.gates import gates_for, whole_seconds
from seqflow.rules.state import CHANNEL_FIELD, Action, Input, Rejected, SequenceState
from seqflow_scheduler.db import SchedulerDb, SequenceRow
from seqflow_scheduler.load import Loaded, load, save_queues, wake_at
from seqflow_scheduler.outputs import Outputs
from seqflow_scheduler.quarantine import TRANSIENT, quarantine
from seqflow_scheduler.snapshot import state_from

log = logging.getLogger("seqflow.scheduler")
ROSTER_PATIENCE = timedelta(seconds=60)  # how long a sequence waits for its roster's membership events


@dataclass
class TickResult:
    sequence_id: str
    actions: list[Action]
    rejected: int
    quarantined: bool = False


@dataclass(frozen=True)
class Setup:
    """The sequence's parsed settings and template copy."""

    activation: Activation
    template: Template


class QueueOverrun(Exception):
    """The engine reached the end of a limiter queue head that was too short: load more and run again."""


def build_runtime(row: SequenceRow, setup: Setup, state: SequenceState, loaded: Loaded,
                  contacts: dict[str, dict[str, Any]], suppressed: set[str], holding: bool) -> Runtime:  # fmt: skip
    limits = setup.activation.rate_limits
    state.queue = loaded.queues
    return Runtime(
        setup.template,
        gates_for(setup.activation),
        whole_seconds(row.activated_at),
        contacts,
        limits={"email": limits.email, "sms": limits.sms} if limits else None,
        state=state,
        enrollments=loaded.enrollments,
        now=whole_seconds(row.advanced_to),
        suppressed=suppressed,
        hold_limiters=crowded_channels(row, setup.template, setup.activation) if holding else frozenset(),
        queue_horizon=loaded.horizon,
    )


def holds_at_activation(row: SequenceRow, now: datetime) -> bool:
    """While roster members are still arriving (for at most ROSTER_PATIENCE), the sequence stays at its
    activation instant, so a late member still enters then, as the simulator has it."""
    return row.roster_missing > 0 and now < row.activated_at + ROSTER_PATIENCE


def crowded_channels(row: SequenceRow, template: Template, activation: Activation) -> frozenset[str]:
    """Limited channels that cannot grant every roster member's sends of the activation instant: they wait
    for the whole roster, so the slots go in (due, contact id) order. Other channels need no order."""
    limits = activation.rate_limits
    out = set()
    for channel in CHANNEL_FIELD:
        limit = getattr(limits, channel) if limits else None
        steps = sum(1 for s in template.steps() if s.channel == channel)
        if limit is not None and limit.count < row.roster_size * steps:
            out.add(channel)
    return frozenset(out)


def clamp(inp: Input, floor: datetime) -> Input:
    """An input that arrives after the engine moved past its instant applies at the engine's time."""
    return inp if inp.at >= floor else Input(floor, inp.type, inp.contact, inp.step, inp.outcome, inp.fields)


async def tick_one(conn: asyncpg.Connection, db: SchedulerDb, topics: Topics, sms_from: str,
                   now: datetime) -> TickResult | None:  # fmt: skip
    """Claim one sequence with due work and run it up to `now`; None when nothing is due. A sequence that
    fails (its engine or its data) rolls back alone (a savepoint) and is quarantined; the caller goes on."""
    row = await db.claim_due(conn, now)
    if row is None:
        return None
    scale = 1
    while True:
        try:
            async with conn.transaction():
                return await advance(conn, db, row, topics, sms_from, now, scale)
        except QueueOverrun:
            scale *= 4  # rolled back: run the same tick again with a longer queue head
        except TRANSIENT:
            raise  # the database went away: nothing is wrong with the sequence
        except Exception as exc:  # noqa: BLE001 - any failure of one sequence must not stop the others
            await quarantine(conn, db, topics, row, now, exc)
            return TickResult(row.id, [], 0, quarantined=True)


async def advance(conn: asyncpg.Connection, db: SchedulerDb, row: SequenceRow, topics: Topics, sms_from: str,
                  now: datetime, scale: int = 1) -> TickResult:  # fmt: skip
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
    setup = Setup(Activation.model_validate(row.activation), Template.model_validate(row.template))
    state = state_from(row.state)
    loaded = await load(conn, db, row, setup.activation, state, now, scale)
    now = loaded.until
    wanted = {e.contact_id for e in loaded.enrollments} | {i.contact for i in loaded.inputs if i.contact}
    contacts = await db.contacts(conn, wanted)
    addresses = {str(c.get(f) or "").strip().lower() for c in contacts.values() for f in ("email", "phone")}
    suppressed = await db.suppressed(conn, addresses - {""})
    rt = build_runtime(row, setup, state, loaded, contacts, suppressed, holding)
    for inp in loaded.inputs:
        rt.submit(clamp(inp, floor))
    rt.rejected += [Rejected(inp, "paused") for inp in loaded.refused]
    rt.advance(now)
    if rt.overrun:
        raise QueueOverrun(sorted(rt.overrun))
    await save(conn, db, row, loaded, rt, now, holding)
    await db.add_outbox(conn, Outputs(row, rt, topics, sms_from).messages())
    return TickResult(row.id, rt.actions, len(rt.rejected))


async def save(conn: asyncpg.Connection, db: SchedulerDb, row: SequenceRow, loaded: Loaded, rt: Runtime,
               now: datetime, holding: bool) -> None:  # fmt: skip
    await db.save_enrollments(conn, row.id, [rt.enr[c] for c in rt.dirty if c in rt.enr])
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
