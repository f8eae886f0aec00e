"""SQL of the dispatcher's own schema: the send ledger and the suppression list."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import asyncpg

from seqflow.db.migrate import render
from seqflow.messaging.dispatch import SendResult
from seqflow.messaging.engagement import Unsubscribed
from seqflow.messaging.work import SendRequested


@dataclass(frozen=True)
class Claim:
    """`owned`: this caller must send. Otherwise `stored` is the earlier result (None: still in flight)."""

    owned: bool
    stored: SendResult | None = None


@dataclass(frozen=True)
class DispatchStore:
    schema: str

    def _sql(self, text: str) -> str:
        return render(text, self.schema)

    async def claim(self, conn: asyncpg.Connection, req: SendRequested, now: datetime, until: datetime) -> Claim:
        """Insert the pending row before any send; reclaim only a pending row whose claim expired."""
        sql = self._sql(
            "INSERT INTO {schema}.ledger (idempotency_key, channel, address, status, claimed_until,"
            " created_at, updated_at) VALUES ($1, $2, $3, 'pending', $4, $5, $5)"
            " ON CONFLICT (idempotency_key) DO UPDATE SET claimed_until = EXCLUDED.claimed_until,"
            " updated_at = EXCLUDED.updated_at"
            " WHERE ledger.status = 'pending' AND ledger.claimed_until <= EXCLUDED.created_at"
            " RETURNING idempotency_key"
        )
        if await conn.fetchval(sql, req.idempotency_key, req.channel, req.to, until, now) is not None:
            return Claim(owned=True)
        return Claim(owned=False, stored=await self.stored_result(conn, req.idempotency_key))

    async def stored_result(self, conn: asyncpg.Connection, key: str) -> SendResult | None:
        sql = self._sql("SELECT result FROM {schema}.ledger WHERE idempotency_key = $1")
        data = await conn.fetchval(sql, key)
        return None if data is None else SendResult.model_validate_json(data)

    async def complete(self, conn: asyncpg.Connection, result: SendResult, now: datetime) -> None:
        sql = self._sql(
            "UPDATE {schema}.ledger SET status = $2, message_id = $3, error = $4, result = $5::jsonb,"
            " updated_at = $6 WHERE idempotency_key = $1"
        )
        args = (result.status, result.message_id, result.error, result.model_dump_json(), now)
        await conn.execute(sql, result.idempotency_key, *args)

    async def is_suppressed(self, conn: asyncpg.Connection, address: str) -> bool:
        # an erased contact's addresses are kept only as hashes (seqflow_dispatcher.erasure)
        sql = self._sql("SELECT 1 FROM {schema}.suppression WHERE address = $1 OR address = 'sha256:' || "
                        "encode(sha256(convert_to($1, 'UTF8')), 'hex')")  # fmt: skip
        return await conn.fetchval(sql, address.strip().lower()) is not None

    async def suppress(self, conn: asyncpg.Connection, event: Unsubscribed) -> None:
        sql = self._sql(
            "INSERT INTO {schema}.suppression (address, reason, sequence_id, contact_id, at)"
            " VALUES ($1, 'unsubscribed', $2, $3, $4) ON CONFLICT (address) DO NOTHING"
        )
        await conn.execute(sql, event.address.strip().lower(), event.sequence_id, event.contact_id, event.at)

    async def ledger_rows(self, conn: asyncpg.Connection, key: str) -> list[asyncpg.Record]:
        sql = self._sql("SELECT * FROM {schema}.ledger WHERE idempotency_key = $1")
        return list(await conn.fetch(sql, key))
