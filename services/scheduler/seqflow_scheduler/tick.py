"""One tick of one sequence: load its engine, apply the inbox, advance to now, save, fill the outbox.

The engine is `seqflow.rules.engine.Runtime`, the same one `seqflow simulate` drives; this module only
moves state between PostgreSQL and it, and turns its actions into messages.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from seqflow.domain.activation import Activation
from seqflow.domain.template import Template
from seqflow.messaging.topics import Topics
from seqflow.rules.engine import Runtime
from seqflow.rules.gates import gates_for, whole_seconds
from seqflow.rules.state import Action, Enrollment, Input
from seqflow_scheduler.db import SchedulerDb, SequenceRow
from seqflow_scheduler.outputs import Outputs
from seqflow_scheduler.quarantine import TRANSIENT, quarantine
from seqflow_scheduler.snapshot import input_from, state_from


@dataclass
class TickResult:
    sequence_id: str
    actions: list[Action]
    rejected: int
    quarantined: bool = False


def build_runtime(
    row: SequenceRow, contacts: dict[str, dict[str, Any]], enrollments: list[Enrollment], suppressed: set[str]
) -> Runtime:
    activation = Activation.model_validate(row.activation)
    limits = activation.rate_limits
    return Runtime(
        Template.model_validate(row.template),
        gates_for(activation),
        whole_seconds(row.activated_at),
        contacts,
        limits={"email": limits.email, "sms": limits.sms} if limits else None,
        state=state_from(row.state),
        enrollments=enrollments,
        now=whole_seconds(row.advanced_to),
        suppressed=suppressed,
    )


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
    enrollments = await db.open_enrollments(conn, row.id)
    inputs = [input_from(i) for i in await db.take_inputs(conn, row.id)]
    wanted = {e.contact_id for e in enrollments} | {i.contact for i in inputs if i.contact}
    contacts = await db.contacts(conn, wanted)
    addresses = {str(c.get(f) or "").strip().lower() for c in contacts.values() for f in ("email", "phone")}
    rt = build_runtime(row, contacts, enrollments, await db.suppressed(conn, addresses - {""}))
    floor = whole_seconds(row.advanced_to)
    for inp in inputs:
        rt.submit(clamp(inp, floor))
    now = max(whole_seconds(now), floor)
    rt.advance(now)
    changed = [rt.enr[c] for c in rt.dirty if c in rt.enr]
    await db.save_enrollments(conn, row.id, changed)
    await db.save_sequence(conn, row.id, rt.export_state(), now, rt.next_wake(), len(inputs))
    if rt.edits:
        await db.save_edits(conn, row.id, rt.edits.get("template"), rt.edits.get("activation"))
    out = Outputs(row, rt, topics, sms_from)
    await db.add_outbox(conn, out.messages())
    return TickResult(row.id, rt.actions, len(rt.rejected))
