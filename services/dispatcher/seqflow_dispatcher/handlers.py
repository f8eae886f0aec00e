"""Dispatch requested sends exactly once per idempotency key, and keep the suppression list."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import aiohttp
import asyncpg
from prometheus_client import Counter

from seqflow.channels.errors import SendError
from seqflow.clock import Clock
from seqflow.messaging.dispatch import SendResult
from seqflow.messaging.engagement import Unsubscribed
from seqflow.messaging.work import SendRequested
from seqflow.settings import Settings
from seqflow_dispatcher.channels import Channels, RetryPolicy, with_retries
from seqflow_dispatcher.db import DispatchStore

log = logging.getLogger(__name__)

# Longer than any send with its retries can take: only then may another delivery reclaim a pending row.
CLAIM_LEASE = timedelta(minutes=5)


@dataclass(frozen=True)
class Deps:
    pool: asyncpg.Pool
    store: DispatchStore
    channels: Channels
    clock: Clock
    sends_total: Counter
    retry: RetryPolicy = RetryPolicy()
    concurrency: int = 32


@dataclass(frozen=True)
class Wiring:
    """What the app builds up front; `deps` completes it once the pool and HTTP session exist."""

    settings: Settings
    store: DispatchStore
    clock: Clock
    sends_total: Counter
    retry: RetryPolicy = RetryPolicy()
    concurrency: int = 32

    def deps(self, pool: asyncpg.Pool, session: aiohttp.ClientSession) -> Deps:
        channels = Channels(self.settings, session)
        return Deps(pool, self.store, channels, self.clock, self.sends_total, self.retry, self.concurrency)


async def dispatch(deps: Deps, req: SendRequested) -> SendResult | None:
    """Send once: the ledger row is written before the provider call; a replay re-emits the stored result.

    None means another delivery of the same key holds the claim and will emit the result itself.
    """
    now = deps.clock.now()
    async with deps.pool.acquire() as conn:
        claim = await deps.store.claim(conn, req, now, now + CLAIM_LEASE)
        if not claim.owned:
            return claim.stored
        if await deps.store.is_suppressed(conn, req.to):
            return await finish(deps, conn, result_of(req, deps, "suppressed"))
    result = await deliver(deps, req)
    async with deps.pool.acquire() as conn:
        return await finish(deps, conn, result)


async def finish(deps: Deps, conn: asyncpg.Connection, result: SendResult) -> SendResult:
    await deps.store.complete(conn, result, deps.clock.now())
    deps.sends_total.labels(result.channel, result.status).inc()
    return result


async def deliver(deps: Deps, req: SendRequested) -> SendResult:
    """Call the provider (transient errors retried); any error ends in a `failed` result."""
    try:
        message_id = await with_retries(lambda: deps.channels.send(req, deps.clock.now()), deps.retry)
    except SendError as exc:
        return result_of(req, deps, "failed", error=exc.message)
    except Exception as exc:  # a bad request (e.g. an unparsable address) must not stop the consumer
        log.exception("send crashed", extra={"enrollment": f"{req.sequence_id}:{req.contact_id}"})
        return result_of(req, deps, "failed", error=f"{type(exc).__name__}: {exc}")
    return result_of(req, deps, "sent", message_id=message_id)


def result_of(req: SendRequested, deps: Deps, status: str, **extra: Any) -> SendResult:
    fields = req.model_dump(include={"sequence_id", "contact_id", "step", "attempt", "channel", "to"})
    return SendResult(**fields, idempotency_key=req.idempotency_key, status=status, at=deps.clock.now(), **extra)


async def dispatch_batch(deps: Deps, requests: Iterable[SendRequested]) -> list[SendResult]:
    """Send a batch concurrently (bounded), but one key's requests strictly one after another."""
    by_key: dict[str, list[SendRequested]] = {}
    for req in requests:
        by_key.setdefault(req.idempotency_key, []).append(req)
    gate = asyncio.Semaphore(deps.concurrency)
    groups = await asyncio.gather(*(_dispatch_in_order(deps, gate, reqs) for reqs in by_key.values()))
    return [result for group in groups for result in group]


async def _dispatch_in_order(deps: Deps, gate: asyncio.Semaphore, requests: list[SendRequested]) -> list[SendResult]:
    results = []
    for req in requests:
        async with gate:
            result = await dispatch(deps, req)
        if result is not None:
            results.append(result)
    return results


async def on_unsubscribed(pool: asyncpg.Pool, store: DispatchStore, event: Unsubscribed) -> None:
    """Put the address on the suppression list (idempotent)."""
    async with pool.acquire() as conn:
        await store.suppress(conn, event)
