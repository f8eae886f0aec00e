"""Dispatch requested sends at most once per idempotency key, paced, and keep the suppression list.

A batch is claimed in one transaction: each row holds the whole request, so once the claim commits the
consumer may move on; the sends finish in the background and a crash leaves rows a sweeper finishes.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import asyncpg
from prometheus_client import Counter, Gauge
from pydantic import ValidationError

from seqflow.channels.email import SmtpPool
from seqflow.channels.errors import BouncedError, SendError
from seqflow.clock import Clock
from seqflow.domain.activation import RateLimits
from seqflow.messaging.dispatch import SendResult
from seqflow.messaging.engagement import Unsubscribed
from seqflow.messaging.work import SendLimit, SendRequested
from seqflow.settings import Settings
from seqflow_dispatcher.channels import Channels, RetryPolicy, with_retries
from seqflow_dispatcher.db import DispatchStore, PacingStore, normal
from seqflow_dispatcher.pacing import Pacer

log = logging.getLogger(__name__)

# The scheduler puts the limit on every send (`SendRequested.limit`; None = unlimited). The read copy of each
# sequence's limits is only a fallback for sends that lack it (a replayed message from before the field existed),
# so by default nothing waits for it; a positive wait makes such sends wait for an activation still on its way.
LIMITS_WAIT = 0.0
LIMITS_POLL = 0.2
MAX_COUNT = 2**62  # what a bigint column holds; a larger limit is, for pacing, no limit at all

Publish = Callable[[list[SendResult]], Awaitable[None]]


@dataclass(frozen=True)
class Deps:
    pool: asyncpg.Pool
    store: DispatchStore
    pacer: Pacer
    channels: Channels
    clock: Clock
    sends_total: Counter
    owner: str
    retry: RetryPolicy = RetryPolicy()
    limits_wait: float = LIMITS_WAIT
    gate: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(64))  # provider calls at once


@dataclass(frozen=True)
class Wiring:
    """What the app builds up front; `deps` completes it once the pool exists (in the running loop)."""

    settings: Settings
    store: DispatchStore
    clock: Clock
    sends_total: Counter
    pending_oldest: Gauge
    retry: RetryPolicy = RetryPolicy()
    limits_wait: float = LIMITS_WAIT
    owner: str = field(default_factory=lambda: uuid.uuid4().hex)  # this process, as a ledger claim owner

    def deps(self, pool: asyncpg.Pool, session: aiohttp.ClientSession) -> Deps:
        smtp = SmtpPool(self.settings.smtp_host, self.settings.smtp_port, self.settings.smtp_pool_size)
        channels = Channels(self.settings, session, smtp)
        pacer = Pacer(pool, PacingStore(self.store.schema), self.clock, self.owner)
        return Deps(pool, self.store, pacer, channels, self.clock, self.sends_total, self.owner, self.retry,
                    self.limits_wait)  # fmt: skip


@dataclass(frozen=True)
class Claimed:
    """A claimed batch: `replay` are results to emit now; `owned` must be sent by this process."""

    replay: list[SendResult]
    owned: list[SendRequested]
    blocked: set[str]
    known: frozenset[str] = frozenset()  # sequences whose limits the read copy held at the claim (already applied)


async def claim_batch(deps: Deps, requests: Sequence[SendRequested]) -> Claimed:
    """Record a batch in one transaction. A key finished before gets its stored result again (one per
    delivery); a key another live dispatcher holds gets nothing here (its owner emits the result)."""
    unique = {r.idempotency_key: r for r in reversed(requests)}  # the first delivery of a key wins
    async with deps.pool.acquire() as conn, conn.transaction():
        known, unique = await with_limits(deps.store, conn, unique)
        owned = await deps.store.claim(conn, list(unique.values()), deps.owner, deps.clock.now())
        others = unique.keys() - owned  # (most batches are all new: no second look at the ledger)
        stored = await deps.store.stored_results(conn, others) if others else {}
        blocked = await deps.store.suppressed(conn, [unique[k].to for k in owned])
    replay = [stored[r.idempotency_key] for r in requests if r.idempotency_key in stored]
    return Claimed(replay, [r for k, r in unique.items() if k in owned], blocked, frozenset(known))


async def with_limits(
    store: DispatchStore, conn: asyncpg.Connection, reqs: dict[str, SendRequested]
) -> tuple[set[str], dict[str, SendRequested]]:
    """Requests without `limit` get their sequence's limit from the read copy (None stays: unlimited);
    also returns the sequences the copy knows."""
    wanted = [r.sequence_id for r in reqs.values() if r.limit is None]
    if not wanted:
        return set(), reqs
    known, limits = await store.limits(conn, wanted)
    if not limits:
        return known, reqs
    limited = {k: r if r.limit is not None else r.model_copy(update={"limit": limits.get((r.sequence_id, r.channel))})
               for k, r in reqs.items()}  # fmt: skip
    return known, limited


async def known_limits(deps: Deps, reqs: list[SendRequested], known: frozenset[str]) -> list[SendRequested]:
    """Sends without `limit` whose sequence the read copy does not know yet wait (bounded) until it does:
    the activation may still be on its way, and sending unpaced could burst past the limit. Sequences
    `known` at the claim had their limits applied then: their sends without one are unlimited."""
    unknown = {r.sequence_id for r in reqs if r.limit is None} - known
    deadline = time.monotonic() + deps.limits_wait
    limits: dict[tuple[str, str], SendLimit] = {}
    while unknown:
        async with deps.pool.acquire() as conn:
            found_known, found = await deps.store.limits(conn, unknown)
        limits.update(found)
        unknown -= found_known
        if unknown and time.monotonic() > deadline:
            log.warning("rate limits of a sequence unknown; sending unpaced", extra={"sequences": sorted(unknown)})
            break
        if unknown:
            await asyncio.sleep(LIMITS_POLL)
    return [r if r.limit is not None else r.model_copy(update={"limit": limits.get((r.sequence_id, r.channel))})
            for r in reqs]  # fmt: skip


async def on_lifecycle(pool: asyncpg.Pool, store: DispatchStore, sequence_id: str, activation: dict[str, Any]) -> None:
    """Keep the read copy of a sequence's rate limits (from its activation or an edit)."""
    try:
        parsed = RateLimits.model_validate(activation.get("rate_limits") or {})
    except ValidationError:
        log.warning("unreadable rate limits; sends of this sequence go unpaced", extra={"sequence": sequence_id})
        return
    limits = {ch: SendLimit(count=min(lim.count, MAX_COUNT), per_seconds=min(lim.per_seconds, MAX_COUNT))
              for ch in ("email", "sms") if (lim := getattr(parsed, ch)) is not None}  # fmt: skip
    async with pool.acquire() as conn, conn.transaction():
        await store.set_limits(conn, sequence_id, limits)


async def send_claimed(deps: Deps, claimed: Claimed, publish: Publish) -> None:
    """Send owned requests concurrently and publish every result once it is recorded.

    Paced sends are recorded one by one (their completion frees a slot for the next); the others together.
    """
    reqs, blocked = claimed.owned, claimed.blocked
    suppressed = [result_of(r, deps, "suppressed") for r in reqs if normal(r.to) in blocked]
    todo = await known_limits(deps, [r for r in reqs if normal(r.to) not in blocked], claimed.known)
    paced = [send_paced(deps, r, publish) for r in todo if r.limit is not None]
    await asyncio.gather(send_free(deps, [r for r in todo if r.limit is None], suppressed, publish), *paced)


async def send_free(deps: Deps, reqs: list[SendRequested], ready: list[SendResult], publish: Publish) -> None:
    """Unlimited sends go out at once and are recorded together (with `ready`) in one transaction."""
    outcomes = await asyncio.gather(*(send_one(deps, r) for r in reqs))
    await publish(await finish(deps, ready + [r for r in outcomes if r is not None]))


async def send_paced(deps: Deps, req: SendRequested, publish: Publish) -> None:
    result = await send_one(deps, req)
    if result is not None:
        await publish(await finish(deps, [result]))


async def send_one(deps: Deps, req: SendRequested) -> SendResult | None:
    """Wait for the send's turn, call the provider; None if another dispatcher took the claim over."""
    if not await deps.pacer.wait_turn(req):
        return None
    async with deps.gate:
        return await deliver(deps, req)


async def finish(deps: Deps, results: list[SendResult]) -> list[SendResult]:
    """Record results (and suppress hard-bounced addresses) in one transaction; count what was recorded."""
    if not results:
        return []
    async with deps.pool.acquire() as conn, conn.transaction():
        done = await deps.store.complete(conn, results, deps.owner, deps.clock.now())
        for r in done:
            if r.status == "bounced":
                await deps.store.suppress_address(conn, r.to, "bounced", r.sequence_id, r.contact_id, r.at)
    for r in done:
        deps.sends_total.labels(r.channel, r.status).inc()
    return done


async def deliver(deps: Deps, req: SendRequested) -> SendResult:
    """Call the provider (transient errors retried); a refused address is `bounced`, anything else `failed`."""
    try:
        message_id = await with_retries(lambda: deps.channels.send(req, deps.clock.now()), deps.retry)
    except BouncedError as exc:
        return result_of(req, deps, "bounced", error=exc.message)
    except SendError as exc:
        return result_of(req, deps, "failed", error=exc.message)
    except Exception as exc:  # a bad request (e.g. an unparsable address) must not stop the consumer
        log.exception("send crashed", extra={"enrollment": f"{req.sequence_id}:{req.contact_id}"})
        return result_of(req, deps, "failed", error=f"{type(exc).__name__}: {exc}")
    return result_of(req, deps, "sent", message_id=message_id)


def result_of(req: SendRequested, deps: Deps, status: str, **extra: Any) -> SendResult:
    return SendResult(sequence_id=req.sequence_id, contact_id=req.contact_id, step=req.step, attempt=req.attempt,
                      channel=req.channel, to=req.to, idempotency_key=req.idempotency_key, status=status,
                      at=deps.clock.now(), **extra)  # fmt: skip


async def reclaim(deps: Deps, limit: int) -> Claimed:
    """Take over sends whose dispatcher stopped renewing its lease (it crashed)."""
    async with deps.pool.acquire() as conn, conn.transaction():
        reqs = await deps.store.reclaim_expired(conn, deps.owner, limit)
        blocked = await deps.store.suppressed(conn, [r.to for r in reqs]) if reqs else set()
    if reqs:
        log.warning("reclaimed abandoned sends", extra={"count": len(reqs)})
    return Claimed([], reqs, blocked)


async def unpublished(deps: Deps, limit: int) -> list[SendResult]:
    async with deps.pool.acquire() as conn:
        return await deps.store.unpublished(conn, deps.owner, limit)


async def published(deps: Deps, results: list[SendResult]) -> None:
    """The broker acked these results: the sweeper need not publish them again."""
    async with deps.pool.acquire() as conn:
        await deps.store.mark_published(conn, [r.idempotency_key for r in results])


async def on_unsubscribed(pool: asyncpg.Pool, store: DispatchStore, event: Unsubscribed) -> None:
    """Put the address on the suppression list (idempotent)."""
    async with pool.acquire() as conn:
        await store.suppress(conn, event)
