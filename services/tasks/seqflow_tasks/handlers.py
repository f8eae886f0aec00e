"""Consumer handlers: each adds one decoded event's effect on the tasks read models to a `Batch`.

`apply_batch` runs a batch of envelopes in the caller's transaction: event ids are recorded in bulk and an
event seen before is skipped (idempotent), what the handlers read is loaded once, and the writes run as one
statement per kind of write where that is the same as row by row, else `executemany` (readmodel.py).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel

from seqflow.messaging import catalog  # noqa: F401 - registers every payload type with the codec
from seqflow.messaging.codec import PoisonMessage
from seqflow.messaging.dispatch import SendResult
from seqflow.messaging.engagement import Engagement, Unsubscribed
from seqflow.messaging.envelope import Envelope
from seqflow.messaging.rollup import ContactChanged, MemberAdded, MemberRemoved
from seqflow.messaging.work import EnrollmentChanged, SequenceStateChanged, TaskDue
from seqflow_tasks.db import ACTIVITY_COLUMNS, INSERT_ACTIVITY, SET_MEMBER, SET_SEQUENCE_STATE, UPSERT_CONTACT, Conn
from seqflow_tasks.readmodel import CLOSE_TASKS, INSERT_ENGAGEMENT, INSERT_SEND, INSERT_TASK, QUARANTINE, Batch

FINISHED = frozenset({"completed", "exited", "ended"})
CLOSES_TASK = frozenset({"moved", "completed", "exited", "retry"})
PAUSES = frozenset({"removed"})
RESUMES = frozenset({"restored", "entered"})
SEQUENCE_STATES = {"sequence_paused": "paused", "sequence_resumed": "active", "sequence_ended": "ended"}

Decoded = tuple[Envelope, BaseModel]


def consumed_here(env: Envelope, payload: BaseModel) -> None:
    """Poison when the tasks service does not consume the message's type."""
    if type(payload) not in HANDLERS:
        raise PoisonMessage(f"the tasks service does not consume {env.type!r}")


async def apply_batch(batch: Batch, conn: Conn, items: Sequence[Decoded]) -> int:
    """Apply each envelope once, in order, inside the caller's transaction; returns how many were new."""
    new = await batch.first_times(conn, [env.id for env, _ in items])
    todo = []
    for env, payload in items:
        if env.id in new:
            new.discard(env.id)  # the same event twice in one batch applies once
            todo.append((env, payload))
    changes = [p for _, p in todo if isinstance(p, EnrollmentChanged)]
    await batch.load(conn, {(p.sequence_id, p.contact_id) for p in changes}, {p.sequence_id for p in changes})
    for env, payload in todo:
        HANDLERS[type(payload)](batch, env, payload)
    await batch.flush(conn)
    return len(todo)


# exits that end the enrollment at once from outside (SPEC §6; GDPR erasure): every open task is cancelled
FORCED_EXITS = frozenset({"unsubscribed", "erased"})


def on_task_due(b: Batch, env: Envelope, p: Any) -> None:
    b.add(INSERT_TASK, p.sequence_id, p.contact_id, p.step, p.attempt, p.kind, p.type, p.priority, p.branch,
          p.step_index, p.instructions, p.script, json.dumps(p.outcomes), p.reason, p.at)  # fmt: skip


def on_enrollment_changed(b: Batch, env: Envelope, p: Any) -> None:
    b.put_enrollment(next_enrollment(b.enrollments.get((p.sequence_id, p.contact_id)) or {}, p))
    if p.action == "ended" or (p.action == "exited" and p.detail.get("reason") in FORCED_EXITS):
        b.add(CLOSE_TASKS, p.sequence_id, p.contact_id, None, "cancelled", p.at)  # every open task goes
    elif p.action in CLOSES_TASK and p.step:
        b.add(CLOSE_TASKS, p.sequence_id, p.contact_id, p.step, "done", p.at)
    activity(b, sequence_activity(env, p, b.sequences.get(p.sequence_id)))


def activity(b: Batch, a: dict[str, Any]) -> None:
    b.add(INSERT_ACTIVITY, *(a.get(k) for k in ACTIVITY_COLUMNS))


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


def on_sequence_state(b: Batch, env: Envelope, p: Any) -> None:
    if p.action == "sequence_quarantined":  # the scheduler set it aside: the overview shows `error`
        b.add(QUARANTINE, p.sequence_id, p.at)
        return
    state = SEQUENCE_STATES.get(p.action)
    if state is not None:
        b.add(SET_SEQUENCE_STATE, p.sequence_id, state, p.at)
    if state == "ended":
        b.add(CLOSE_TASKS, p.sequence_id, None, None, "cancelled", p.at)


def on_send_result(b: Batch, env: Envelope, p: Any) -> None:
    b.add(INSERT_SEND, p.idempotency_key, p.sequence_id, p.contact_id, p.step, p.channel, p.status, p.message_id,
          p.to, p.at)  # fmt: skip


def on_engagement(b: Batch, env: Envelope, p: Any) -> None:
    b.add(INSERT_ENGAGEMENT, p.sequence_id, p.contact_id, p.step, p.kind, p.message_id, p.at)


def on_unsubscribed(b: Batch, env: Envelope, p: Any) -> None:
    """Suppression is the dispatcher's job; the tasks service only notes it on the contact."""
    if p.contact_id:
        text = f"Unsubscribed {p.address}"
        activity(b, {"event_id": env.id, "contact_id": p.contact_id, "sequence_id": p.sequence_id,
                     "kind": "SEQUENCE", "action": "unsubscribed", "text": text, "at": p.at})  # fmt: skip


def on_member_added(b: Batch, env: Envelope, p: Any) -> None:
    on_contact_changed(b, env, p)
    b.add(SET_MEMBER, p.rollup_id, p.contact.id, True, None, p.at)


def on_member_removed(b: Batch, env: Envelope, p: Any) -> None:
    b.add(SET_MEMBER, p.rollup_id, p.contact_id, False, p.how, p.at)


def on_contact_changed(b: Batch, env: Envelope, p: Any) -> None:
    b.add(UPSERT_CONTACT, p.contact.id, json.dumps(p.contact.model_dump()), p.at)


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
