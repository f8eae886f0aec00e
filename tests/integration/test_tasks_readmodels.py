"""The tasks service's read models on a real broker and PostgreSQL: batches, idempotency, counts, cancels."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest
from aiokafka import AIOKafkaProducer
from pydantic import BaseModel
from support.api import eventually
from support.kafka import Collector, wait_for
from support.services import service_env, started

from seqflow.clock import FileClock
from seqflow.messaging.codec import encode
from seqflow.messaging.dispatch import SendResult
from seqflow.messaging.engagement import Engagement
from seqflow.messaging.envelope import Envelope
from seqflow.messaging.work import EnrollmentChanged, SequenceStateChanged, TaskDue
from seqflow.service import SeqflowApp
from seqflow.settings import Settings
from seqflow_tasks.app import create_app

ADMIN = "admin-token-readmodels"
NOW = datetime(2026, 12, 1, 14, 0, tzinfo=UTC)
SID = "s1"


@dataclass
class Tasks:
    app: SeqflowApp
    broker: str
    db: asyncpg.Connection
    http: aiohttp.ClientSession

    @property
    def schema(self) -> str:
        return f'"{self.app.settings.schema_name("tasks")}"'

    async def publish(self, base: str, envelopes: list[Envelope]) -> None:
        """All at once, so the consumer sees them as one or a few batches."""
        producer = AIOKafkaProducer(bootstrap_servers=self.broker, linger_ms=20)
        await producer.start()
        try:
            for env in envelopes:
                await producer.send(self.app.topic_names.name(base), encode(env), key=env.key.encode())
            await producer.flush()
        finally:
            await producer.stop()

    async def rows(self, sql: str, *args: Any) -> list[asyncpg.Record]:
        return list(await self.db.fetch(sql.replace("{s}", self.schema), *args))

    async def until_rows(self, sql: str, count: int, *args: Any) -> list[asyncpg.Record]:
        found = await eventually(lambda: self.rows(sql, *args), lambda rows: len(rows) >= count, f"{count} of {sql}")
        return list(found)

    async def overview(self) -> dict[str, Any]:
        url = f"http://127.0.0.1:{self.app.settings.web_port}/overview"
        async with self.http.get(url, headers={"Authorization": f"Bearer {ADMIN}"}) as r:
            assert r.status == 200
            body = await r.json()
        [row] = [s for s in body["sequences"] if s["id"] == SID]
        return dict(row)


@pytest.fixture
async def tasks(
    broker: str, pg_dsn: str, schema_prefix: str, topic_prefix: str, file_clock: FileClock, tmp_path: Path
) -> AsyncIterator[Tasks]:
    env = service_env(broker, topic_prefix, pg_dsn, schema_prefix, tmp_path, file_clock, SEQFLOW_ADMIN_TOKEN=ADMIN)
    db = await asyncpg.connect(pg_dsn)
    try:
        app = create_app(Settings.from_env("tasks", env))
        async with started(app, wait_ready=True), aiohttp.ClientSession() as http:
            t = Tasks(app, broker, db, http)
            await insert_sequence(t)
            yield t
    finally:
        await db.close()


async def insert_sequence(t: Tasks) -> None:
    """The sequence row the API writes at activation (the read models only hang off it)."""
    await t.db.execute(
        f"INSERT INTO {t.schema}.sequences (id, name, rollup_id, template_id, template, activation, primary_user,"
        " team, timezone, begin_at, state, activated_at) VALUES ($1, 'Q4', 'r1', 't1', '{}', '{}', 'alice', '{}',"
        " 'America/New_York', $2, 'active', $2)",
        SID, NOW,
    )  # fmt: skip


def wrap(type_: str, payload: BaseModel, at: datetime = NOW) -> Envelope:
    key = getattr(payload, "contact_id", SID)
    return Envelope.wrap(type_, f"{SID}:{key}", payload, at)


def task_due(contact: str, step: str = "call", **over: Any) -> Envelope:
    fields = {"sequence_id": SID, "contact_id": contact, "step": step, "attempt": 1, "kind": "task", "type": "call",
              "priority": "normal", "branch": "main", "step_index": 0, "outcomes": ["Done"], "at": NOW}  # fmt: skip
    p = TaskDue.model_validate(fields | over)
    return wrap("task_due", p)


def change(contact: str, action: str, status: str = "active", step: str = "call", minutes: int = 0,
           **detail: Any) -> Envelope:  # fmt: skip
    at = NOW + timedelta(minutes=minutes)
    p = EnrollmentChanged(sequence_id=SID, contact_id=contact, action=action, step=step, at=at, status=status,
                          phase="task", steps_done=1 if action != "entered" else 0, detail=detail)  # fmt: skip
    return wrap("enrollment_changed", p, at)


def result(contact: str, status: str, channel: str = "email", minutes: int = 0) -> Envelope:
    p = SendResult(sequence_id=SID, contact_id=contact, step="intro", attempt=1, channel=channel,  # type: ignore[arg-type]
                   idempotency_key=f"{SID}:{contact}:intro:1", status=status, message_id=f"<m-{contact}@x>",  # type: ignore[arg-type]
                   to=f"{contact}@x.example", at=NOW + timedelta(minutes=minutes))  # fmt: skip
    return wrap("send_result", p, p.at)


def bounce_report(contact: str) -> Envelope:
    p = Engagement(sequence_id=SID, contact_id=contact, step="intro", kind="bounced", message_id=f"<m-{contact}@x>",
                   at=NOW + timedelta(minutes=5))  # fmt: skip
    return wrap("engagement", p, p.at)


async def test_a_refused_event_is_dead_lettered_and_the_rest_of_its_batch_written_in_few_transactions(
    tasks: Tasks,
) -> None:
    good = [task_due(f"c{i:02d}") for i in range(40)]
    bad = task_due("c99", instructions="nul \x00 byte")  # valid JSON, but PostgreSQL text refuses it
    async with Collector(tasks.broker, tasks.app.topic_names.dlq("scheduler.due-tasks"), raw=True) as dlq:
        await tasks.publish("scheduler.due-tasks", [*good[:20], bad, *good[20:]])
        found = await tasks.until_rows("SELECT contact_id, xmin::text AS tx FROM {s}.tasks", 40)
        await wait_for(lambda: dlq.messages, what="the refused event on the dead-letter topic")
    assert sorted(r["contact_id"] for r in found) == [f"c{i:02d}" for i in range(40)]
    assert dict(dlq.messages[0].headers)["seqflow-dlq-reason"].startswith(b"refused by the database")
    batched = await tasks.rows("SELECT count(DISTINCT xmin::text) AS n FROM {s}.processed_events")
    assert batched[0]["n"] <= 12  # rows of one transaction share its xmin; halving finds c99 in a few steps


async def test_a_replayed_event_changes_nothing_and_one_batch_folds_an_enrollments_changes_in_order(
    tasks: Tasks,
) -> None:
    entered = change("c1", "entered", step="intro")
    events = [entered, change("c1", "moved", step="intro", minutes=1), change("c1", "completed", "completed",
              step="call", minutes=2, reason=None)]  # fmt: skip
    await tasks.publish("enrollment.changes", events)
    await tasks.until_rows("SELECT 1 FROM {s}.activities WHERE contact_id = 'c1'", 3)
    await tasks.publish("enrollment.changes", [entered, change("c2", "entered", step="intro")])
    await tasks.until_rows("SELECT 1 FROM {s}.activities WHERE contact_id = 'c2'", 1)
    [c1] = await tasks.rows("SELECT * FROM {s}.enrollments WHERE contact_id = 'c1'")
    assert (c1["status"], c1["step"], c1["last_step"]) == ("completed", "call", "intro")
    assert (c1["entered_at"], c1["finished_at"]) == (NOW, NOW + timedelta(minutes=2))
    acts = await tasks.rows("SELECT action FROM {s}.activities WHERE contact_id = 'c1' ORDER BY at")
    assert [a["action"] for a in acts] == ["entered", "moved", "completed"]


async def test_the_overview_counts_only_sent_results_as_sends_and_each_bounced_send_once(tasks: Tasks) -> None:
    # c1 sent (then reported bounced), c2 refused (and reported bounced too), c3 failed, c4 suppressed,
    # c5 an SMS sent, c6 an SMS refused; a stale `failed` replay of c1 comes last and must not undo `sent`
    await tasks.publish("dispatch.results", [result("c1", "sent", minutes=1), result("c2", "bounced"),
                        result("c3", "failed"), result("c4", "suppressed"), result("c5", "sent", "sms"),
                        result("c6", "bounced", "sms"), result("c1", "failed")])  # fmt: skip
    await tasks.publish("engagement.events", [bounce_report("c1"), bounce_report("c2")])
    await tasks.until_rows("SELECT 1 FROM {s}.sends", 6)
    await tasks.until_rows("SELECT 1 FROM {s}.engagements", 2)
    ledger = {r["contact_id"]: r["status"] for r in await tasks.rows("SELECT contact_id, status FROM {s}.sends")}
    assert ledger == {"c1": "sent", "c2": "bounced", "c3": "failed", "c4": "suppressed", "c5": "sent",
                      "c6": "bounced"}  # fmt: skip
    row = await tasks.overview()
    assert (row["emails_sent"], row["sms_sent"]) == (1, 1)  # = the ledger's `sent` per channel
    assert row["bounce_pct"] == 75.0  # c1, c2, c6 of the 4 sends the providers answered (c1, c2, c5, c6)


async def test_an_exit_for_unsubscribing_cancels_the_open_tasks_and_another_exit_closes_them_done(
    tasks: Tasks,
) -> None:
    await tasks.publish("scheduler.due-tasks", [task_due("c1"), task_due("c1", "error_step", kind="error",
                        outcomes=["Retry"]), task_due("c2")])  # fmt: skip
    await tasks.until_rows("SELECT 1 FROM {s}.tasks", 3)
    await tasks.publish("enrollment.changes", [change("c1", "exited", "exited", reason="unsubscribed"),
                        change("c2", "exited", "exited", reason="not_interested")])  # fmt: skip
    await tasks.until_rows("SELECT 1 FROM {s}.tasks WHERE state <> 'open'", 3)
    states = {(r["contact_id"], r["step"]): r["state"] for r in await tasks.rows("SELECT * FROM {s}.tasks")}
    assert states == {("c1", "call"): "cancelled", ("c1", "error_step"): "cancelled", ("c2", "call"): "done"}


async def test_a_quarantined_sequence_shows_as_error_in_the_overview(tasks: Tasks) -> None:
    assert (await tasks.overview())["state"] == "active"
    quarantined = SequenceStateChanged(sequence_id=SID, action="sequence_quarantined", at=NOW)
    await tasks.publish("enrollment.changes", [wrap("sequence_state_changed", quarantined)])

    await eventually(tasks.overview, lambda row: row["state"] == "error", "state error")
    [seq] = await tasks.rows("SELECT state, quarantined_at FROM {s}.sequences")
    assert (seq["state"], seq["quarantined_at"]) == ("active", NOW)  # its own lifecycle state is kept


async def test_closes_of_different_enrollments_run_together_and_repeated_or_sequence_wide_ones_in_event_order(
    tasks: Tasks,
) -> None:
    await tasks.publish("scheduler.due-tasks", [task_due(c) for c in ("c1", "c2", "c3", "c4")]
                        + [task_due("c2", "error_step", kind="error", outcomes=["Retry"])])  # fmt: skip
    await tasks.until_rows("SELECT 1 FROM {s}.tasks", 5)
    # one batch, one enrollment each: c1 done, c2 every task cancelled, c3 a close of another step (no-op)
    await tasks.publish("enrollment.changes", [change("c1", "moved"), change("c2", "exited", "exited",
                        reason="unsubscribed"), change("c3", "moved", step="intro")])  # fmt: skip
    await tasks.until_rows("SELECT 1 FROM {s}.tasks WHERE state <> 'open'", 3)
    # c4 twice in one batch (the first close wins); then the sequence ends: the rest is cancelled, closed stay
    await tasks.publish("enrollment.changes", [change("c4", "retry", minutes=1), change("c4", "moved", minutes=2)])
    await tasks.until_rows("SELECT 1 FROM {s}.tasks WHERE state <> 'open'", 4)
    ended = SequenceStateChanged(sequence_id=SID, action="sequence_ended", at=NOW + timedelta(minutes=9))
    await tasks.publish("enrollment.changes", [wrap("sequence_state_changed", ended, ended.at)])
    await tasks.until_rows("SELECT 1 FROM {s}.tasks WHERE state <> 'open'", 5)
    rows = await tasks.rows("SELECT * FROM {s}.tasks")
    found = {(r["contact_id"], r["step"]): (r["state"], r["done_at"]) for r in rows}
    assert found == {
        ("c1", "call"): ("done", NOW), ("c2", "call"): ("cancelled", NOW), ("c2", "error_step"): ("cancelled", NOW),
        ("c3", "call"): ("cancelled", ended.at), ("c4", "call"): ("done", NOW + timedelta(minutes=1)),
    }  # fmt: skip
