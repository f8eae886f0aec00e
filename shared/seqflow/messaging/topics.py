"""Topic names, all derived through `Topics(prefix)` so tests can use fresh topics."""

from __future__ import annotations

from dataclasses import dataclass

ROLLUP_COMMANDS = "rollup.commands"
ROLLUP_MEMBERSHIP = "rollup.membership"
SEQUENCE_LIFECYCLE = "sequence.lifecycle"
DUE_SENDS = "scheduler.due-sends"
DUE_TASKS = "scheduler.due-tasks"
DISPATCH_RESULTS = "dispatch.results"
ENGAGEMENT_EVENTS = "engagement.events"
TASKS_OUTCOMES = "tasks.outcomes"
ENROLLMENT_CHANGES = "enrollment.changes"
CONTACT_ERASURE = "contact.erasure"

ALL = (
    ROLLUP_COMMANDS,
    ROLLUP_MEMBERSHIP,
    SEQUENCE_LIFECYCLE,
    DUE_SENDS,
    DUE_TASKS,
    DISPATCH_RESULTS,
    ENGAGEMENT_EVENTS,
    TASKS_OUTCOMES,
    ENROLLMENT_CHANGES,
    CONTACT_ERASURE,
)

DLQ_SUFFIX = ".dlq"


def dlq_of(topic: str) -> str:
    return f"{topic}{DLQ_SUFFIX}"


@dataclass(frozen=True)
class Topics:
    prefix: str = ""

    def name(self, base: str) -> str:
        return f"{self.prefix}{base}"

    def dlq(self, base: str) -> str:
        return dlq_of(self.name(base))

    @property
    def rollup_commands(self) -> str:
        return self.name(ROLLUP_COMMANDS)

    @property
    def rollup_membership(self) -> str:
        return self.name(ROLLUP_MEMBERSHIP)

    @property
    def sequence_lifecycle(self) -> str:
        return self.name(SEQUENCE_LIFECYCLE)

    @property
    def due_sends(self) -> str:
        return self.name(DUE_SENDS)

    @property
    def due_tasks(self) -> str:
        return self.name(DUE_TASKS)

    @property
    def dispatch_results(self) -> str:
        return self.name(DISPATCH_RESULTS)

    @property
    def engagement_events(self) -> str:
        return self.name(ENGAGEMENT_EVENTS)

    @property
    def tasks_outcomes(self) -> str:
        return self.name(TASKS_OUTCOMES)

    @property
    def enrollment_changes(self) -> str:
        return self.name(ENROLLMENT_CHANGES)

    @property
    def contact_erasure(self) -> str:
        return self.name(CONTACT_ERASURE)
