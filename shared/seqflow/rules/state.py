"""The state the engine keeps per enrollment and per sequence; plain data, easy to persist."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

# Enrollment status
PENDING, ACTIVE, COMPLETED, EXITED, ENDED = "pending", "active", "completed", "exited", "ended"
FINISHED = frozenset({COMPLETED, EXITED, ENDED})

# What an active enrollment is doing on its step
P_ENTER = "enter"  # waiting to enter at `at`
P_DUE = "due"  # arrived; the step falls due at `at`
P_TASK = "task"  # a manual task is on the task list
P_QUEUED = "queued"  # an automatic step waits at the rate limiter since `due`
P_WAITING = "waiting"  # sent; conditions race until the deadline `at` ("Waiting…")
P_FAILED = "failed"  # blank address: an error task waits for Retry
P_MOVE = "move"  # a move was triggered; it lands at `at`
P_DONE = "done"

# The order of work within one instant (SPEC §4.1): lower runs first
(RANK_END, RANK_GATE, RANK_ENTER, RANK_MOVE, RANK_DEADLINE, RANK_TASK, RANK_DUE_SEND, RANK_LIMITER,
 RANK_INPUT) = range(9)  # fmt: skip

GATE_INPUTS = frozenset({"pause", "resume", "edit", "member_removed", "member_added", "remove_from_sequence"})
ENGAGEMENTS = frozenset({"opened", "clicked", "replied", "bounced"})
CHANNEL_FIELD = {"email": "email", "sms": "phone"}  # the contact field a channel sends to

# Simulator-visible actions (SPEC §8)
VISIBLE = frozenset({"entered", "email_sent", "sms_sent", "send_failed", "task_due", "completed", "exited", "ended"})


@dataclass(slots=True)
class Enrollment:
    contact_id: str
    status: str = PENDING
    step: str | None = None
    phase: str = P_ENTER
    at: datetime | None = None
    due: datetime | None = None
    sent_at: datetime | None = None
    move_kind: str | None = None  # arrive | complete | exit
    move_target: str | None = None
    task_shown: bool = False
    attempt: int = 0
    removed: bool = False
    held: bool = False
    steps_done: int = 0
    entered_at: datetime | None = None
    sent_steps: list[str] = field(default_factory=list)
    version: int = 0

    @property
    def finished(self) -> bool:
        return self.status in FINISHED

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class SequenceState:
    paused: bool = False
    ended_at: datetime | None = None
    grants: dict[str, list[datetime]] = field(default_factory=dict)
    queue: dict[str, list[tuple[datetime, str, str]]] = field(default_factory=dict)


class Action(NamedTuple):
    """One thing the engine decided; the simulator prints the visible ones, services act on all."""

    at: datetime
    contact: str
    step: str | None
    action: str
    detail: dict[str, Any]


@dataclass(frozen=True)
class Input:
    """Something from outside at an instant: engagement, a user action, membership or lifecycle."""

    at: datetime
    type: str
    contact: str | None = None
    step: str | None = None
    outcome: str | None = None
    fields: dict[str, Any] | None = None


@dataclass(frozen=True)
class Rejected:
    """An input that did not apply at its time, and why (the API answers 409, simulate warns)."""

    input: Input
    reason: str
