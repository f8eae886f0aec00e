"""The consumer every service registers for `contact.erasure`: decode, erase in one transaction, log counts.

Each service passes its own `erase(conn, event) -> {what: rows}`; a message that is not a `contact_erased`
event is dead-lettered like on any other topic. Erasing twice changes nothing, so redelivery is safe.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable

import asyncpg

from seqflow.messaging.batches import Records, batch_agent
from seqflow.messaging.codec import PoisonMessage, decode_payload
from seqflow.messaging.dlq import dead_letter, decode_or_dead_letter
from seqflow.messaging.erasure import ContactErased
from seqflow.service import SeqflowApp

Erase = Callable[[asyncpg.Connection, ContactErased], Awaitable[dict[str, int]]]
log = logging.getLogger("seqflow.erasure")
ATTEMPTS = 4
BATCH_SIZE = 100  # erasures are rare: a batch only shares the fetch and the offset commit
BATCH_WITHIN = 0.05


def rows(status: str) -> int:
    """The row count of an asyncpg status line (`UPDATE 1`, `DELETE 0`)."""
    return int(status.split()[-1])


def register_erasure(app: SeqflowApp, erase: Erase) -> None:
    topic = app.topic_names.contact_erasure

    @batch_agent(app, topic, "contact-erasure", BATCH_SIZE, BATCH_WITHIN)
    async def consume(batches: AsyncIterator[Records]) -> None:
        async for records in batches:
            for record in records:
                await handle(app, topic, record.key, record.value, erase)


async def handle(app: SeqflowApp, topic: str, key: bytes | None, value: bytes | None, erase: Erase) -> None:
    app.metrics.events_consumed.labels(topic).inc()
    env = await decode_or_dead_letter(app.publisher, topic, key, value)
    if env is None:
        return
    try:
        event = decode_payload(env)
        if not isinstance(event, ContactErased):
            raise PoisonMessage(f"{env.type!r} is not a contact erasure")
    except PoisonMessage as exc:
        await dead_letter(app.publisher, topic, key, value, exc.reason)
        return
    try:
        counts = await erase_with_retries(app, erase, event)
    except asyncpg.PostgresError as exc:  # e.g. a deadlock, again and again: park it, an operator replays it
        await dead_letter(app.publisher, topic, key, value, f"erasure failed: {type(exc).__name__}: {exc}")
        return
    log.info("contact erased", extra={"contact": event.contact_id, "erased": counts})


async def erase_with_retries(app: SeqflowApp, erase: Erase, event: ContactErased) -> dict[str, int]:
    """Run `erase` in one transaction; a failed attempt (a deadlock with a tick, say) is retried."""
    assert app.pool is not None
    for attempt in range(ATTEMPTS):
        try:
            async with app.pool.acquire() as conn, conn.transaction():
                return await erase(conn, event)
        except asyncpg.PostgresError:
            if attempt == ATTEMPTS - 1:
                raise
            log.warning("erasure attempt failed; retrying", exc_info=True, extra={"contact": event.contact_id})
            await asyncio.sleep(0.2 * 2**attempt)
    raise AssertionError("unreachable")
