"""Pace provider calls per (sequence, channel) so the rate limit holds where the provider sees it (SPEC §4)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime

import asyncpg

from seqflow.clock import Clock
from seqflow.messaging.work import SendRequested
from seqflow.rules.pacing import next_call_at, window_of
from seqflow_dispatcher.db import PacingStore

CLOCK_POLL = 0.2  # seconds: the service clock may be a file that tests move, so re-read it this often
IN_FLIGHT_POLL = 0.05  # seconds between looks while only completions of calls in flight can make room


async def sleep_until(clock: Clock, when: datetime) -> None:
    """Wait until the service clock reads `when` or later."""
    while (left := (when - clock.now()).total_seconds()) > 0:  # noqa: ASYNC110 - polls a clock, not a flag
        await asyncio.sleep(min(left, CLOCK_POLL))


@dataclass
class Pacer:
    """Decides, under the pair's PostgreSQL row lock, when a send may call the provider, and records the call.

    In one process the waiters of a pair queue on an asyncio lock (first come, first served), so only one
    of them polls the database; across replicas the row lock makes the decision exact.
    """

    pool: asyncpg.Pool
    store: PacingStore
    clock: Clock
    owner: str
    _queues: dict[tuple[str, str], asyncio.Lock] = field(default_factory=dict)

    async def wait_turn(self, req: SendRequested) -> bool:
        """Wait for the send's instant and, if it is limited, a free slot; False if the claim was lost."""
        await sleep_until(self.clock, req.at)  # pacing may delay a send, never advance it
        if req.limit is None:
            return True
        async with self._queues.setdefault((req.sequence_id, req.channel), asyncio.Lock()):
            while True:
                started, wake = await self._try_start(req)
                if started is not None:
                    return started
                if wake is None:
                    await asyncio.sleep(IN_FLIGHT_POLL)
                else:
                    await sleep_until(self.clock, wake)

    async def _try_start(self, req: SendRequested) -> tuple[bool | None, datetime | None]:
        """(True/False, None) when the call was (not) recorded as started; else (None, when to look again)."""
        assert req.limit is not None
        per = req.limit.per_seconds
        async with self.pool.acquire() as conn, conn.transaction():
            await self.store.lock(conn, req.sequence_id, req.channel)
            now = self.clock.now()
            window = await self.store.window(conn, req, now - window_of(per))
            at = next_call_at(window.ended, window.in_flight, req.limit.count, per, now)
            if at is not None and at <= now:
                return await self.store.start_call(conn, req.idempotency_key, self.owner, now), None
            return None, at
