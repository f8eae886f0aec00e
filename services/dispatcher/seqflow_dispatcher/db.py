"""SQL of the dispatcher's own schema: the send ledger, its leases, and the suppression list.

Leases are measured on the database's clock (`clock_timestamp()`): it is one arbiter for every replica
and independent of the service clock, which tests move by hand. Business instants (results, provider
calls) use the service clock.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg
from pydantic import BaseModel

from seqflow.db.migrate import render
from seqflow.messaging.dispatch import SendResult
from seqflow.messaging.engagement import Unsubscribed
from seqflow.messaging.work import SendLimit, SendRequested

KNOWN = ""  # the sequence_limits channel that marks a sequence whose limits the copy holds


@dataclass(frozen=True)
class DispatchStore:
    schema: str
    lease_seconds: float = 10.0

    def _sql(self, text: str) -> str:
        return render(text, self.schema)

    async def claim(
        self, conn: asyncpg.Connection, reqs: Sequence[SendRequested], owner: str, now: datetime
    ) -> set[str]:
        """Insert pending rows (with the whole request) for a batch of distinct keys in one statement.

        Returns the keys this owner must send: new ones, and pending ones whose lease has run out.
        """
        sql = self._sql(
            "INSERT INTO {schema}.ledger (idempotency_key, sequence_id, channel, address, request, status,"
            " owner, claimed_until, created_at, updated_at)"
            " SELECT k, s, c, a, r::jsonb, 'pending', $6, clock_timestamp() + make_interval(secs => $7), $8, $8"
            " FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[]) AS t(k, s, c, a, r)"
            " ON CONFLICT (idempotency_key) DO UPDATE SET owner = EXCLUDED.owner,"
            " claimed_until = EXCLUDED.claimed_until, claims = ledger.claims + 1, updated_at = EXCLUDED.updated_at,"
            " request = coalesce(ledger.request, EXCLUDED.request),"
            " sequence_id = coalesce(ledger.sequence_id, EXCLUDED.sequence_id)"
            " WHERE ledger.status = 'pending' AND ledger.claimed_until <= clock_timestamp()"
            " RETURNING idempotency_key"
        )
        cols = columns(reqs, ("idempotency_key", "sequence_id", "channel", "to"))
        rows = await conn.fetch(sql, *cols, owner, self.lease_seconds, now)
        return {r["idempotency_key"] for r in rows}

    async def stored_results(self, conn: asyncpg.Connection, keys: Iterable[str]) -> dict[str, SendResult]:
        """The recorded results of finished keys (pending ones are absent)."""
        sql = self._sql("SELECT idempotency_key, result FROM {schema}.ledger WHERE idempotency_key = ANY($1::text[])"
                        " AND result IS NOT NULL")  # fmt: skip
        rows = await conn.fetch(sql, list(keys))
        return {r["idempotency_key"]: SendResult.model_validate_json(r["result"]) for r in rows}

    async def complete(
        self, conn: asyncpg.Connection, results: Sequence[SendResult], owner: str, now: datetime
    ) -> list[SendResult]:
        """Record final results of rows this owner still holds, in one statement; returns those recorded.

        A row whose lease another replica took over is left to that replica (it emits the result).
        """
        sql = self._sql(
            "UPDATE {schema}.ledger AS l SET status = t.status, message_id = t.message_id, error = t.error,"
            " result = t.result::jsonb, updated_at = $6::timestamptz,"
            " call_ended_at = CASE WHEN l.call_started_at IS NULL THEN NULL ELSE $6::timestamptz END"
            " FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[])"
            " AS t(key, status, message_id, error, result)"
            " WHERE l.idempotency_key = t.key AND l.status = 'pending' AND l.owner = $7 RETURNING l.idempotency_key"
        )
        cols = columns(results, ("idempotency_key", "status", "message_id", "error"))
        done = {r["idempotency_key"] for r in await conn.fetch(sql, *cols, now, owner)}
        return [r for r in results if r.idempotency_key in done]

    async def renew(self, conn: asyncpg.Connection, owner: str, keys: list[str]) -> int:
        """Extend the lease of the given pending rows this owner still holds (their sends are in progress)."""
        sql = self._sql(
            "UPDATE {schema}.ledger SET claimed_until = clock_timestamp() + make_interval(secs => $2)"
            " WHERE idempotency_key = ANY($3::text[]) AND status = 'pending' AND owner = $1"
        )
        return int((await conn.execute(sql, owner, self.lease_seconds, keys)).split()[-1])

    async def reclaim_expired(self, conn: asyncpg.Connection, owner: str, limit: int) -> list[SendRequested]:
        """Take over pending rows whose owner stopped renewing (it died): the sweeper finishes them."""
        rows = await self._take_over(conn, owner, limit, "status = 'pending' AND request IS NOT NULL", "request")
        return [SendRequested.model_validate_json(r["request"]) for r in rows]

    async def mark_published(self, conn: asyncpg.Connection, keys: list[str]) -> None:
        sql = self._sql("UPDATE {schema}.ledger SET result_published = true WHERE idempotency_key = ANY($1::text[])"
                        " AND NOT result_published")  # fmt: skip
        await conn.execute(sql, keys)

    async def unpublished(self, conn: asyncpg.Connection, owner: str, limit: int) -> list[SendResult]:
        """Results recorded by a dispatcher that died before the broker acked them; taken over by `owner`
        (the lease, no longer renewed once a row is finished, says its recorder has had time to publish)."""
        rows = await self._take_over(conn, owner, limit, "NOT result_published AND status <> 'pending'", "result")
        return [SendResult.model_validate_json(r["result"]) for r in rows if r["result"] is not None]

    async def _take_over(
        self, conn: asyncpg.Connection, owner: str, limit: int, where: str, column: str
    ) -> list[asyncpg.Record]:
        """Claim up to `limit` rows matching `where` whose lease ran out, for `owner`; returns `column`."""
        sql = self._sql(
            "UPDATE {schema}.ledger SET owner = $1, claimed_until = clock_timestamp() + make_interval(secs => $2),"
            f" claims = claims + 1 WHERE idempotency_key IN (SELECT idempotency_key FROM {{schema}}.ledger"
            f" WHERE {where} AND claimed_until <= clock_timestamp() ORDER BY claimed_until LIMIT $3"
            f" FOR UPDATE SKIP LOCKED) RETURNING {column}"
        )
        return list(await conn.fetch(sql, owner, self.lease_seconds, limit))

    async def pending_oldest_seconds(self, conn: asyncpg.Connection) -> float:
        sql = self._sql(
            "SELECT coalesce(extract(epoch FROM clock_timestamp() - min(claimed_at)), 0)"
            " FROM {schema}.ledger WHERE status = 'pending'"
        )
        return float(await conn.fetchval(sql))

    async def suppressed(self, conn: asyncpg.Connection, addresses: Iterable[str]) -> set[str]:
        """The given addresses (as lower-cased) that are on the suppression list, as themselves or, for an
        erased contact's, as a hash (seqflow_dispatcher.erasure keeps only `sha256:<hex>`)."""
        sql = self._sql(
            "SELECT a AS address FROM unnest($1::text[]) a WHERE EXISTS (SELECT 1 FROM {schema}.suppression s"
            " WHERE s.address = a OR s.address = 'sha256:' || encode(sha256(convert_to(a, 'UTF8')), 'hex'))"
        )
        return {r["address"] for r in await conn.fetch(sql, [normal(a) for a in addresses])}

    async def suppress(self, conn: asyncpg.Connection, event: Unsubscribed) -> None:
        await self.suppress_address(conn, event.address, "unsubscribed", event.sequence_id, event.contact_id, event.at)

    async def suppress_address(
        self, conn: asyncpg.Connection, address: str, reason: str, sequence_id: str | None, contact_id: str | None,
        at: datetime,
    ) -> None:  # fmt: skip
        sql = self._sql(
            "INSERT INTO {schema}.suppression (address, reason, sequence_id, contact_id, at)"
            " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (address) DO NOTHING"
        )
        await conn.execute(sql, normal(address), reason, sequence_id, contact_id, at)

    async def set_limits(self, conn: asyncpg.Connection, sequence_id: str, limits: dict[str, SendLimit]) -> None:
        """Replace the read copy of one sequence's limits (a channel absent is unlimited). A row for channel
        '' marks the sequence as known, so an unlimited sequence is told apart from one not read yet."""
        await conn.execute(self._sql("DELETE FROM {schema}.sequence_limits WHERE sequence_id = $1"), sequence_id)
        sql = self._sql("INSERT INTO {schema}.sequence_limits (sequence_id, channel, count, per_seconds)"
                        " VALUES ($1, $2, $3, $4)")  # fmt: skip
        rows = [(sequence_id, ch, lim.count, lim.per_seconds) for ch, lim in limits.items()]
        await conn.executemany(sql, [(sequence_id, KNOWN, 0, 0), *rows])

    async def limits(
        self, conn: asyncpg.Connection, sequence_ids: Iterable[str]
    ) -> tuple[set[str], dict[tuple[str, str], SendLimit]]:
        """(the sequences the copy knows, their limits by (sequence, channel))."""
        sql = self._sql("SELECT * FROM {schema}.sequence_limits WHERE sequence_id = ANY($1::text[])")
        rows = await conn.fetch(sql, list(set(sequence_ids)))
        known = {r["sequence_id"] for r in rows if r["channel"] == KNOWN}
        limits = {(r["sequence_id"], r["channel"]): SendLimit(count=r["count"], per_seconds=r["per_seconds"])
                  for r in rows if r["channel"] != KNOWN}  # fmt: skip
        return known, limits

    async def ledger_rows(self, conn: asyncpg.Connection, key: str) -> list[asyncpg.Record]:
        sql = self._sql("SELECT * FROM {schema}.ledger WHERE idempotency_key = $1")
        return list(await conn.fetch(sql, key))


def columns(items: Sequence[BaseModel], fields: tuple[str, ...]) -> list[list[Any]]:
    """Column arrays of `fields` for an `unnest(...)` statement, then each item as JSON: one round trip a batch."""
    return [[getattr(item, f) for item in items] for f in fields] + [[item.model_dump_json() for item in items]]


def normal(address: str) -> str:
    """Suppression is by address, compared trimmed and lower-cased."""
    return address.strip().lower()


@dataclass(frozen=True)
class CallWindow:
    """What pacing needs to know about one sequence channel's earlier provider calls."""

    ended: list[datetime]
    in_flight: int


@dataclass(frozen=True)
class PacingStore:
    """Provider-call times per (sequence, channel), read and written under that pair's row lock."""

    schema: str

    def _sql(self, text: str) -> str:
        return render(text, self.schema)

    async def lock(self, conn: asyncpg.Connection, sequence_id: str, channel: str) -> None:
        """Hold the pair's row lock until the transaction ends: replicas take turns deciding."""
        insert = self._sql("INSERT INTO {schema}.pacing (sequence_id, channel) VALUES ($1, $2) ON CONFLICT DO NOTHING")
        await conn.execute(insert, sequence_id, channel)
        select = self._sql("SELECT 1 FROM {schema}.pacing WHERE sequence_id = $1 AND channel = $2 FOR UPDATE")
        await conn.execute(select, sequence_id, channel)

    async def window(self, conn: asyncpg.Connection, req: SendRequested, since: datetime) -> CallWindow:
        """Other sends' calls that completed after `since`, and the number still in flight (no completion).

        The send's own earlier call (a reclaimed send) is left out: the provider keeps at most one of the two.
        """
        sql = self._sql(
            "SELECT call_ended_at FROM {schema}.ledger WHERE sequence_id = $1 AND channel = $2"
            " AND call_started_at IS NOT NULL AND (call_ended_at IS NULL OR call_ended_at > $3)"
            " AND idempotency_key <> $4"
        )
        rows = await conn.fetch(sql, req.sequence_id, req.channel, since, req.idempotency_key)
        ended = [r["call_ended_at"] for r in rows if r["call_ended_at"] is not None]
        return CallWindow(ended, len(rows) - len(ended))

    async def start_call(self, conn: asyncpg.Connection, key: str, owner: str, now: datetime) -> bool:
        """Mark the call as started (in flight) now; False if this owner no longer holds the row."""
        sql = self._sql(
            "UPDATE {schema}.ledger SET call_started_at = $3, call_ended_at = NULL"
            " WHERE idempotency_key = $1 AND owner = $2 AND status = 'pending'"
        )
        return (await conn.execute(sql, key, owner, now)).split()[-1] == "1"
