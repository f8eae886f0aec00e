"""The dispatcher on a real broker, PostgreSQL, SMTP stub and SMS stub: sends once, reports every result."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aiohttp import web
from aiosmtpd.controller import Controller
from pydantic import BaseModel
from support.api import eventually
from support.kafka import Collector, produce_raw, wait_for
from support.services import REJECTED, service_env, started

from seqflow.channels.message_id import message_id_for
from seqflow.channels.sms_stub import STATE_KEY, start_sms_stub
from seqflow.clock import FileClock, set_file_clock
from seqflow.messaging.base import UserRef
from seqflow.messaging.codec import encode
from seqflow.messaging.dispatch import SendResult
from seqflow.messaging.dlq import REASON_HEADER
from seqflow.messaging.engagement import Unsubscribed
from seqflow.messaging.envelope import Envelope
from seqflow.messaging.lifecycle import SequenceActivated
from seqflow.messaging.work import SendLimit, SendRequested
from seqflow.service import SeqflowApp
from seqflow.settings import Settings
from seqflow_dispatcher.app import create_app
from seqflow_dispatcher.channels import RetryPolicy

AT = datetime(2026, 12, 1, 14, 0, tzinfo=UTC)
SID = "AC" + "2" * 32
TOKEN = "dispatcher-test-token"  # noqa: S105 - the local stub's credential


@pytest.fixture
async def sms() -> AsyncIterator[tuple[web.AppRunner, str]]:
    runner, url = await start_sms_stub("127.0.0.1", 0, SID, TOKEN)
    try:
        yield runner, url
    finally:
        await runner.cleanup()


@pytest.fixture
async def app(
    broker: str,
    topic_prefix: str,
    pg_dsn: str,
    schema_prefix: str,
    tmp_path: Path,
    file_clock: FileClock,
    smtp: tuple[Controller, list[EmailMessage]],
    sms: tuple[web.AppRunner, str],
) -> AsyncIterator[SeqflowApp]:
    env = service_env(
        broker, topic_prefix, pg_dsn, schema_prefix, tmp_path, file_clock,
        SEQFLOW_SMTP_HOST=smtp[0].hostname, SEQFLOW_SMTP_PORT=str(smtp[0].port), SEQFLOW_SMS_URL=sms[1],
        SEQFLOW_SMS_ACCOUNT_SID=SID, SEQFLOW_SMS_AUTH_TOKEN=TOKEN, SEQFLOW_PUBLIC_URL="http://track.example.test",
    )  # fmt: skip
    # no sequence.lifecycle here: a send without a limit is unlimited at once, not after waiting for its sequence
    retry = RetryPolicy(attempts=2, base_delay=0.01)
    app = create_app(Settings.from_env("dispatcher", env), retry=retry, limits_wait=0)
    async with started(app):
        yield app


@pytest.fixture
async def results(broker: str, app: SeqflowApp) -> AsyncIterator[Collector]:
    async with Collector(broker, app.topic_names.dispatch_results) as reader:
        yield reader


def email_request(to: str = "ada@example.org", step: str = "intro") -> SendRequested:
    return SendRequested(
        sequence_id="seq1", contact_id="c1", step=step, attempt=0, channel="email",
        idempotency_key=f"seq1:c1:{step}:0", to=to, from_="Alice Recruiter <alice@example.com>",
        subject="Senior Python role", body="Hi Ada,\nhave a look: https://jobs.io/42", at=AT,
    )  # fmt: skip


def sms_request() -> SendRequested:
    return SendRequested(
        sequence_id="seq1", contact_id="c1", step="nudge", attempt=0, channel="sms",
        idempotency_key="seq1:c1:nudge:0", to="+15551230001", from_="+15559870000", body="Hi Ada", at=AT,
    )  # fmt: skip


async def produce(broker: str, topic: str, items: list[tuple[str, BaseModel] | bytes]) -> None:
    """Send raw values or (type, payload) envelopes, all keyed `seq1:c1`."""
    encoded = [
        item if isinstance(item, bytes) else encode(Envelope.wrap(item[0], "seq1:c1", item[1], AT)) for item in items
    ]
    await produce_raw(broker, topic, [(b"seq1:c1", value) for value in encoded])


async def ledger(pg_dsn: str, schema_prefix: str, key: str) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(pg_dsn)
    try:
        sql = f'SELECT * FROM "{schema_prefix}dispatcher".ledger WHERE idempotency_key = $1'
        return list(await conn.fetch(sql, key))
    finally:
        await conn.close()


async def test_an_email_arrives_at_the_smtp_server_and_a_sent_result_is_emitted(
    broker: str, app: SeqflowApp, results: Collector, smtp: tuple[Controller, list[EmailMessage]]
) -> None:
    req = email_request()
    await produce(broker, app.topic_names.due_sends, [("send_requested", req)])
    await wait_for(lambda: len(results.messages) == 1)
    [got] = smtp[1]
    assert (got["From"], got["To"], got["Subject"]) == (req.from_, req.to, req.subject)
    assert got["Message-ID"] == message_id_for(req.idempotency_key, key=app.settings.tracking_secret.encode())
    [result] = results.payloads
    assert (result["status"], result["message_id"]) == ("sent", got["Message-ID"])
    assert results.messages[0].key == b"seq1:c1"


async def test_the_same_request_delivered_again_sends_once_and_re_emits_the_same_result(
    broker: str,
    app: SeqflowApp,
    results: Collector,
    smtp: tuple[Controller, list[EmailMessage]],
    pg_dsn: str,
    schema_prefix: str,
) -> None:
    req = email_request()
    await produce(broker, app.topic_names.due_sends, [("send_requested", req)])
    await wait_for(lambda: len(results.messages) == 1)
    await produce(broker, app.topic_names.due_sends, [("send_requested", req)])
    await wait_for(lambda: len(results.messages) == 2)
    assert len(smtp[1]) == 1
    assert results.payloads[0] == results.payloads[1] and results.payloads[0]["status"] == "sent"
    [row] = await ledger(pg_dsn, schema_prefix, req.idempotency_key)
    assert row["status"] == "sent"


async def test_an_sms_goes_to_the_provider_with_the_idempotency_key(
    broker: str, app: SeqflowApp, results: Collector, sms: tuple[web.AppRunner, str]
) -> None:
    req = sms_request()
    await produce(broker, app.topic_names.due_sends, [("send_requested", req)])
    await wait_for(lambda: len(results.messages) == 1)
    state = sms[0].app[STATE_KEY]
    [message] = state.messages
    assert state.by_token[req.idempotency_key] is message
    assert (message["to"], message["body"]) == (req.to, req.body)
    assert results.payloads[0]["status"] == "sent" and results.payloads[0]["message_id"] == message["sid"]


async def test_an_unsubscribed_address_is_not_sent_and_reported_suppressed(
    broker: str, app: SeqflowApp, results: Collector, smtp: tuple[Controller, list[EmailMessage]]
) -> None:
    unsubscribed = Unsubscribed(address="Ada@Example.org", at=AT)
    await produce(broker, app.topic_names.engagement_events, [("unsubscribed", unsubscribed)])
    await wait_for_suppression(app, "ada@example.org")
    await produce(broker, app.topic_names.due_sends, [("send_requested", email_request())])
    await wait_for(lambda: len(results.messages) == 1)
    assert results.payloads[0]["status"] == "suppressed"
    assert smtp[1] == []


async def wait_for_suppression(app: SeqflowApp, address: str, limit: float = 30.0) -> None:
    assert app.pool is not None
    sql = f'SELECT 1 FROM "{app.settings.schema_name("dispatcher")}".suppression WHERE address = $1'
    await eventually(lambda: app.pool.fetchval(sql, address), lambda found: found is not None,
                     f"{address} suppressed", limit)  # fmt: skip


async def test_an_smtp_550_is_a_hard_bounce_and_the_address_is_suppressed_for_later_sends(
    broker: str, app: SeqflowApp, results: Collector, pg_dsn: str, schema_prefix: str
) -> None:
    req = email_request(to=REJECTED)
    await produce(broker, app.topic_names.due_sends, [("send_requested", req)])
    await wait_for(lambda: len(results.messages) == 1)
    [result] = results.payloads
    assert result["status"] == "bounced" and "550" in result["error"]
    [row] = await ledger(pg_dsn, schema_prefix, req.idempotency_key)
    assert (row["status"], row["error"]) == ("bounced", result["error"])
    await wait_for_suppression(app, REJECTED)
    await produce(broker, app.topic_names.due_sends, [("send_requested", email_request(to=REJECTED, step="bump"))])
    await wait_for(lambda: len(results.messages) == 2)
    assert results.payloads[1]["status"] == "suppressed"
    counts = {st: app.registry.get_sample_value("seqflow_sends_total", {"channel": "email", "status": st})
              for st in ("bounced", "suppressed")}  # fmt: skip
    assert counts == {"bounced": 1.0, "suppressed": 1.0}


async def test_a_poison_request_is_dead_lettered_and_the_next_one_is_sent(
    broker: str, app: SeqflowApp, results: Collector
) -> None:
    unsubscribed = Unsubscribed(address="x@example.org", at=AT)
    items: list[tuple[str, BaseModel] | bytes] = [
        b"not an envelope",
        ("unsubscribed", unsubscribed),
        ("send_requested", email_request()),
    ]
    await produce(broker, app.topic_names.due_sends, items)
    async with Collector(broker, app.topic_names.dlq("scheduler.due-sends"), raw=True) as dlq:
        await wait_for(lambda: len(dlq.messages) == 2 and len(results.messages) == 1)
        reasons = sorted(dict(m.headers)[REASON_HEADER].decode() for m in dlq.messages)
    assert reasons == ["'unsubscribed' is not a send request", reasons[1]]
    assert reasons[1].startswith("invalid envelope")
    assert results.payloads[0]["status"] == "sent"


def paced_sms(n: int, limit: SendLimit | None) -> SendRequested:
    return SendRequested(
        sequence_id="seqP", contact_id=f"c{n}", step="nudge", attempt=0, channel="sms",
        idempotency_key=f"seqP:c{n}:nudge:0", to=f"+1555000{n:04d}", from_="+15559870000", body="Hi", at=AT,
        limit=limit,
    )  # fmt: skip


async def left_by_a_dead_dispatcher(
    pg_dsn: str, schema_prefix: str, req: SendRequested, status: str, **cols: Any
) -> None:
    """A ledger row as a dispatcher that died leaves it: its lease run out, nobody renewing it."""
    names = ", ".join(cols)
    values = ", ".join(f"${n}" for n in range(6, 6 + len(cols)))
    conn = await asyncpg.connect(pg_dsn)
    try:
        await conn.execute(
            f'INSERT INTO "{schema_prefix}dispatcher".ledger (idempotency_key, sequence_id, channel, address, status,'
            f" owner, claimed_until, created_at, updated_at, {names})"
            f" VALUES ($1, $2, 'email', $3, $4, 'dead', clock_timestamp() - interval '1 second', $5, $5, {values})",
            req.idempotency_key, req.sequence_id, req.to, status, AT, *cols.values(),
        )  # fmt: skip
    finally:
        await conn.close()


async def call_starts(pg_dsn: str, schema_prefix: str) -> list[datetime]:
    conn = await asyncpg.connect(pg_dsn)
    try:
        sql = f'SELECT call_started_at FROM "{schema_prefix}dispatcher".ledger WHERE call_started_at IS NOT NULL'
        return sorted(r["call_started_at"] for r in await conn.fetch(sql))
    finally:
        await conn.close()


async def test_a_backlog_reaches_the_provider_at_the_limits_pace_and_no_earlier(
    broker: str,
    app: SeqflowApp,
    results: Collector,
    sms: tuple[web.AppRunner, str],
    file_clock: FileClock,
    pg_dsn: str,
    schema_prefix: str,
) -> None:
    limit = SendLimit(count=2, per_seconds=60)
    reqs: list[tuple[str, BaseModel] | bytes] = [("send_requested", paced_sms(n, limit)) for n in range(5)]
    await produce(broker, app.topic_names.due_sends, reqs)
    state = sms[0].app[STATE_KEY]
    for minute, total in ((0, 2), (1, 4), (2, 5)):
        set_file_clock(file_clock.path, AT + timedelta(minutes=minute))
        await wait_for(lambda total=total: len(results.messages) == total, what=f"{total} results")
        assert len(state.messages) == total  # the rest wait for the clock: the window is full
    offsets = [(t - AT).total_seconds() for t in await call_starts(pg_dsn, schema_prefix)]
    assert offsets == [0, 0, 60, 60, 120]


async def test_a_send_abandoned_by_a_crashed_dispatcher_is_finished_once_with_the_same_message_id(
    broker: str,
    app: SeqflowApp,
    results: Collector,
    smtp: tuple[Controller, list[EmailMessage]],
    pg_dsn: str,
    schema_prefix: str,
) -> None:
    """The row a dead dispatcher left: claimed with its request, call started, lease run out."""
    req = email_request()
    await left_by_a_dead_dispatcher(pg_dsn, schema_prefix, req, "pending", request=req.model_dump_json(),
                                    call_started_at=AT)  # fmt: skip
    await wait_for(lambda: len(results.messages) == 1, what="the sweeper's result")
    [got] = smtp[1]
    assert got["Message-ID"] == message_id_for(req.idempotency_key, key=app.settings.tracking_secret.encode())
    assert results.payloads[0]["status"] == "sent" and results.payloads[0]["message_id"] == got["Message-ID"]
    [row] = await ledger(pg_dsn, schema_prefix, req.idempotency_key)
    assert (row["status"], row["claims"]) == ("sent", 2)


async def test_an_invalid_phone_number_is_a_hard_bounce_without_retries(
    broker: str, app: SeqflowApp, results: Collector, sms: tuple[web.AppRunner, str]
) -> None:
    req = sms_request().model_copy(update={"to": "+0"})
    await produce(broker, app.topic_names.due_sends, [("send_requested", req)])
    await wait_for(lambda: len(results.messages) == 1)
    assert results.payloads[0]["status"] == "bounced" and "21211" in results.payloads[0]["error"]
    assert sms[0].app[STATE_KEY].messages == []


async def test_sends_without_their_limit_are_paced_by_the_sequences_limits_from_its_activation(
    broker: str, app: SeqflowApp, results: Collector, sms: tuple[web.AppRunner, str], file_clock: FileClock
) -> None:
    activation = {"name": "Paced", "begin": "2026-12-01", "timezone": "UTC", "primary_user": "alice",
                  "rate_limits": {"sms": {"count": 2, "per": "PT1M"}}}  # fmt: skip
    activated = SequenceActivated(sequence_id="seqP", name="Paced", rollup_id="r1", template={},
                                  activation=activation, primary_user=UserRef(id="alice", name="A", email="a@x.io"),
                                  activated_at=AT)  # fmt: skip
    await produce(broker, app.topic_names.sequence_lifecycle, [("sequence_activated", activated)])
    assert app.pool is not None
    sql = f'SELECT count(*) FROM "{app.settings.schema_name("dispatcher")}".sequence_limits WHERE sequence_id = $1'
    await eventually(lambda: app.pool.fetchval(sql, "seqP"), lambda n: n == 2, "the sequence's limits read")
    reqs: list[tuple[str, BaseModel] | bytes] = [("send_requested", paced_sms(n, None)) for n in range(3)]
    await produce(broker, app.topic_names.due_sends, reqs)
    await wait_for(lambda: len(results.messages) == 2, what="the first two")
    assert len(sms[0].app[STATE_KEY].messages) == 2  # the third waits for the window
    set_file_clock(file_clock.path, AT + timedelta(minutes=1))
    await wait_for(lambda: len(results.messages) == 3, what="the third, a minute later")


async def test_a_result_recorded_but_never_published_by_a_crashed_dispatcher_is_published_by_the_sweeper(
    app: SeqflowApp, results: Collector, smtp: tuple[Controller, list[EmailMessage]], pg_dsn: str, schema_prefix: str
) -> None:
    req = email_request()
    result = SendResult(**req.model_dump(include={"sequence_id", "contact_id", "step", "attempt", "channel", "to"}),
                        idempotency_key=req.idempotency_key, status="sent", message_id="<m@x>", at=AT)  # fmt: skip
    await left_by_a_dead_dispatcher(pg_dsn, schema_prefix, req, "sent", result=result.model_dump_json())
    await wait_for(lambda: len(results.messages) == 1, what="the sweeper's publication")
    assert SendResult.model_validate(results.payloads[0]) == result and smtp[1] == []
    await eventually(lambda: ledger(pg_dsn, schema_prefix, req.idempotency_key),
                     lambda rows: rows[0]["result_published"], "its publication noted")  # fmt: skip


async def test_the_age_of_the_oldest_pending_send_is_exported(
    app: SeqflowApp, pg_dsn: str, schema_prefix: str
) -> None:
    """A claim a minute old whose owner still renews it (its lease runs far ahead): the sweeper leaves it."""
    conn = await asyncpg.connect(pg_dsn)
    try:
        await conn.execute(
            f'INSERT INTO "{schema_prefix}dispatcher".ledger (idempotency_key, sequence_id, channel, address, status,'
            " owner, claimed_until, claimed_at, created_at, updated_at) VALUES ('k', 's', 'email', 'a@x.io',"
            " 'pending', 'alive', clock_timestamp() + interval '1 hour', clock_timestamp() - interval '60 seconds',"
            " $1, $1)", AT,
        )  # fmt: skip
    finally:
        await conn.close()
    await wait_for(lambda: (app.registry.get_sample_value("seqflow_ledger_pending_oldest_seconds") or 0) >= 60,
                   what="the oldest pending age exported")  # fmt: skip
