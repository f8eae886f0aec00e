"""`seqflow dlq list|replay` against the real broker: what the dispatcher dead-lettered is listed with its
reason, age, key and id; a replayed send is consumed and sent once, however often it is replayed."""

from __future__ import annotations

import asyncio
import os
import re
import sys
from datetime import UTC, datetime
from email.message import EmailMessage

import pytest
from aiokafka import AIOKafkaProducer
from aiosmtpd.controller import Controller
from support.dispatcher import dispatcher_fixture, ledger
from support.kafka import Collector, produce_raw, wait_for

from seqflow.dlqtool import main
from seqflow.messaging.codec import encode
from seqflow.messaging.dlq import REASON_HEADER, SOURCE_HEADER
from seqflow.messaging.envelope import Envelope
from seqflow.messaging.work import SendRequested
from seqflow.service import SeqflowApp

AT = datetime(2026, 12, 1, 14, 0, tzinfo=UTC)
DUE_SENDS = "scheduler.due-sends"


dispatcher = dispatcher_fixture()


async def seqflow_dlq(broker: str, topic_prefix: str, *args: str) -> tuple[int, str, str]:
    """Run `seqflow dlq ARGS` as a user would, against this test's broker and topics."""
    env = {**os.environ, "SEQFLOW_KAFKA_BOOTSTRAP": broker, "SEQFLOW_TOPIC_PREFIX": topic_prefix}
    pipe = asyncio.subprocess.PIPE
    proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "seqflow", "dlq", *args, env=env,
                                                stdout=pipe, stderr=pipe)  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


def send_request() -> Envelope:
    req = SendRequested(
        sequence_id="seq1", contact_id="c1", step="intro", attempt=0, channel="email",
        idempotency_key="seq1:c1:intro:0", to="ada@example.org", from_="Alice <alice@example.com>",
        subject="Senior Python role", body="Hi Ada", at=AT,
    )  # fmt: skip
    return Envelope.wrap("send_requested", "seq1:c1", req, AT)


async def park_as_dead_letter(broker: str, topic: str, env: Envelope, reason: str) -> None:
    """What messaging.dlq.dead_letter writes: the original key and bytes, the reason and source in headers."""
    producer = AIOKafkaProducer(bootstrap_servers=broker)
    await producer.start()
    try:
        headers = [(REASON_HEADER, reason.encode()), (SOURCE_HEADER, topic.encode())]
        await producer.send_and_wait(f"{topic}.dlq", encode(env), key=env.key.encode(), headers=headers)
    finally:
        await producer.stop()


async def test_list_shows_what_the_dispatcher_dead_lettered_with_reason_age_key_and_id(
    broker: str, topic_prefix: str, dispatcher: SeqflowApp
) -> None:
    wrong_type = send_request().model_copy(update={"type": "task_due", "key": "seq1:c2"})
    due_sends = dispatcher.topic_names.due_sends
    await produce_raw(broker, due_sends, [(b"seq1:c1", b"not an envelope"), (b"seq1:c2", encode(wrong_type))])
    async with Collector(broker, dispatcher.topic_names.dlq(DUE_SENDS), raw=True) as dlq:
        await wait_for(lambda: len(dlq.messages) == 2, what="two dead letters")
    code, out, err = await seqflow_dlq(broker, topic_prefix, "list", "--topic", DUE_SENDS)
    assert code == 0, err
    header, *rows = out.splitlines()
    assert header.split()[:6] == ["topic", "partition", "offset", "age", "key", "id"]
    by_key = {row.split()[4]: row for row in rows}
    assert set(by_key) == {"seq1:c1", "seq1:c2"}
    poison, typed = by_key["seq1:c1"], by_key["seq1:c2"]
    assert poison.split()[0] == due_sends and "invalid envelope" in poison
    assert re.fullmatch(r"p\d+o0", poison.split()[5])  # not an envelope: its place on the DLQ is its id
    assert typed.split()[5] == str(wrong_type.id) and "task_due" in typed
    assert re.fullmatch(r"\d+s", poison.split()[3])  # its age
    code, everything, err = await seqflow_dlq(broker, topic_prefix, "list")  # every topic's dead letters
    assert code == 0, err
    assert sorted(row.split()[5] for row in everything.splitlines()[1:]) == sorted(row.split()[5] for row in rows)


async def test_a_replayed_send_is_consumed_and_sent_once_however_often_it_is_replayed(
    broker: str, topic_prefix: str, pg_dsn: str, schema_prefix: str, dispatcher: SeqflowApp,
    smtp: tuple[Controller, list[EmailMessage]],
) -> None:  # fmt: skip
    env = send_request()
    await park_as_dead_letter(broker, dispatcher.topic_names.due_sends, env, "a bug fixed since")
    async with Collector(broker, dispatcher.topic_names.dispatch_results) as results:
        code, out, err = await seqflow_dlq(broker, topic_prefix, "replay", "--topic", DUE_SENDS, "--id", str(env.id))
        assert (code, out.strip()) == (0, f"replayed 1 message(s) to {dispatcher.topic_names.due_sends}"), err
        await wait_for(lambda: len(smtp[1]) == 1 and len(results.items) == 1, what="the replayed send")
        code, _, err = await seqflow_dlq(broker, topic_prefix, "replay", "--topic", f"{DUE_SENDS}.dlq", "--all")
        assert code == 0, err
        await wait_for(lambda: len(results.items) == 2, what="the second replay to be consumed")
    assert [m["Subject"] for m in smtp[1]] == ["Senior Python role"]
    assert {r.payload["status"] for r in results.items} == {"sent"}
    assert len(await ledger(pg_dsn, schema_prefix)) == 1


async def test_replaying_an_id_that_is_not_on_the_dead_letter_topic_exits_1_and_says_so(
    broker: str, topic_prefix: str
) -> None:
    code, out, err = await seqflow_dlq(broker, topic_prefix, "replay", "--topic", DUE_SENDS, "--id", "nope")
    assert (code, out) == (1, "")
    assert f"no dead letter with id 'nope' on {topic_prefix}{DUE_SENDS}.dlq" in err


@pytest.mark.parametrize(
    ("argv", "option"),
    [
        (["list", "--topic", "no.such.topic"], "--topic"),
        (["replay", "--all"], "--topic"),
        (["replay", "--topic", DUE_SENDS], "--id"),
        (["replay", "--topic", DUE_SENDS, "--id", "x", "--all"], "--all"),
        (["purge"], "ACTION"),
    ],
)
def test_bad_arguments_exit_2_naming_the_option(
    argv: list[str], option: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2
    assert option in capsys.readouterr().err
