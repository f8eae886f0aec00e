"""No poison stops the scheduler (issue 11.3): a sequence that fails to tick is quarantined, a message that
fails in a consumer is dead-lettered, and every other sequence still sends on time.

The scheduler runs in-process on the real broker and PostgreSQL with a file clock; messages are produced
straight to its topics (the API would refuse the 2^63 rate limit once validation bounds it).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from prometheus_client import CollectorRegistry
from support.api import eventually
from support.kafka import Collector, produce, produce_raw, wait_for
from support.services import service_env, started

from seqflow.clock import FileClock
from seqflow.messaging.base import ContactData, UserRef
from seqflow.messaging.lifecycle import SequenceActivated, SequenceChanged
from seqflow.messaging.rollup import MemberAdded
from seqflow.service import SeqflowApp
from seqflow.settings import Settings
from seqflow_scheduler.app import create_app

T0 = datetime(2026, 12, 1, 14, 0, tzinfo=UTC)  # the file clock's start: Tuesday 09:00 in New York
TEMPLATE: dict[str, Any] = {
    "name": "hello", "owner": "alice", "branches": [{"key": "main", "steps": [
        {"key": "intro", "type": "auto_email",
         "email": {"from_alias": "alice@agency.example", "subject": "Hi", "body": "Hello"}}]}],
}  # fmt: skip
ACTIVATION: dict[str, Any] = {"name": "Q", "begin": "2026-12-01", "timezone": "America/New_York",
                              "primary_user": "alice"}  # fmt: skip
USER = UserRef(id="alice", name="Alice", email="alice@agency.example")


@pytest.fixture
async def scheduler(broker: str, topic_prefix: str, pg_dsn: str, schema_prefix: str, file_clock: FileClock,
                    tmp_path: Path) -> AsyncIterator[SeqflowApp]:  # fmt: skip
    env = service_env(broker, topic_prefix, pg_dsn, schema_prefix, tmp_path, file_clock, SEQFLOW_TICK_SECONDS="0.1")
    async with started(create_app(Settings.from_env("scheduler", env), CollectorRegistry()), wait_ready=True) as app:
        yield app


def activated(sid: str, activation: dict[str, Any], roster: list[str]) -> tuple[str, str, SequenceActivated, datetime]:
    act = SequenceActivated(sequence_id=sid, name=sid, rollup_id=f"r-{sid}", template=TEMPLATE,
                            activation={**ACTIVATION, **activation}, primary_user=USER, activated_at=T0,
                            roster=roster)  # fmt: skip
    return "sequence_activated", sid, act, T0


def member(sid: str, cid: str) -> tuple[str, str, MemberAdded, datetime]:
    contact = ContactData(id=cid, first_name=cid, email=f"{cid}@x.example")
    return "member_added", cid, MemberAdded(rollup_id=f"r-{sid}", contact=contact, at=T0), T0


def quarantined_metric(app: SeqflowApp) -> float | None:
    return app.registry.get_sample_value("seqflow_sequences_quarantined")


async def test_a_broken_sequence_and_a_2_pow_63_limit_are_set_aside_while_a_healthy_sequence_sends_on_time(
    broker: str, scheduler: SeqflowApp, pg_dsn: str, schema_prefix: str
) -> None:
    t, s = scheduler.topic_names, f"{schema_prefix}scheduler"
    sends = await Collector(broker, t.due_sends).start()
    changes = await Collector(broker, t.enrollment_changes).start()
    lifecycle_dlq = await Collector(broker, t.dlq("sequence.lifecycle"), raw=True).start()
    membership_dlq = await Collector(broker, t.dlq("rollup.membership"), raw=True).start()
    conn = await asyncpg.connect(pg_dsn)
    try:
        # A sequence that waits for its begin date, whose stored engine state is then damaged.
        await produce(broker, t.sequence_lifecycle, [activated("broken", {"begin": "2026-12-02"}, ["b1"])])
        await produce(broker, t.rollup_membership, [member("broken", "b1")])
        await eventually(lambda: conn.fetchval(f"SELECT started FROM {s}.sequences WHERE id = 'broken'"),
                         bool, "the broken sequence started (paused)")  # fmt: skip
        damaged = json.dumps({"grants": {"email": [42]}})  # not an instant: the engine cannot load it
        await conn.execute(f"UPDATE {s}.sequences SET state = $1 WHERE id = 'broken'", damaged)

        # Poison first: garbage bytes, and a member whose id PostgreSQL cannot store (a NUL character).
        await produce_raw(broker, t.sequence_lifecycle, [(b"x", b"not an envelope")])
        await produce(broker, t.rollup_membership, [member("nul", "bad\x00id")])
        huge = {"rate_limits": {"email": {"count": 2**63, "per": "PT1H"}}}
        await produce(broker, t.sequence_lifecycle, [
            ("sequence_changed", "broken", SequenceChanged(sequence_id="broken", action="resume", at=T0), T0),
            activated("huge", huge, ["h1"]), activated("ok", {}, ["k1"])])  # fmt: skip
        await produce(broker, t.rollup_membership, [member("huge", "h1"), member("ok", "k1")])

        sent = await wait_for(lambda: sends.of("send_requested", sequence_id="ok"), what="the healthy email")
        assert [(e.payload["contact_id"], e.payload["at"]) for e in sent] == [("k1", "2026-12-01T14:00:00Z")]

        # Without validation bounds the 2^63 count reaches the engine and is quarantined; with them the
        # activation is refused at intake and dead-lettered. Either way it sends nothing and harms no one.
        def parked() -> set[str]:
            done = changes.of("sequence_state_changed", action="sequence_quarantined")
            out = {e.payload["sequence_id"] for e in done}
            return out | ({"huge"} if any(b'"huge"' in m.value for m in lifecycle_dlq.messages) else set())

        await wait_for(lambda: {"broken", "huge"} <= parked(), what="both bad sequences set aside")
        errors = {r["id"]: r["error"] for r in await conn.fetch(f"SELECT id, error FROM {s}.sequences")}
        assert errors["ok"] is None and errors["broken"]
        assert sends.of("send_requested", sequence_id="huge") == sends.of("send_requested", sequence_id="broken") == []
        await wait_for(lambda: quarantined_metric(scheduler) == sum(1 for v in errors.values() if v),
                       what="seqflow_sequences_quarantined")  # fmt: skip

        await wait_for(lambda: lifecycle_dlq.messages and membership_dlq.messages, what="both poisons dead-lettered")
        assert [m.value for m in lifecycle_dlq.messages if m.value == b"not an envelope"]
        assert json.loads(membership_dlq.messages[0].value)["payload"]["contact"]["id"] == "bad\x00id"
        assert scheduler.registry.get_sample_value("seqflow_scheduler_last_tick_timestamp_seconds")
    finally:
        await conn.close()
        for c in (sends, changes, lifecycle_dlq, membership_dlq):
            await c.stop()
