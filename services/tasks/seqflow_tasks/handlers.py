"""Consumer handlers: each applies one decoded event to the tasks read models (idempotent)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel

from seqflow.messaging import catalog  # noqa: F401 - registers every payload type with the codec
from seqflow.messaging.codec import PoisonMessage, decode_payload
from seqflow.messaging.dispatch import SendResult
from seqflow.messaging.engagement import Engagement, Unsubscribed
from seqflow.messaging.envelope import Envelope
from seqflow.messaging.rollup import ContactChanged, MemberAdded, MemberRemoved
from seqflow.messaging.work import EnrollmentChanged, SequenceStateChanged, TaskDue
from seqflow_tasks.db import Conn, Store

FINISHED = frozenset({"completed", "exited", "ended"})
CLOSES_TASK = frozenset({"moved", "completed", "exited", "retry"})
PAUSES = frozenset({"removed"})
RESUMES = frozenset({"restored", "entered"})
SEQUENCE_STATES = {"sequence_paused": "paused", "sequence_resumed": "active", "sequence_ended": "ended"}


async def handle(store: Store, conn: Conn, env: Envelope) -> None:
    """Apply one envelope once (event ids are remembered); unknown types are poison."""
    payload = decode_payload(env)
    handler = HANDLERS.get(type(payload))
    if handler is None:
        raise PoisonMessage(f"the tasks service does not consume {env.type!r}")
    async with conn.transaction():
        if await store.first_time(conn, env.id):
            await handler(store, conn, env, payload)


async def on_task_due(store: Store, c: Conn, env: Envelope, p: Any) -> None:
    await store.insert_task(c, p.model_dump())


async def on_enrollment_changed(store: Store, c: Conn, env: Envelope, p: Any) -> None:
    old = await store.enrollment(c, p.sequence_id, p.contact_id) or {}
    await store.upsert_enrollment(c, next_enrollment(old, p))
    if p.action in CLOSES_TASK and p.step:
        await store.close_tasks(c, p.sequence_id, p.contact_id, p.step, "done", p.at)
    elif p.action == "ended":
        await store.close_tasks(c, p.sequence_id, p.contact_id, None, "cancelled", p.at)
    seq = await store.sequence(c, p.sequence_id)
    await store.insert_activity(c, sequence_activity(env, p, seq))


def next_enrollment(old: dict[str, Any], p: EnrollmentChanged) -> dict[str, Any]:
    paused = True if p.action in PAUSES else False if p.action in RESUMES else old.get("paused", False)
    outcome = p.detail.get("outcome") if p.action == "outcome" else old.get("last_outcome")
    last_step = p.step if p.action in ("outcome", "moved", "email_sent", "sms_sent") else old.get("last_step")
    finished = p.at if p.status in FINISHED and not old.get("finished_at") else old.get("finished_at")
    return {
        "sequence_id": p.sequence_id, "contact_id": p.contact_id, "status": p.status, "phase": p.phase,
        "step": p.step, "next_at": p.next_at, "steps_done": p.steps_done, "paused": paused,
        "last_step": last_step, "last_outcome": outcome,
        "entered_at": old.get("entered_at") or (p.at if p.action == "entered" else None),
        "finished_at": finished, "updated_at": p.at,
    }  # fmt: skip


def sequence_activity(env: Envelope, p: EnrollmentChanged, seq: dict[str, Any] | None) -> dict[str, Any]:
    """A SEQUENCE activity: sequence name, step, outcome and the time in the sequence timezone."""
    name = seq["name"] if seq else p.sequence_id
    tz = ZoneInfo(seq["timezone"]) if seq else None
    outcome = p.detail.get("outcome") or p.detail.get("reason")
    text = f"{name}: {p.action.replace('_', ' ')}" + (f" at step {p.step}" if p.step else "")
    if outcome:
        text += f" ({outcome})"
    return {
        "event_id": env.id, "contact_id": p.contact_id, "sequence_id": p.sequence_id, "kind": "SEQUENCE",
        "action": p.action, "step": p.step, "outcome": outcome, "text": text,
        "local_time": local_time(p.at, tz), "at": p.at,
    }  # fmt: skip


def local_time(at: datetime, tz: ZoneInfo | None) -> str:
    local = at.astimezone(tz) if tz else at
    return local.strftime("%Y-%m-%d %H:%M %Z")


async def on_sequence_state(store: Store, c: Conn, env: Envelope, p: Any) -> None:
    state = SEQUENCE_STATES.get(p.action)
    if state is not None:
        await store.set_sequence_state(c, p.sequence_id, state, p.at)
    if state == "ended":
        await store.cancel_sequence_tasks(c, p.sequence_id, p.at)


async def on_send_result(store: Store, c: Conn, env: Envelope, p: Any) -> None:
    await store.insert_send(c, p.model_dump())


async def on_engagement(store: Store, c: Conn, env: Envelope, p: Any) -> None:
    await store.insert_engagement(c, p.model_dump())


async def on_unsubscribed(store: Store, c: Conn, env: Envelope, p: Any) -> None:
    """Suppression is the dispatcher's job; the tasks service only notes it on the contact."""
    if p.contact_id:
        text = f"Unsubscribed {p.address}"
        await store.insert_activity(
            c, {"event_id": env.id, "contact_id": p.contact_id, "sequence_id": p.sequence_id,
                "kind": "SEQUENCE", "action": "unsubscribed", "text": text, "at": p.at},
        )  # fmt: skip


async def on_member_added(store: Store, c: Conn, env: Envelope, p: Any) -> None:
    await store.upsert_contact(c, p.contact.model_dump(), p.at)
    await store.set_member(c, p.rollup_id, p.contact.id, True, None, p.at)


async def on_member_removed(store: Store, c: Conn, env: Envelope, p: Any) -> None:
    await store.set_member(c, p.rollup_id, p.contact_id, False, p.how, p.at)


async def on_contact_changed(store: Store, c: Conn, env: Envelope, p: Any) -> None:
    await store.upsert_contact(c, p.contact.model_dump(), p.at)


HANDLERS: dict[type[BaseModel], Any] = {
    TaskDue: on_task_due,
    EnrollmentChanged: on_enrollment_changed,
    SequenceStateChanged: on_sequence_state,
    SendResult: on_send_result,
    Engagement: on_engagement,
    Unsubscribed: on_unsubscribed,
    MemberAdded: on_member_added,
    MemberRemoved: on_member_removed,
    ContactChanged: on_contact_changed,
}
