"""The scheduler's ticks run straight against PostgreSQL (no broker): a sequence activated through intake,
ticks until idle, and the visible lines of its outbox next to `seqflow.rules.simulate.run`'s."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

import asyncpg

from seqflow.messaging.base import ContactData, UserRef
from seqflow.messaging.codec import decode
from seqflow.messaging.envelope import Envelope
from seqflow.messaging.lifecycle import SequenceActivated
from seqflow.messaging.rollup import MemberAdded
from seqflow.messaging.topics import Topics
from seqflow.rules.simulate import Scenario, run
from seqflow.rules.state import VISIBLE, Input
from seqflow_scheduler.db import SchedulerDb
from seqflow_scheduler.intake import on_activated, on_member_added
from seqflow_scheduler.tick import tick_one

T0 = datetime(2026, 12, 1, 14, 0, tzinfo=UTC)
TEMPLATE: dict[str, Any] = {
    "name": "one", "owner": "alice", "branches": [{"key": "main", "steps": [
        {"key": "intro", "type": "auto_email",
         "email": {"from_alias": "alice@agency.example", "subject": "Hi", "body": "Hello"}}]}],
}  # fmt: skip
ACTIVATION: dict[str, Any] = {"name": "One", "begin": "2026-12-01", "timezone": "UTC", "primary_user": "alice",
                              "rate_limits": {"email": {"count": 1, "per": "PT1H"}}}  # fmt: skip
Line = tuple[str, str, str | None, str]


async def activate(conn: asyncpg.Connection, db: SchedulerDb, contacts: list[dict[str, Any]],
                   template: dict[str, Any] = TEMPLATE, activation: dict[str, Any] = ACTIVATION) -> None:  # fmt: skip
    async with conn.transaction():
        for c in contacts:
            p = MemberAdded(rollup_id="r1", contact=ContactData(**c), at=T0)
            await on_member_added(conn, db, Envelope.wrap("member_added", c["id"], p, T0), p)
        user = UserRef(id="alice", name="Alice", email="alice@agency.example")
        act = SequenceActivated(sequence_id="s1", name="One", rollup_id="r1", template=template,
                                activation=activation, primary_user=user, activated_at=T0,
                                roster=[c["id"] for c in contacts])  # fmt: skip
        await on_activated(conn, db, Envelope.wrap("sequence_activated", "s1", act, T0), act)


async def tick_until_idle(conn: asyncpg.Connection, db: SchedulerDb, now: datetime) -> int:
    """Tick until nothing is due (lanes of open rounds and whole sequences taking turns, as the service's
    tick loop does); how many ticks ran."""
    ticks = 0
    while True:
        async with conn.transaction():
            if await tick_one(conn, db, Topics(), "+15550000", now, ticks % 2 == 0) is None:
                return ticks
        ticks += 1


async def live_lines(conn: asyncpg.Connection, db: SchedulerDb) -> list[Line]:
    rows = await conn.fetch(f"SELECT value FROM {db.s}.outbox ORDER BY id")
    envs = [decode(bytes(r["value"])) for r in rows]
    return sorted((e.payload["at"].replace("+00:00", "Z"), e.payload["contact_id"], e.payload["step"],
                   e.payload["action"]) for e in envs
                  if e.type == "enrollment_changed" and e.payload["action"] in VISIBLE)  # fmt: skip


def simulated(contacts: list[dict[str, Any]], until: datetime, template: dict[str, Any] = TEMPLATE,
              activation: dict[str, Any] = ACTIVATION, events: Sequence[Input] = ()) -> list[Line]:  # fmt: skip
    given = [{k: v for k, v in asdict(e).items() if v is not None} for e in events]
    sc = Scenario.model_validate({"template": template, "activation": activation, "activated_at": T0,
                                  "contacts": contacts, "until": until, "events": given})  # fmt: skip
    actions, _ = run(sc)
    return sorted((a.at.strftime("%Y-%m-%dT%H:%M:%SZ"), a.contact, a.step, a.action) for a in actions)
