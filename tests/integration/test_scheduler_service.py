"""The scheduler service on the real broker and PostgreSQL, driven by a file clock."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from support.api import eventually
from support.kafka import Collector, produce, produce_raw, wait_for
from support.services import service_env, started

from seqflow.clock import FileClock, set_file_clock
from seqflow.messaging.base import ContactData, UserRef
from seqflow.messaging.codec import encode
from seqflow.messaging.dispatch import SendResult
from seqflow.messaging.envelope import Envelope
from seqflow.messaging.lifecycle import SequenceActivated, SequenceChanged
from seqflow.messaging.outcomes import TaskAction
from seqflow.messaging.rollup import MemberAdded
from seqflow.service import SeqflowApp
from seqflow.settings import Settings
from seqflow_scheduler.app import create_app

T0 = datetime(2026, 12, 1, 14, 0, tzinfo=UTC)  # Tuesday 09:00 in New York

TEMPLATE: dict[str, Any] = {
    "name": "path", "owner": "alice", "branches": [{"key": "main", "steps": [
        {"key": "intro", "type": "auto_email",
         "email": {"from_alias": "alice@agency.example", "subject": "Hi {{first_name}}", "body": "Hello"}},
        {"key": "call", "type": "call", "script": "Hi {{first_name}}", "conditions": [
            {"when": "Connected", "then": {"next": True}},
            {"when": "Left voicemail", "then": {"next": True}}]},
        {"key": "bump", "type": "auto_sms", "delay": "P1D", "sms": {"body": "Hi {{first_name}}"}}]}],
}  # fmt: skip
ACTIVATION = {"name": "Path", "begin": "2026-12-01", "timezone": "America/New_York",
              "send_window": {"start": "08:00", "stop": "17:00"}, "primary_user": "alice"}  # fmt: skip


@pytest.fixture
async def scheduler(broker: str, topic_prefix: str, pg_dsn: str, schema_prefix: str, file_clock: FileClock,
                    tmp_path: Path) -> AsyncIterator[SeqflowApp]:  # fmt: skip
    env = service_env(broker, topic_prefix, pg_dsn, schema_prefix, tmp_path, file_clock, SEQFLOW_TICK_SECONDS="0.1")
    async with started(create_app(Settings.from_env("scheduler", env)), wait_ready=True) as app:
        yield app


async def test_activation_sends_the_email_then_shows_the_call_and_moves_on_when_marked(
    broker: str, scheduler: SeqflowApp, file_clock: FileClock
) -> None:
    t = scheduler.topic_names
    sends = await Collector(broker, t.due_sends).start()
    tasks = await Collector(broker, t.due_tasks).start()
    try:
        ada = ContactData(id="c1", first_name="Ada", email="ada@x.example", phone="+15550001")
        await produce(
            broker,
            t.rollup_membership,
            [("member_added", "c1", MemberAdded(rollup_id="r1", contact=ada, at=T0), T0)],
        )
        user = UserRef(id="alice", name="Alice", email="alice@agency.example")
        act = SequenceActivated(sequence_id="s1", name="Path", rollup_id="r1", template=TEMPLATE,
                                activation=ACTIVATION, primary_user=user, activated_at=T0)  # fmt: skip
        await produce(broker, t.sequence_lifecycle, [("sequence_activated", "s1", act, T0)])
        sent = await wait_for(lambda: sends.of("send_requested", contact_id="c1", step="intro"), what="email")
        assert sent[0].payload["subject"] == "Hi Ada" and sent[0].payload["to"] == "ada@x.example"
        call = await wait_for(lambda: tasks.of("task_due", contact_id="c1", step="call"), what="call task")
        assert call[0].payload["script"] == "Hi Ada"
        assert call[0].payload["outcomes"] == ["Connected", "Left voicemail"]
        mark = TaskAction(sequence_id="s1", contact_id="c1", step="call", action="outcome",
                          outcome="Connected", user="alice", at=T0 + timedelta(minutes=5))  # fmt: skip
        set_file_clock(file_clock.path, T0 + timedelta(minutes=5))
        await produce(broker, t.tasks_outcomes, [("task_action", "s1:c1", mark, T0 + timedelta(minutes=5))])
        set_file_clock(file_clock.path, T0 + timedelta(days=1, minutes=5))
        sms = await wait_for(lambda: sends.of("send_requested", contact_id="c1", step="bump"), what="sms")
        assert sms[0].payload["at"] == "2026-12-02T14:05:00Z" and sms[0].payload["to"] == "+15550001"
    finally:
        await sends.stop()
        await tasks.stop()


async def test_nothing_is_sent_while_the_sequence_is_paused(
    broker: str, scheduler: SeqflowApp, file_clock: FileClock
) -> None:
    t = scheduler.topic_names
    sends = await Collector(broker, t.due_sends).start()
    try:
        ada = ContactData(id="c1", first_name="Ada", email="ada@x.example")
        user = UserRef(id="alice", name="Alice", email="alice@agency.example")
        future = {**ACTIVATION, "begin": "2026-12-03"}
        act = SequenceActivated(sequence_id="s2", name="Later", rollup_id="r2", template=TEMPLATE,
                                activation=future, primary_user=user, activated_at=T0)  # fmt: skip
        await produce(
            broker,
            t.rollup_membership,
            [("member_added", "c1", MemberAdded(rollup_id="r2", contact=ada, at=T0), T0)],
        )
        await produce(broker, t.sequence_lifecycle, [("sequence_activated", "s2", act, T0)])
        set_file_clock(file_clock.path, T0 + timedelta(days=3))
        resume = SequenceChanged(sequence_id="s2", action="resume", at=T0 + timedelta(days=3))
        await produce(broker, t.sequence_lifecycle, [("sequence_changed", "s2", resume, T0 + timedelta(days=3))])
        sent = await wait_for(lambda: sends.of("send_requested", contact_id="c1"), what="email after resume")
        assert sent[0].payload["at"] == "2026-12-04T14:00:00Z"
    finally:
        await sends.stop()


def member(rollup: str, cid: str) -> tuple[str, str, MemberAdded, datetime]:
    """A member added a minute before the activation, as the API records roster members."""
    contact = ContactData(id=cid, first_name=cid, email=f"{cid}@x.example")
    return "member_added", cid, MemberAdded(rollup_id=rollup, contact=contact, at=T0 - timedelta(minutes=1)), T0


def activation_of(sid: str, rollup: str, roster: list[str], **settings: Any) -> tuple[str, str, Any, datetime]:
    user = UserRef(id="alice", name="Alice", email="alice@agency.example")
    act = SequenceActivated(sequence_id=sid, name=sid, rollup_id=rollup, template=TEMPLATE,
                            activation={**ACTIVATION, **settings}, primary_user=user, activated_at=T0,
                            roster=roster)  # fmt: skip
    return "sequence_activated", sid, act, T0


async def test_the_first_contact_gets_its_email_while_the_rest_of_the_roster_is_still_arriving(
    broker: str, scheduler: SeqflowApp
) -> None:
    t = scheduler.topic_names
    sends = await Collector(broker, t.due_sends).start()
    try:
        await produce(broker, t.sequence_lifecycle, [activation_of("s3", "r3", ["c1", "ghost"])])
        await produce(broker, t.rollup_membership, [member("r3", "c1")])
        sent = await wait_for(lambda: sends.of("send_requested", sequence_id="s3"), what="c1's email")
        assert [(s.payload["contact_id"], s.payload["at"]) for s in sent] == [("c1", "2026-12-01T14:00:00Z")]
    finally:
        await sends.stop()


async def test_a_limited_channel_grants_the_activation_instant_in_contact_order_once_the_roster_is_in_or_overdue(
    broker: str, scheduler: SeqflowApp, file_clock: FileClock, pg_dsn: str, schema_prefix: str
) -> None:
    t = scheduler.topic_names
    sends = await Collector(broker, t.due_sends).start()
    conn = await asyncpg.connect(pg_dsn)
    try:
        one = {"rate_limits": {"email": {"count": 1, "per": "PT1H"}}}
        await produce(broker, t.sequence_lifecycle, [activation_of("s5", "r5", ["c1", "c2", "ghost"], **one)])
        await produce(broker, t.rollup_membership, [member("r5", "c2")])  # c2 first: it must not take c1's slot
        entered = f"SELECT count(*) FROM {schema_prefix}scheduler.enrollments WHERE sequence_id = 's5' " \
                  "AND state->>'status' = 'active'"  # fmt: skip
        await eventually(lambda: conn.fetchval(entered), lambda n: n == 1, "c2 entered before the rest arrived")
        await produce(broker, t.rollup_membership, [member("r5", "c1")])
        await eventually(lambda: conn.fetchval(entered), lambda n: n == 2, "c1 entered")
        assert sends.of("send_requested", sequence_id="s5") == []  # still waiting for 'ghost'

        set_file_clock(file_clock.path, T0 + timedelta(seconds=61))  # past the roster patience
        sent = await wait_for(lambda: sends.of("send_requested", sequence_id="s5"), what="the first slot")
        assert [(s.payload["contact_id"], s.payload["at"]) for s in sent] == [("c1", "2026-12-01T14:00:00Z")]
    finally:
        await conn.close()
        await sends.stop()


BOUNCY: dict[str, Any] = {
    "name": "bouncy", "owner": "alice", "branches": [{"key": "main", "steps": [
        {"key": "intro", "type": "auto_email",
         "email": {"from_alias": "alice@agency.example", "subject": "Hi", "body": "Hello"},
         "conditions": [{"when": "bounced", "then": {"exit": "bounced"}},
                        {"when": "no_condition_met", "within": "P1D", "then": {"next": True}}]},
        {"key": "call", "type": "call"}]}],
}  # fmt: skip


async def test_a_send_carries_its_limit_and_a_hard_bounce_exits_the_contact_and_suppresses_the_address(
    broker: str, scheduler: SeqflowApp, file_clock: FileClock, pg_dsn: str, schema_prefix: str
) -> None:
    t = scheduler.topic_names
    sends = await Collector(broker, t.due_sends).start()
    changes = await Collector(broker, t.enrollment_changes).start()
    conn = await asyncpg.connect(pg_dsn)
    try:
        ada = ContactData(id="c1", first_name="Ada", email="Ada@X.example")
        user = UserRef(id="alice", name="Alice", email="alice@agency.example")
        limited = {**ACTIVATION, "rate_limits": {"email": {"count": 5, "per": "PT1H"}}}
        act = SequenceActivated(sequence_id="s4", name="Bouncy", rollup_id="r4", template=BOUNCY,
                                activation=limited, primary_user=user, activated_at=T0, roster=["c1"])  # fmt: skip
        await produce(broker, t.sequence_lifecycle, [("sequence_activated", "s4", act, T0)])
        await produce(broker, t.rollup_membership, [("member_added", "c1", MemberAdded(rollup_id="r4", contact=ada,
                                                                                       at=T0), T0)])  # fmt: skip
        sent = await wait_for(lambda: sends.of("send_requested", sequence_id="s4"), what="the email")
        assert sent[0].payload["limit"] == {"count": 5, "per_seconds": 3600}

        later = T0 + timedelta(minutes=3)
        set_file_clock(file_clock.path, later)
        p = sent[0].payload
        result = SendResult(sequence_id="s4", contact_id="c1", step="intro", attempt=p["attempt"], channel="email",
                            idempotency_key=p["idempotency_key"], status="bounced", to=p["to"], at=later)  # fmt: skip
        record = (b"s4:c1", encode(Envelope.wrap("send_result", "s4:c1", result, later)))
        await produce_raw(broker, t.dispatch_results, [record, record])  # and a redelivery of it
        exits = await wait_for(lambda: changes.of("enrollment_changed", sequence_id="s4", action="exited"),
                               what="the contact exits on the bounce")  # fmt: skip
        assert [(e.payload["at"], e.payload["detail"]["reason"]) for e in exits] == [("2026-12-01T14:03:00Z",
                                                                                     "bounced")]  # fmt: skip
        bounces = changes.of("enrollment_changed", sequence_id="s4", action="bounced")
        assert len(bounces) == 1  # the redelivered result is the same event: applied once
        assert await conn.fetchval(f"SELECT count(*) FROM {schema_prefix}scheduler.suppressed "
                                   "WHERE address = 'ada@x.example'") == 1  # fmt: skip
    finally:
        await conn.close()
        await sends.stop()
        await changes.stop()
