"""`encode_wrapped` gives the bytes `encode(Envelope.wrap(...))` gives (apart from the fresh event id)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given
from hypothesis import strategies as st

from seqflow.messaging.codec import decode_typed, encode, encode_wrapped
from seqflow.messaging.envelope import Envelope
from seqflow.messaging.work import EnrollmentChanged, SendLimit, SendRequested

text = st.text(min_size=1, max_size=20)
ZONES = [UTC, timezone(timedelta(hours=-12)), timezone(timedelta(hours=5, minutes=30))]
instants = st.datetimes(
    min_value=datetime(1970, 1, 2),  # noqa: DTZ001 - hypothesis takes naive bounds and adds `timezones`
    max_value=datetime(9000, 1, 1),  # noqa: DTZ001
    timezones=st.sampled_from(ZONES),
)
values = st.one_of(st.none(), st.integers(), st.floats(allow_nan=False, allow_infinity=False), text)  # JSON has no inf
details = st.dictionaries(st.text(max_size=8), values)


def same_but_id(fast: bytes, slow: bytes) -> None:
    a, b = json.loads(fast), json.loads(slow)
    assert a.pop("id") != b.pop("id")  # each call makes a new event id
    assert a == b
    env = json.loads(slow)["id"]
    assert slow.replace(env.encode(), json.loads(fast)["id"].encode()) == fast  # byte for byte


@given(key=text, at=instants, action=text, detail=details, next_at=st.none() | instants)
def test_an_enrollment_change_is_encoded_as_the_envelope_would_be(
    key: str,
    at: datetime,
    action: str,
    detail: dict,
    next_at: datetime | None,  # type: ignore[type-arg]
) -> None:
    p = EnrollmentChanged(sequence_id="s", contact_id=key, action=action, step=None, at=at, status="active",
                          phase="waiting", next_at=next_at, detail=detail)  # fmt: skip
    fast, slow = (
        encode_wrapped("enrollment_changed", key, p, at),
        encode(Envelope.wrap("enrollment_changed", key, p, at)),
    )
    same_but_id(fast, slow)
    env, payload = decode_typed(fast)
    assert (env.type, env.key, env.occurred_at, payload) == ("enrollment_changed", key, at.astimezone(UTC), p)


@given(to=text, subject=st.none() | text, body=st.text(max_size=200), at=instants)
def test_a_send_request_is_encoded_as_the_envelope_would_be(
    to: str, subject: str | None, body: str, at: datetime
) -> None:
    p = SendRequested(sequence_id="s", contact_id="c", step="intro", attempt=1, channel="email",
                      idempotency_key="s:c:intro:1", to=to, from_="a@b.example", subject=subject, body=body, at=at,
                      limit=SendLimit(count=5, per_seconds=60))  # fmt: skip
    same_but_id(encode_wrapped("send_requested", "s:c", p, at), encode(Envelope.wrap("send_requested", "s:c", p, at)))
