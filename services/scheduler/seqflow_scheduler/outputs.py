"""Engine actions → messages: sends for the dispatcher, tasks and enrollment changes for the tasks service."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel

from seqflow.channels.message_id import idempotency_key
from seqflow.channels.render import render
from seqflow.messaging.codec import encode_wrapped
from seqflow.messaging.topics import Topics
from seqflow.messaging.work import EnrollmentChanged, SendLimit, SendRequested, SequenceStateChanged, TaskDue
from seqflow.rules.engine import Runtime
from seqflow.rules.ratelimit import Unlimited
from seqflow.rules.state import CHANNEL_FIELD, Action
from seqflow_scheduler.db import SequenceRow

SEQUENCE_ACTIONS = frozenset({"sequence_paused", "sequence_resumed", "sequence_ended", "sequence_edited"})
INTERNAL = frozenset({"rate_limited", "deferred"})

Row = tuple[str, str, bytes]


def message_row(topic: str, type_: str, key: str, payload: BaseModel, at: datetime) -> Row:
    """One outbox row: the topic, the key and the encoded envelope."""
    return topic, key, encode_wrapped(type_, key, payload, at)


class Outputs:
    def __init__(self, row: SequenceRow, rt: Runtime, topics: Topics, sms_from: str) -> None:
        self.row, self.rt, self.topics, self.sms_from = row, rt, topics, sms_from

    def messages(self) -> list[Row]:
        rows: list[Row] = []
        for a in self.rt.actions:
            rows.extend(self._for(a))
        return rows

    def _for(self, a: Action) -> list[Row]:
        if a.action in INTERNAL:
            return []
        if a.action in SEQUENCE_ACTIONS:
            p = SequenceStateChanged(sequence_id=self.row.id, action=a.action, at=a.at)
            return [self._row(self.topics.enrollment_changes, "sequence_state_changed", self.row.id, p, a)]
        key = f"{self.row.id}:{a.contact}"
        rows = [self._row(self.topics.enrollment_changes, "enrollment_changed", key, self._changed(a), a)]
        if a.action in ("email_sent", "sms_sent"):
            rows.append(self._row(self.topics.due_sends, "send_requested", key, self._send(a), a))
        elif a.action in ("task_due", "send_failed"):
            rows.append(self._row(self.topics.due_tasks, "task_due", key, self._task(a), a))
        return rows

    def _row(self, topic: str, type_: str, key: str, payload: Any, a: Action) -> Row:
        return message_row(topic, type_, key, payload, a.at)

    def _changed(self, a: Action) -> EnrollmentChanged:
        e = self.rt.enr[a.contact]
        return EnrollmentChanged(
            sequence_id=self.row.id, contact_id=a.contact, action=a.action, step=a.step, at=a.at,
            status=e.status, phase=e.phase, next_at=e.at, steps_done=e.steps_done,
            detail={k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in a.detail.items()},
        )  # fmt: skip

    def _merge(self, contact_id: str) -> tuple[dict[str, Any], dict[str, Any]]:
        contact = self.rt.contacts.get(contact_id, {})
        return contact, self.row.primary_user

    def _send(self, a: Action) -> SendRequested:
        assert a.step is not None
        step = self.rt.steps[a.step]
        channel = "email" if a.action == "email_sent" else "sms"
        contact, user = self._merge(a.contact)
        content = step.email if channel == "email" else None
        body = step.email.body if step.email and channel == "email" else (step.sms.body if step.sms else "")
        return SendRequested(
            sequence_id=self.row.id, contact_id=a.contact, step=a.step, attempt=a.detail["attempt"],
            channel=channel, idempotency_key=idempotency_key(self.row.id, a.contact, a.step, a.detail["attempt"]),
            to=str(contact.get(CHANNEL_FIELD[channel], "")).strip(),
            from_=content.from_alias if content else self.sms_from,
            subject=render(content.subject, contact, user) if content else None,
            body=render(body, contact, user), at=a.at, limit=self._limit(channel),
        )  # fmt: skip

    def _limit(self, channel: str) -> SendLimit | None:
        """The channel's limit as the engine holds it now (an edit may have changed it), for the dispatcher's pacing."""
        lim = self.rt.limiters[channel]
        if isinstance(lim, Unlimited):
            return None
        return SendLimit(count=lim.count, per_seconds=int(lim.per.total_seconds()))

    def _task(self, a: Action) -> TaskDue:
        assert a.step is not None
        step = self.rt.steps[a.step]
        branch, index = self.rt.template.locate(a.step)
        contact, user = self._merge(a.contact)
        error = a.action == "send_failed"
        return TaskDue(
            sequence_id=self.row.id, contact_id=a.contact, step=a.step, attempt=self.rt.enr[a.contact].attempt,
            kind="error" if error else "task", type=step.type, priority=step.priority, branch=branch,
            step_index=index,
            instructions=render(step.instructions, contact, user) if step.instructions else None,
            script=render(step.script, contact, user) if step.script else None,
            outcomes=["Retry"] if error else step.outcomes, reason=a.detail.get("reason"), at=a.at,
        )  # fmt: skip
