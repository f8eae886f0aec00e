"""Dead-lettering: a message that can never be processed goes to `<topic>.dlq` with its reason."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

from pydantic import BaseModel

from seqflow.messaging.codec import PoisonMessage, decode, decode_payload, decode_typed
from seqflow.messaging.envelope import Envelope
from seqflow.messaging.publisher import Publisher
from seqflow.messaging.topics import dlq_of

log = logging.getLogger(__name__)
consumed = logging.getLogger("seqflow.consumed")  # one line per consumed message: event id, enrollment key

T = TypeVar("T")

REASON_HEADER = "seqflow-dlq-reason"
SOURCE_HEADER = "seqflow-dlq-source-topic"


async def dead_letter(publisher: Publisher, topic: str, key: bytes | None, value: bytes | None, reason: str) -> None:
    """Produce the original bytes unchanged to `<topic>.dlq`, the reason in headers; count it.

    Awaits the ack: the consumer commits past the poison message only once it is safely parked.
    """
    headers = [(REASON_HEADER, reason.encode("utf-8")), (SOURCE_HEADER, topic.encode("utf-8"))]
    await publisher.send_raw(dlq_of(topic), key, value or b"", headers)
    await publisher.flush()
    publisher.metrics.dlq.labels(topic).inc()
    log.warning("dead-lettered message", extra={"topic": topic, "reason": reason})


async def decode_or_dead_letter(
    publisher: Publisher, topic: str, key: bytes | None, value: bytes | None
) -> Envelope | None:
    """The envelope, or None after dead-lettering a message that is not one."""
    try:
        env = decode(value)
    except PoisonMessage as exc:
        await dead_letter(publisher, topic, key, value, exc.reason)
        return None
    log_consumed(env, topic)
    return env


async def decode_typed_or_dead_letter(
    publisher: Publisher, topic: str, key: bytes | None, value: bytes | None
) -> tuple[Envelope, BaseModel] | None:
    """The envelope and its payload model (decoded in one pass, `codec.decode_typed`), or None after
    dead-lettering a message that is not one; logged and dead-lettered exactly as `decode_or_dead_letter`
    then `decode_payload` would (a valid envelope with a bad payload is logged, then dead-lettered)."""
    try:
        env, payload = decode_typed(value)
    except PoisonMessage:
        found = await decode_or_dead_letter(publisher, topic, key, value)
        if found is None:
            return None
        try:
            payload = decode_payload(found)
        except PoisonMessage as exc:
            await dead_letter(publisher, topic, key, value, exc.reason)
            return None
        return found, payload  # not reached while decode_typed agrees with the two steps
    log_consumed(env, topic)
    return env, payload


def log_consumed(env: Envelope, topic: str) -> None:
    consumed.info(env.type, extra={"event_id": env.id, "enrollment": env.key, "topic": topic})


async def apply_isolating(
    items: Sequence[T],
    apply: Callable[[Sequence[T]], Awaitable[None]],
    park: Callable[[T, Exception], Awaitable[None]],
    transient: tuple[type[BaseException], ...] = (),
) -> None:
    """Apply a batch; if it fails (other than with a `transient` error, which is raised: the messages are
    fine), halve it until the failing item stands alone and `park` it (dead-letter it): the others are still
    applied, in order, in few transactions."""
    try:
        await apply(items)
    except transient:
        raise
    except Exception as exc:  # noqa: BLE001 - a message that fails for any reason is parked, the consumer goes on
        if len(items) == 1:
            await park(items[0], exc)
            return
        half = len(items) // 2
        await apply_isolating(items[:half], apply, park, transient)
        await apply_isolating(items[half:], apply, park, transient)
