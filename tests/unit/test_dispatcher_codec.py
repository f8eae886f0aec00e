"""The dispatcher's one-pass envelope reading and writing agree with the general codec byte for byte."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest

from seqflow.messaging.codec import PoisonMessage, decode, decode_payload, decode_typed, encode
from seqflow.messaging.dispatch import SendResult
from seqflow.messaging.envelope import Envelope
from seqflow.messaging.work import SendLimit, SendRequested, TaskDue
from seqflow_dispatcher.agents import result_message

AT = datetime(2025, 3, 4, 9, 30, 12, 345678, tzinfo=timezone(timedelta(hours=2)))
REQUEST = SendRequested(sequence_id="s1", contact_id="c1", step="intro", attempt=0, channel="email",
                        idempotency_key="s1:c1:intro:0", to="ådå@example.org", from_="Zoë <z@example.com>",
                        subject=None, body="Hi ✓", at=AT, limit=SendLimit(count=5, per_seconds=60))  # fmt: skip


def _result(**extra: object) -> SendResult:
    fields = {"sequence_id": "s1", "contact_id": "c1", "step": "intro", "attempt": 2, "channel": "email",
              "idempotency_key": "s1:c1:intro:2", "status": "sent", "to": "ådå@example.org", "at": AT}  # fmt: skip
    return SendResult.model_validate({**fields, **extra})


@pytest.mark.parametrize(
    "result",
    [_result(message_id="<a@b>"), _result(status="bounced", error="SMTP 550: gone \"x\""),
     _result(status="suppressed", at=datetime(2025, 1, 1, tzinfo=UTC)), _result(channel="sms", message_id="SM1")],
)  # fmt: skip
def test_a_result_message_is_the_bytes_of_the_wrapped_envelope(result: SendResult) -> None:
    key, value = result_message(result)
    env_id = uuid.UUID(json.loads(value)["id"])
    want = Envelope.wrap("send_result", f"{result.sequence_id}:{result.contact_id}", result, result.at)
    assert key == want.key.encode() and value == encode(want.model_copy(update={"id": env_id}))


def read_request(data: bytes | None) -> SendRequested | None:
    """What the dispatcher's `decode_request` keeps: a one-pass decode whose payload is a send request."""
    try:
        _, payload = decode_typed(data)
    except PoisonMessage:
        return None
    return payload if isinstance(payload, SendRequested) else None


def test_a_valid_request_reads_as_the_two_step_decode_reads_it() -> None:
    data = encode(Envelope.wrap("send_requested", "s1:c1", REQUEST, AT))
    env, payload = decode_typed(data)
    assert payload == read_request(data) == decode_payload(decode(data)) == REQUEST
    assert (env.id, env.type, env.key, env.occurred_at) == (decode(data).id, "send_requested", "s1:c1", AT)


def _payload(**change: object) -> bytes:
    env = Envelope.wrap("send_requested", "s1:c1", REQUEST, AT)
    return encode(env.model_copy(update={"payload": {**env.payload, **change}}))


@pytest.mark.parametrize(
    "data",
    [None, b"", b"not json", b"{}", _payload(channel="fax"), _payload(surprise=1), _payload(at="2025-01-01T00:00:00"),
     encode(Envelope.wrap("task_due", "s1:c1", TaskDue(sequence_id="s1", contact_id="c1", step="t", attempt=0,
            kind="task", type="call", priority="low", branch="main", step_index=0, outcomes=[], at=AT), AT))],
)  # fmt: skip
def test_anything_the_two_step_decode_refuses_is_not_read_as_a_request(data: bytes | None) -> None:
    assert read_request(data) is None
    with pytest.raises(PoisonMessage):
        env = decode(data)
        if env.type != "send_requested":
            raise PoisonMessage("not a send request")
        decode_payload(env)
