"""The dispatcher's agents and timers: due sends → claims → results; lease renewal; the sweeper; unsubscribes."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Coroutine, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiokafka import ConsumerRecord
from pydantic import BaseModel

from seqflow.messaging.batches import Records, batch_agent
from seqflow.messaging.codec import PoisonMessage, decode_payload, encode_wrapped
from seqflow.messaging.dispatch import SendResult
from seqflow.messaging.dlq import dead_letter, decode_or_dead_letter, decode_typed_or_dead_letter
from seqflow.messaging.engagement import Unsubscribed
from seqflow.messaging.lifecycle import SequenceActivated, SequenceChanged
from seqflow.messaging.work import SendRequested
from seqflow.service import SeqflowApp
from seqflow_dispatcher.db import DispatchStore
from seqflow_dispatcher.handlers import (
    Claimed,
    Deps,
    Wiring,
    claim_batch,
    on_lifecycle,
    on_unsubscribed,
    published,
    reclaim,
    send_claimed,
    unpublished,
)

log = logging.getLogger(__name__)

BATCH_SIZE = 100
BATCH_WITHIN = 0.1  # seconds to wait for a batch to fill
SMS_TIMEOUT = aiohttp.ClientTimeout(total=15)
BATCHES_IN_FLIGHT = 64  # claimed batches still sending; more waits (back-pressure on the consumer)
SWEEP_SECONDS = 1.0  # how often every replica looks for sends whose lease ran out
SWEEP_BATCH = 100
LIMIT_CARRIERS = {"sequence_activated", "sequence_changed"}


@dataclass
class Runtime:
    """The live dependencies (once the agent opened them) and the claimed batches still being sent."""

    app: SeqflowApp
    deps: Deps | None = None
    slots: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(BATCHES_IN_FLIGHT))
    tasks: dict[asyncio.Task[None], list[str]] = field(default_factory=dict)  # batch → its idempotency keys

    def active_keys(self) -> list[str]:
        """Keys of sends this process is working on: only their leases are renewed (a crashed batch's lapse)."""
        return [key for keys in self.tasks.values() for key in keys]

    async def publish(self, results: list[SendResult]) -> None:
        """Emit results and, once the broker acked them, note it in the ledger (else the sweeper re-emits)."""
        if not results:
            return
        publisher, topic = self.app.publisher, self.app.topic_names.dispatch_results
        await publisher.send_many(topic, map(result_message, results))
        await publisher.flush()
        if self.deps is not None:
            await published(self.deps, results)

    async def start_sending(self, deps: Deps, claimed: Claimed) -> None:
        """Emit replayed results now; send the owned requests in the background (they are in the ledger)."""
        await self.publish(claimed.replay)
        if claimed.owned:
            await self.slots.acquire()
            keys = [r.idempotency_key for r in claimed.owned]
            self._spawn(send_claimed(deps, claimed, self.publish), keys)

    def _spawn(self, work: Coroutine[Any, Any, None], keys: list[str]) -> None:
        task = asyncio.ensure_future(work)
        self.tasks[task] = keys
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self.tasks.pop(task, None)
        self.slots.release()
        if not task.cancelled() and task.exception() is not None:
            log.error("send batch crashed; the sweeper will finish it", exc_info=task.exception())


def register_agents(app: SeqflowApp, wiring: Wiring) -> None:
    due_sends = app.topic_names.due_sends
    engagement = app.topic_names.engagement_events
    runtime = Runtime(app)

    @batch_agent(app, due_sends, "due-sends", BATCH_SIZE, BATCH_WITHIN)
    async def send_agent(batches: AsyncIterator[Records]) -> None:
        connector = aiohttp.TCPConnector(limit=64, keepalive_timeout=60)
        async with aiohttp.ClientSession(timeout=SMS_TIMEOUT, connector=connector) as session:
            assert app.pool is not None  # opened in on_first_start, before agents run
            deps = runtime.deps = wiring.deps(app.pool, session)
            try:
                async for records in batches:
                    await process_sends(app, runtime, deps, records)
            finally:
                await deps.channels.smtp.close()

    register_timers(app, wiring, runtime)

    lifecycle = app.topic_names.sequence_lifecycle

    @batch_agent(app, [engagement, lifecycle], "side-events", BATCH_SIZE, BATCH_WITHIN)
    async def side_agent(batches: AsyncIterator[Records]) -> None:
        """Unsubscribes and the sequences' rate limits: low volume, one consumer for both topics."""
        async for records in batches:
            for record in records:
                process = process_engagement if record.topic == engagement else process_lifecycle
                await process(app, wiring.store, record)


def register_timers(app: SeqflowApp, wiring: Wiring, runtime: Runtime) -> None:
    @app.timer(interval=wiring.store.lease_seconds / 5)
    async def renew_leases() -> None:
        """Keep the claims of this process alive while its sends wait or run; a dead process stops this."""
        keys = runtime.active_keys()
        if runtime.deps is not None and keys:
            async with survive("lease renewal"), runtime.deps.pool.acquire() as conn:
                await wiring.store.renew(conn, wiring.owner, keys)

    @app.timer(interval=SWEEP_SECONDS)
    async def sweep() -> None:
        """Finish sends another (crashed) dispatcher claimed and abandoned, and export the oldest pending."""
        deps = runtime.deps
        if deps is None:
            return
        async with survive("sweep"):
            await runtime.start_sending(deps, await reclaim(deps, SWEEP_BATCH))
            await runtime.publish(await unpublished(deps, SWEEP_BATCH))
            async with deps.pool.acquire() as conn:
                wiring.pending_oldest.set(await wiring.store.pending_oldest_seconds(conn))


@asynccontextmanager
async def survive(what: str) -> AsyncIterator[None]:
    """A timer's failure (database briefly away, shutting down) is logged; the next run tries again."""
    try:
        yield
    except Exception:
        log.exception("%s failed; retrying on the next run", what)


async def process_sends(app: SeqflowApp, runtime: Runtime, deps: Deps, events: Sequence[ConsumerRecord]) -> None:
    """Claim the batch; its offsets commit when this returns, once every request is in the ledger."""
    topic = app.topic_names.due_sends
    requests = [req for event in events if (req := await decode_request(app, topic, event)) is not None]
    with app.metrics.handler_seconds.labels("send_batch").time():
        claimed = await claim_batch(deps, requests)
    await runtime.start_sending(deps, claimed)


async def decode_request(app: SeqflowApp, topic: str, event: ConsumerRecord) -> SendRequested | None:
    """A send request (envelope and payload read in one pass); anything else is dead-lettered: the topic
    carries nothing else."""
    app.metrics.events_consumed.labels(topic).inc()
    found = await decode_typed_or_dead_letter(app.publisher, topic, event.key, event.value)
    if found is None:
        return None
    env, payload = found
    if not isinstance(payload, SendRequested):
        await dead_letter(app.publisher, topic, event.key, event.value, f"{env.type!r} is not a send request")
        return None
    return payload


def result_message(result: SendResult) -> tuple[bytes, bytes]:
    """(key, value) of a result's envelope: the bytes `encode(Envelope.wrap(...))` gives, in one pass."""
    key = f"{result.sequence_id}:{result.contact_id}"
    return key.encode("utf-8"), encode_wrapped("send_result", key, result, result.at)


async def decode_wanted(app: SeqflowApp, topic: str, event: ConsumerRecord, wanted: set[str]) -> BaseModel | None:
    """The payload of an envelope whose type is `wanted`; poison is dead-lettered, other types skipped."""
    app.metrics.events_consumed.labels(topic).inc()
    env = await decode_or_dead_letter(app.publisher, topic, event.key, event.value)
    if env is None or env.type not in wanted:
        return None
    try:
        return decode_payload(env)
    except PoisonMessage as exc:
        await dead_letter(app.publisher, topic, event.key, event.value, exc.reason)
        return None


async def process_lifecycle(app: SeqflowApp, store: DispatchStore, event: ConsumerRecord) -> None:
    """Activations and edits carry the sequence's rate limits; other lifecycle types are skipped."""
    payload = await decode_wanted(app, app.topic_names.sequence_lifecycle, event, LIMIT_CARRIERS)
    if isinstance(payload, SequenceActivated | SequenceChanged) and payload.activation is not None:
        assert app.pool is not None
        await on_lifecycle(app.pool, store, payload.sequence_id, payload.activation)


async def process_engagement(app: SeqflowApp, store: DispatchStore, event: ConsumerRecord) -> None:
    """Only `unsubscribed` concerns the dispatcher; other engagement types are skipped."""
    payload = await decode_wanted(app, app.topic_names.engagement_events, event, {"unsubscribed"})
    if isinstance(payload, Unsubscribed):
        assert app.pool is not None
        with app.metrics.handler_seconds.labels("unsubscribed").time():
            await on_unsubscribed(app.pool, store, payload)
