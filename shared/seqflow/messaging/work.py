"""What the scheduler decides: scheduler.due-sends, scheduler.due-tasks and enrollment.changes."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import AwareDatetime

from seqflow.messaging.base import Payload
from seqflow.messaging.codec import register


class SendLimit(Payload):
    """The sequence's rate limit for this channel: at most `count` sends in every (t - per, t]."""

    count: int
    per_seconds: int


class SendRequested(Payload):
    """A send the rate limiter granted at `at`; the dispatcher performs it exactly once per key.

    `limit` travels with the send so the dispatcher can pace actual provider calls per sequence and
    channel (SPEC §4: the limit holds at the provider, after a crash or for a backlog too)."""

    sequence_id: str
    contact_id: str
    step: str
    attempt: int
    channel: Literal["email", "sms"]
    idempotency_key: str  # sequence:contact:step:attempt
    to: str
    from_: str
    subject: str | None = None
    body: str
    at: AwareDatetime
    limit: SendLimit | None = None


class TaskDue(Payload):
    """A manual task appears (kind=task) or a blank-address error task (kind=error)."""

    sequence_id: str
    contact_id: str
    step: str
    attempt: int
    kind: Literal["task", "error"]
    type: str
    priority: Literal["low", "normal", "high"]
    branch: str
    step_index: int
    instructions: str | None = None
    script: str | None = None
    outcomes: list[str]
    reason: str | None = None
    at: AwareDatetime


class EnrollmentChanged(Payload):
    """One engine action on an enrollment (entered, moved, completed, …) and its state after it."""

    sequence_id: str
    contact_id: str
    action: str
    step: str | None
    at: AwareDatetime
    status: str
    phase: str
    next_at: AwareDatetime | None = None
    steps_done: int = 0
    detail: dict[str, Any] = {}


class SequenceStateChanged(Payload):
    """A sequence-wide action of the engine: sequence_paused, sequence_resumed, sequence_ended."""

    sequence_id: str
    action: str
    at: AwareDatetime


WORK = {"send_requested": SendRequested, "task_due": TaskDue, "enrollment_changed": EnrollmentChanged,
        "sequence_state_changed": SequenceStateChanged}  # fmt: skip

for _name, _model in WORK.items():
    register(_name, _model)
