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
from seqflow.rules.state import CHANNEL_FIELD, Action, Enrollment, Input
from seqflow_scheduler.db import SchedulerDb, SequenceRow
from seqflow_scheduler.outputs import Outputs
from seqflow_scheduler.quarantine import TRANSIENT, quarantine
from seqflow_scheduler.snapshot import input_from, state_from

log = logging.getLogger("seqflow.scheduler")
ROSTER_PATIENCE = timedelta(seconds=60)  # how long a sequence waits for its roster's membership events


@dataclass
class TickResult:
    sequence_id: str
    actions: list[Action]
    rejected: int
    quarantined: bool = False


def build_runtime(
    row: SequenceRow, contacts: dict[str, dict[str, Any]], enrollments: list[Enrollment], suppressed: set[str],
    holding: bool = False,
) -> Runtime:  # fmt: skip
    activation = Activation.model_validate(row.activation)
    template = Template.model_validate(row.template)
    limits = activation.rate_limits
    return Runtime(
        template,
        gates_for(activation),
        whole_seconds(row.activated_at),
        contacts,
        limits={"email": limits.email, "sms": limits.sms} if limits else None,
        state=state_from(row.state),
        enrollments=enrollments,
        now=whole_seconds(row.advanced_to),
        suppressed=suppressed,
        hold_limiters=crowded_channels(row, template, activation) if holding else frozenset(),
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
    try:
        async with conn.transaction():
            return await advance(conn, db, row, topics, sms_from, now)
    except TRANSIENT:
        raise  # the database went away: nothing is wrong with the sequence
    except Exception as exc:  # noqa: BLE001 - any failure of one sequence must not stop the others
        await quarantine(conn, db, topics, row, now, exc)
        return TickResult(row.id, [], 0, quarantined=True)


async def advance(conn: asyncpg.Connection, db: SchedulerDb, row: SequenceRow, topics: Topics, sms_from: str,
                  now: datetime) -> TickResult:  # fmt: skip
    """Load the sequence's engine, apply its inbox, advance it to `now`, save it and fill the outbox."""
    holding = holds_at_activation(row, now)
    if holding:
        now = row.activated_at
    elif row.roster_missing:
        log.warning("starting without the whole roster", extra={"sequence": row.id, "reason":
                    f"{row.roster_missing} roster members never arrived"})  # fmt: skip
        await db.forget_roster(conn, row.id)
    enrollments = await db.open_enrollments(conn, row.id)
    inputs = [input_from(i) for i in await db.take_inputs(conn, row.id, now)]
    wanted = {e.contact_id for e in enrollments} | {i.contact for i in inputs if i.contact}
    contacts = await db.contacts(conn, wanted)
    addresses = {str(c.get(f) or "").strip().lower() for c in contacts.values() for f in ("email", "phone")}
    rt = build_runtime(row, contacts, enrollments, await db.suppressed(conn, addresses - {""}), holding)
    floor = whole_seconds(row.advanced_to)
    for inp in inputs:
        rt.submit(clamp(inp, floor))
    now = max(whole_seconds(now), floor)
    rt.advance(now)
    changed = [rt.enr[c] for c in rt.dirty if c in rt.enr]
    await db.save_enrollments(conn, row.id, changed)
    wake = row.activated_at + ROSTER_PATIENCE if holding else rt.next_wake()  # an arrival wakes it sooner
    await db.save_sequence(conn, row.id, rt.export_state(), now, wake, len(inputs))
    if rt.edits:
        await db.save_edits(conn, row.id, rt.edits.get("template"), rt.edits.get("activation"))
    out = Outputs(row, rt, topics, sms_from)
    await db.add_outbox(conn, out.messages())
    return TickResult(row.id, rt.actions, len(rt.rejected))
