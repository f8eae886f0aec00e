import json
from datetime import UTC, datetime

import pytest
from pydantic import BaseModel, ConfigDict

from seqflow.messaging import catalog  # noqa: F401 - registers the real types: decode_typed takes its one-pass path
from seqflow.messaging.codec import PoisonMessage, decode, decode_payload, decode_typed, encode, register
from seqflow.messaging.envelope import Envelope
from seqflow.messaging.topics import Topics, dlq_of


class Ping(BaseModel):
    model_config = ConfigDict(frozen=True)
    n: int


register("test.ping", Ping)
AT = datetime(2026, 12, 1, 14, 0, tzinfo=UTC)


def ping(n: int = 1) -> Envelope:
    return Envelope.wrap("test.ping", "seq1:c1", Ping(n=n), AT)


def test_an_envelope_survives_encode_and_decode_unchanged() -> None:
    env = ping()
    assert decode(encode(env)) == env


def test_a_registered_payload_decodes_to_its_model() -> None:
    assert decode_payload(decode(encode(ping(7)))) == Ping(n=7)


@pytest.mark.parametrize(
    "raw",
    [None, b"", b"not json", b"[]", b'{"type": "x"}', b"\xff\xfe"],
    ids=["none", "empty", "garbage", "array", "missing-fields", "bad-utf8"],
)
def test_anything_that_is_not_an_envelope_is_poison(raw: bytes | None) -> None:
    with pytest.raises(PoisonMessage):
        decode(raw)


def test_a_naive_occurred_at_is_poison() -> None:
    doc = json.loads(encode(ping()))
    doc["occurred_at"] = "2026-12-01T14:00:00"
    with pytest.raises(PoisonMessage, match="occurred_at"):
        decode(json.dumps(doc).encode())


def test_an_unknown_message_type_is_poison() -> None:
    env = Envelope(type="test.nobody", key="k", occurred_at=AT, payload={})
    with pytest.raises(PoisonMessage, match="unknown message type"):
        decode_payload(env)


def test_an_invalid_payload_is_poison_naming_the_field() -> None:
    env = Envelope(type="test.ping", key="k", occurred_at=AT, payload={"n": "many"})
    with pytest.raises(PoisonMessage, match="n:"):
        decode_payload(env)


def test_registering_a_type_twice_with_another_model_is_refused() -> None:
    class Other(BaseModel):
        pass

    with pytest.raises(ValueError, match="already registered"):
        register("test.ping", Other)


def test_occurred_at_is_normalised_to_utc() -> None:
    env = Envelope(type="x", key="k", occurred_at="2026-12-01T15:00:00+01:00", payload={})
    assert env.occurred_at == AT and env.occurred_at.tzinfo == UTC


def test_topic_names_carry_the_prefix_and_dead_letter_topics_end_in_dlq() -> None:
    topics = Topics("t1-")
    assert topics.due_sends == "t1-scheduler.due-sends"
    assert topics.dlq("rollup.membership") == "t1-rollup.membership.dlq"
    assert dlq_of("a.b") == "a.b.dlq"


def test_decode_typed_gives_what_decode_then_decode_payload_give() -> None:
    raw = encode(ping(7))
    env, payload = decode_typed(raw)
    plain = decode(raw)
    assert (env.id, env.type, env.version, env.key, env.occurred_at) == (
        plain.id,
        plain.type,
        plain.version,
        plain.key,
        plain.occurred_at,
    )
    assert payload == decode_payload(plain) == Ping(n=7)


@pytest.mark.parametrize(
    "raw",
    [None, b"", b"not json", b"[]", b'{"type": "x"}', b"\xff\xfe",
     Envelope(type="test.nobody", key="k", occurred_at=AT, payload={}).model_dump_json().encode(),
     Envelope(type="test.ping", key="k", occurred_at=AT, payload={"n": "many"}).model_dump_json().encode()],
    ids=["none", "empty", "garbage", "array", "missing-fields", "bad-utf8", "unknown-type", "bad-payload"],
)  # fmt: skip
def test_decode_typed_refuses_poison_with_the_reason_the_two_steps_give(raw: bytes | None) -> None:
    with pytest.raises(PoisonMessage) as two_steps:
        decode_payload(decode(raw))
    with pytest.raises(PoisonMessage) as one_pass:
        decode_typed(raw)
    assert one_pass.value.reason == two_steps.value.reason
