"""SQL of rollup-sync's own schema: rollups, contacts, members and applied command ids."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from seqflow.db.migrate import render
from seqflow.messaging.base import ContactData
from seqflow.messaging.envelope import Envelope


@dataclass(frozen=True)
class RollupStore:
    """Queries against one (possibly prefixed) `rollup_sync` schema."""

    schema: str

    def _sql(self, text: str) -> str:
        return render(text, self.schema)

    async def mark_processed(self, conn: asyncpg.Connection, event_id: uuid.UUID, now: datetime) -> bool:
        """Record a command id; False if it was applied before."""
        sql = self._sql(
            "INSERT INTO {schema}.processed_commands (event_id, processed_at) VALUES ($1, $2)"
            " ON CONFLICT (event_id) DO NOTHING RETURNING event_id"
        )
        return await conn.fetchval(sql, event_id, now) is not None

    async def emitted(self, conn: asyncpg.Connection, event_id: uuid.UUID) -> list[Envelope]:
        """What an applied command emitted and the broker has not yet acked (empty once acked)."""
        sql = self._sql("SELECT emitted FROM {schema}.processed_commands WHERE event_id = $1")
        data = await conn.fetchval(sql, event_id)
        return [Envelope.model_validate(e) for e in json.loads(data)] if data else []

    async def clear_emitted(self, conn: asyncpg.Connection, event_ids: list[uuid.UUID]) -> None:
        """The broker acked these commands' events: a later replay must not emit them again."""
        sql = self._sql("UPDATE {schema}.processed_commands SET emitted = NULL WHERE event_id = ANY($1::uuid[])"
                        " AND emitted IS NOT NULL")  # fmt: skip
        await conn.execute(sql, event_ids)

    async def keep_emitted(self, conn: asyncpg.Connection, event_id: uuid.UUID, envs: list[Envelope]) -> None:
        sql = self._sql("UPDATE {schema}.processed_commands SET emitted = $2::jsonb WHERE event_id = $1")
        await conn.execute(sql, event_id, json.dumps([e.model_dump(mode="json") for e in envs]))

    async def upsert_rollup(self, conn: asyncpg.Connection, rollup_id: str, name: str, now: datetime) -> None:
        sql = self._sql(
            "INSERT INTO {schema}.rollups (id, name, created_at) VALUES ($1, $2, $3)"
            " ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name"
        )
        await conn.execute(sql, rollup_id, name, now)

    async def get_contact(self, conn: asyncpg.Connection, contact_id: str) -> ContactData | None:
        sql = self._sql("SELECT data FROM {schema}.contacts WHERE id = $1")
        data = await conn.fetchval(sql, contact_id)
        return None if data is None else ContactData.model_validate(json.loads(data))

    async def save_contact(self, conn: asyncpg.Connection, contact: ContactData, now: datetime) -> None:
        sql = self._sql(
            "INSERT INTO {schema}.contacts (id, data, updated_at) VALUES ($1, $2::jsonb, $3)"
            " ON CONFLICT (id) DO UPDATE SET data = EXCLUDED.data, updated_at = EXCLUDED.updated_at"
        )
        await conn.execute(sql, contact.id, contact.model_dump_json(), now)

    async def add_member(self, conn: asyncpg.Connection, rollup_id: str, contact_id: str, at: datetime) -> bool:
        """True if the contact joined; False if it was already a member."""
        sql = self._sql(
            "INSERT INTO {schema}.members (rollup_id, contact_id, added_at) VALUES ($1, $2, $3)"
            " ON CONFLICT (rollup_id, contact_id) DO NOTHING RETURNING contact_id"
        )
        return await conn.fetchval(sql, rollup_id, contact_id, at) is not None

    async def remove_member(self, conn: asyncpg.Connection, rollup_id: str, contact_id: str) -> bool:
        """True if the contact left; False if it was not a member."""
        sql = self._sql("DELETE FROM {schema}.members WHERE rollup_id = $1 AND contact_id = $2 RETURNING contact_id")
        return await conn.fetchval(sql, rollup_id, contact_id) is not None

    async def members(self, conn: asyncpg.Connection, rollup_id: str) -> list[str]:
        """Contact ids of a rollup in the order they joined."""
        sql = self._sql("SELECT contact_id FROM {schema}.members WHERE rollup_id = $1 ORDER BY position")
        return [r["contact_id"] for r in await conn.fetch(sql, rollup_id)]
