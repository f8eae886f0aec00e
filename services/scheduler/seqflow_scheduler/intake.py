"""Consumed events → the scheduler's read copies and per-sequence inbox (applied at the next tick).

Every handler is idempotent: inbox rows are unique per (sequence, event id), copies are upserts.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime
from typing import Any

import asyncpg

from seqflow.domain.activation import Activation
from seqflow.domain.template import Template
from seqflow.messaging.base import ContactData
from seqflow.messaging.dispatch import SendResult
from seqflow.messaging.engagement import Engagement, Unsubscribed
from seqflow.messaging.envelope import Envelope
from seqflow.messaging.lifecycle import SequenceActivated, SequenceChanged
from seqflow.messaging.outcomes import TaskAction
from seqflow.messaging.rollup import ContactChanged, MemberAdded, MemberRemoved
from seqflow.rules.gates import gates_for, whole_seconds
from seqflow.rules.state import Input, SequenceState
from seqflow_scheduler.db import SchedulerDb, SequenceRow

log = logging.getLogger("seqflow.scheduler")


def contact_fields(c: ContactData) -> dict[str, Any]:
    return c.model_dump()


async def on_member_added(conn: asyncpg.Connection, db: SchedulerDb, env: Envelope, p: MemberAdded) -> None:
    await db.lock_rollup(conn, p.rollup_id)
    await db.upsert_contact(conn, p.contact.id, contact_fields(p.contact))
    await db.set_member(conn, p.rollup_id, p.contact.id, True)
    for seq in await db.sequences_on_rollup(conn, p.rollup_id):
        await db.add_input(conn, seq, str(env.id), Input(whole_seconds(p.at), "member_added", p.contact.id))
    await start_ready(conn, db, p.rollup_id)


async def start_ready(conn: asyncpg.Connection, db: SchedulerDb, rollup_id: str, overdue: bool = False) -> None:
    """Start the sequences on this rollup whose roster has fully arrived (or, `overdue`, that waited too
    long): every member present then enters at the activation instant, all in one tick, so the
    (due, contact id) order holds."""
    waiting = await db.awaiting_start(conn, rollup_id)
    if not waiting:
        return
    known = await db.known_members(conn, rollup_id)
    for row in waiting:
        roster = set(json.loads(row["roster"]) if row["roster"] else [])
        if overdue or roster <= known:
            if not roster <= known:
                log.warning("starting without the whole roster", extra={"sequence": row["id"],
                            "missing": len(roster - known)})  # fmt: skip
            at = whole_seconds(row["activated_at"])
            for contact_id in await db.present_members(conn, rollup_id):
                await db.add_input(conn, row["id"], f"start:{contact_id}", Input(at, "member_added", contact_id))
            await db.mark_started(conn, row["id"], at)


async def start_overdue(conn: asyncpg.Connection, db: SchedulerDb, activated_before: datetime) -> None:
    """A roster member whose event never comes (dead-lettered) must not keep a sequence from starting."""
    for rollup_id in await db.rollups_awaiting(conn, activated_before):
        await db.lock_rollup(conn, rollup_id)
        await start_ready(conn, db, rollup_id, overdue=True)


async def on_member_removed(conn: asyncpg.Connection, db: SchedulerDb, env: Envelope, p: MemberRemoved) -> None:
    await db.lock_rollup(conn, p.rollup_id)
    await db.set_member(conn, p.rollup_id, p.contact_id, False)
    for seq in await db.sequences_on_rollup(conn, p.rollup_id):
        await db.add_input(conn, seq, str(env.id), Input(whole_seconds(p.at), p.how, p.contact_id))


async def on_contact_changed(conn: asyncpg.Connection, db: SchedulerDb, env: Envelope, p: ContactChanged) -> None:
    fields = contact_fields(p.contact)
    await db.upsert_contact(conn, p.contact.id, fields)
    for seq in await db.sequences_enrolling(conn, p.contact.id):
        inp = Input(whole_seconds(p.at), "contact_updated", p.contact.id, fields=fields)
        await db.add_input(conn, seq, str(env.id), inp)


async def on_activated(conn: asyncpg.Connection, db: SchedulerDb, env: Envelope, p: SequenceActivated) -> None:
    """Create the sequence's engine state and enter every contact on the rollup now."""
    activation = Activation.model_validate(p.activation)
    Template.model_validate(p.template)  # the API validated it; a bad copy is poison, not a crash later
    at = whole_seconds(p.activated_at)
    row = SequenceRow(p.sequence_id, p.name, p.rollup_id, p.template, p.activation,
                      p.primary_user.model_dump(), at, {}, at)  # fmt: skip
    state = SequenceState(paused=gates_for(activation).begin > at)
    await db.lock_rollup(conn, p.rollup_id)
    if await db.create_sequence(conn, row, state, p.roster):
        await start_ready(conn, db, p.rollup_id)


async def on_changed(conn: asyncpg.Connection, db: SchedulerDb, env: Envelope, p: SequenceChanged) -> None:
    fields = {"template": p.template, "activation": p.activation} if p.action == "edit" else None
    await db.add_input(conn, p.sequence_id, str(env.id), Input(whole_seconds(p.at), p.action, fields=fields))


async def on_task_action(conn: asyncpg.Connection, db: SchedulerDb, env: Envelope, p: TaskAction) -> None:
    inp = Input(whole_seconds(p.at), p.action, p.contact_id, p.step, p.outcome)
    await db.add_input(conn, p.sequence_id, str(env.id), inp)


async def on_engagement(conn: asyncpg.Connection, db: SchedulerDb, env: Envelope, p: Engagement) -> None:
    inp = Input(whole_seconds(p.at), p.kind, p.contact_id, p.step)
    await db.add_input(conn, p.sequence_id, str(env.id), inp)


async def on_unsubscribed(conn: asyncpg.Connection, db: SchedulerDb, env: Envelope, p: Unsubscribed) -> None:
    await db.suppress(conn, p.address.strip().lower())


async def on_send_result(conn: asyncpg.Connection, db: SchedulerDb, env: Envelope, p: SendResult) -> None:
    """Provider outcomes reach the sequence (SPEC §6): a hard bounce is a `bounced` event on the step and
    suppresses the address; a send skipped as suppressed is an `unsubscribed` event. Sent and failed change
    nothing here (the attempt keeps its slot)."""
    at = whole_seconds(p.at)
    if p.status == "bounced":
        if p.to.strip():
            await db.suppress(conn, p.to.strip().lower())
        await db.add_input(conn, p.sequence_id, str(env.id), Input(at, "bounced", p.contact_id, p.step))
    elif p.status == "suppressed":
        await db.add_input(conn, p.sequence_id, str(env.id), Input(at, "unsubscribed", p.contact_id))


HANDLERS = {
    "member_added": on_member_added,
    "member_removed": on_member_removed,
    "contact_changed": on_contact_changed,
    "sequence_activated": on_activated,
    "sequence_changed": on_changed,
    "task_action": on_task_action,
    "engagement": on_engagement,
    "unsubscribed": on_unsubscribed,
    "send_result": on_send_result,
}
