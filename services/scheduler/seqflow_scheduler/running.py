"""Running the engine on what a tick loaded: the `Runtime` built from a sequence row and its rows, the
result of a tick, and the guard that sets a failing sequence aside. Used by whole-sequence ticks (tick.py)
and by the lanes of a round (rounds.py)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from seqflow.domain.activation import Activation
from seqflow.domain.template import Template
from seqflow.messaging.topics import Topics
from seqflow.rules.engine import Runtime
from seqflow.rules.gates import gates_for, whole_seconds
from seqflow.rules.state import CHANNEL_FIELD, Action, Input, SequenceState
from seqflow_scheduler.db import SchedulerDb, SequenceRow
from seqflow_scheduler.load import Loaded
from seqflow_scheduler.outputs import Outputs
from seqflow_scheduler.quarantine import TRANSIENT, quarantine


@dataclass
class TickResult:
    sequence_id: str
    actions: list[Action]
    rejected: int
    quarantined: bool = False
    kind: str = "sequence"  # or what a round did: "lane" (a slice of one), "round_opened", "round_closed"


@dataclass(frozen=True)
class Setup:
    """The sequence's parsed settings and template copy."""

    activation: Activation
    template: Template

    @classmethod
    def of(cls, row: SequenceRow) -> Setup:
        return cls(Activation.model_validate(row.activation), Template.model_validate(row.template))


class QueueOverrun(Exception):
    """The engine reached the end of a limiter queue head that was too short: load more and run again."""


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


async def runtime_for(conn: asyncpg.Connection, db: SchedulerDb, row: SequenceRow, setup: Setup,
                      state: SequenceState, loaded: Loaded, holding: bool = False) -> Runtime:  # fmt: skip
    """The engine over the loaded rows, with the contact copies they name and their suppressed addresses."""
    wanted = {e.contact_id for e in loaded.enrollments} | {i.contact for i in loaded.inputs if i.contact}
    contacts = await db.contacts(conn, wanted)
    addresses = {str(c.get(f) or "").strip().lower() for c in contacts.values() for f in ("email", "phone")}
    suppressed = await db.suppressed(conn, addresses - {""})
    return build_runtime(row, setup, state, loaded, contacts, suppressed, holding)


def build_runtime(row: SequenceRow, setup: Setup, state: SequenceState, loaded: Loaded,
                  contacts: dict[str, dict[str, Any]], suppressed: set[str], holding: bool) -> Runtime:  # fmt: skip
    limits = setup.activation.rate_limits
    state.queue = loaded.queues
    return Runtime(
        setup.template,
        gates_for(setup.activation),
        whole_seconds(row.activated_at),
        contacts,
        limits={"email": limits.email, "sms": limits.sms} if limits else None,
        state=state,
        enrollments=loaded.enrollments,
        now=whole_seconds(row.advanced_to),
        suppressed=suppressed,
        hold_limiters=crowded_channels(row, setup.template, setup.activation) if holding else frozenset(),
        queue_horizon=loaded.horizon,
    )


def clamp(inp: Input, floor: datetime) -> Input:
    """An input that arrives after the engine moved past its instant applies at the engine's time."""
    return inp if inp.at >= floor else Input(floor, inp.type, inp.contact, inp.step, inp.outcome, inp.fields)


async def write_outputs(conn: asyncpg.Connection, db: SchedulerDb, row: SequenceRow, rt: Runtime, to: datetime,
                        topics: Topics, sms_from: str) -> None:  # fmt: skip
    """The enrollments the run changed (their engine at `to`) and the messages of its actions."""
    await db.save_enrollments(conn, row.id, [rt.enr[c] for c in rt.dirty if c in rt.enr], to)
    await db.add_outbox(conn, Outputs(row, rt, topics, sms_from).messages())


async def guarded(conn: asyncpg.Connection, db: SchedulerDb, topics: Topics, row: SequenceRow, now: datetime,
                  run: Callable[[int], Awaitable[TickResult]]) -> TickResult:  # fmt: skip
    """Run `run(scale)` in a savepoint. A sequence that fails (its engine or its data) rolls back alone and is
    quarantined, so the caller goes on; a queue head that was too short runs again with a longer one."""
    scale = 1
    while True:
        try:
            async with conn.transaction():
                return await run(scale)
        except QueueOverrun:
            scale *= 4  # rolled back: run the same tick again with a longer queue head
        except TRANSIENT:
            raise  # the database went away: nothing is wrong with the sequence
        except Exception as exc:  # noqa: BLE001 - any failure of one sequence must not stop the others
            await quarantine(conn, db, topics, row, now, exc)
            return TickResult(row.id, [], 0, quarantined=True)
