"""Consumed events → the scheduler's read copies and per-sequence inbox (applied at the next tick).

Every handler is idempotent: inbox rows are unique per (sequence, event id), copies are upserts.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
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


def contact_fields(c: ContactData) -> dict[str, Any]:
    return c.model_dump()


async def on_member_added(conn: asyncpg.Connection, db: SchedulerDb, env: Envelope, p: MemberAdded) -> None:
    await on_members_added(conn, db, [(env, p)])


async def on_members_added(
    conn: asyncpg.Connection, db: SchedulerDb, items: Sequence[tuple[Envelope, MemberAdded]]
) -> None:
    """Members of a running sequence's rollup enter; one its activation's roster awaited enters at the
    activation instant, as if it had been in the copy then (the simulator's view of the rollup). A batch of
    events is a few statements, in the events' order; each event is still one inbox row per sequence."""
    rollups = sorted({p.rollup_id for _, p in items})
    for rollup_id in rollups:  # in a fixed order: two batches never wait on each other's locks
        await db.lock_rollup(conn, rollup_id)
    await db.upsert_contacts(conn, {p.contact.id: contact_fields(p.contact) for _, p in items})
    await db.set_members(conn, {(p.rollup_id, p.contact.id): True for _, p in items})
    await db.rosters_arrived(conn, [(p.rollup_id, p.contact.id) for _, p in items])
    running = {r: await db.sequences_on_rollup(conn, r) for r in rollups}
    rows = []
    for env, p in items:
        at = whole_seconds(p.at)
        for seq in running[p.rollup_id]:
            inp = Input(max(at, whole_seconds(seq["activated_at"])), "member_added", p.contact.id)
            rows.append((seq["id"], str(env.id), inp))
    await db.add_inputs(conn, rows)


async def on_member_removed(conn: asyncpg.Connection, db: SchedulerDb, env: Envelope, p: MemberRemoved) -> None:
    await db.lock_rollup(conn, p.rollup_id)
    await db.set_member(conn, p.rollup_id, p.contact_id, False)
    for seq in await db.sequences_on_rollup(conn, p.rollup_id):
        await db.add_input(conn, seq["id"], str(env.id), Input(whole_seconds(p.at), p.how, p.contact_id))


async def on_contact_changed(conn: asyncpg.Connection, db: SchedulerDb, env: Envelope, p: ContactChanged) -> None:
    fields = contact_fields(p.contact)
    await db.upsert_contact(conn, p.contact.id, fields)
    for seq in await db.sequences_enrolling(conn, p.contact.id):
        inp = Input(whole_seconds(p.at), "contact_updated", p.contact.id, fields=fields)
        await db.add_input(conn, seq, str(env.id), inp)


async def on_activated(conn: asyncpg.Connection, db: SchedulerDb, env: Envelope, p: SequenceActivated) -> None:
    """Create the sequence's engine state and enter every member present now at the activation instant. It
    starts at once: roster members still on their way enter at that instant when they arrive (see tick)."""
    activation = Activation.model_validate(p.activation)
    Template.model_validate(p.template)  # the API validated it; a bad copy is poison, not a crash later
    at = whole_seconds(p.activated_at)
    row = SequenceRow(p.sequence_id, p.name, p.rollup_id, p.template, p.activation,
                      p.primary_user.model_dump(), at, {}, at)  # fmt: skip
    state = SequenceState(paused=gates_for(activation).begin > at)
    await db.lock_rollup(conn, p.rollup_id)
    if await db.create_sequence(conn, row, state, p.roster):
        await db.enter_present(conn, p.sequence_id, p.rollup_id, at)
        if p.roster:
            await db.await_roster(conn, row, p.roster)


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
    """Unsubscribe acts at once (SPEC §6): the address goes on the suppression list (for sequences a contact
    joins later) and every unfinished enrollment of each contact holding it, and of the named contact, gets an
    `unsubscribed` input at the event's instant. One event id per contact: a sequence may hold two contacts
    sharing the address, and a redelivered event adds nothing."""
    address = p.address.strip().lower()
    await db.suppress(conn, address)
    contacts = set(await db.contacts_with_address(conn, address)) if address else set()
    if p.contact_id:
        contacts.add(p.contact_id)
    at = whole_seconds(p.at)
    for contact_id, sequence_id in await db.open_enrollments_of(conn, contacts):
        await db.add_input(conn, sequence_id, f"{env.id}:{contact_id}", Input(at, "unsubscribed", contact_id))


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

# Event types whose consecutive runs in a consumed batch are applied together (a few statements a run).
BatchHandler = Callable[[asyncpg.Connection, SchedulerDb, Sequence[tuple[Envelope, Any]]], Awaitable[None]]
BATCH_HANDLERS: dict[str, BatchHandler] = {"member_added": on_members_added}
