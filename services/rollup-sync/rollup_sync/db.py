"""SQL of rollup-sync's own schema: rollups, contacts, members and applied command ids.

A batch of commands reads what it needs in one go (`load`), is applied in memory (`rollup_sync.handlers`),
and its changes are written with one set statement per table (`save`): a handful of round trips per batch.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from seqflow.db.migrate import render
from seqflow.messaging.base import ContactData
from seqflow.messaging.envelope import Envelope

Pair = tuple[str, str]  # (rollup id, contact id)


@dataclass
class Changes:
    """What a batch changes, in the form the set statements write it."""

    rollups: dict[str, str]  # rollup id -> name (last wins)
    contacts: dict[str, ContactData]  # contact id -> data (last wins)
    left: set[Pair]  # memberships deleted (a pair that was not a member deletes nothing)
    joined: dict[Pair, datetime]  # memberships inserted after the deletions, in the order they joined


@dataclass(frozen=True)
class RollupStore:
    """Queries against one (possibly prefixed) `rollup_sync` schema."""

    schema: str

    def _sql(self, text: str) -> str:
        return render(text, self.schema)

    async def mark_processed(self, conn: asyncpg.Connection, ids: list[uuid.UUID], now: datetime) -> set[uuid.UUID]:
        """Record command ids; the ones not applied before."""
        sql = self._sql(
            "INSERT INTO {schema}.processed_commands (event_id, processed_at) SELECT unnest($1::uuid[]), $2"
            " ON CONFLICT (event_id) DO NOTHING RETURNING event_id"
        )
        return {r["event_id"] for r in await conn.fetch(sql, ids, now)}

    async def forget(self, conn: asyncpg.Connection, ids: list[uuid.UUID]) -> None:
        """Commands that turned out not to apply: a later delivery is judged again."""
        await conn.execute(self._sql("DELETE FROM {schema}.processed_commands WHERE event_id = ANY($1::uuid[])"), ids)

    async def emitted(self, conn: asyncpg.Connection, ids: list[uuid.UUID]) -> dict[uuid.UUID, list[Envelope]]:
        """What applied commands emitted and the broker has not yet acked (absent once acked)."""
        sql = self._sql("SELECT event_id, emitted FROM {schema}.processed_commands"
                        " WHERE event_id = ANY($1::uuid[]) AND emitted IS NOT NULL")  # fmt: skip
        return {r["event_id"]: _envelopes(r["emitted"]) for r in await conn.fetch(sql, ids)}

    async def clear_emitted(self, conn: asyncpg.Connection, event_ids: list[uuid.UUID]) -> None:
        """The broker acked these commands' events: a later replay must not emit them again."""
        sql = self._sql("UPDATE {schema}.processed_commands SET emitted = NULL WHERE event_id = ANY($1::uuid[])"
                        " AND emitted IS NOT NULL")  # fmt: skip
        await conn.execute(sql, event_ids)

    async def keep_emitted(self, conn: asyncpg.Connection, emitted: dict[uuid.UUID, list[Envelope]]) -> None:
        sql = self._sql(
            "UPDATE {schema}.processed_commands p SET emitted = t.e::jsonb"
            " FROM unnest($1::uuid[], $2::text[]) AS t(i, e) WHERE p.event_id = t.i"
        )
        texts = ["[" + ",".join(e.model_dump_json() for e in envs) + "]" for envs in emitted.values()]
        await conn.execute(sql, list(emitted), texts)

    async def load(
        self, conn: asyncpg.Connection, contact_ids: Iterable[str], pairs: Iterable[Pair]
    ) -> tuple[dict[str, ContactData], set[Pair]]:
        """The stored contacts among `contact_ids` and the memberships among `pairs`."""
        contacts_sql = self._sql("SELECT id, data FROM {schema}.contacts WHERE id = ANY($1::text[])")
        contacts = {r["id"]: ContactData.model_validate_json(r["data"])
                    for r in await conn.fetch(contacts_sql, list(set(contact_ids)))}  # fmt: skip
        rollups, members = _columns(set(pairs), 2)
        if not rollups:
            return contacts, set()
        members_sql = self._sql(
            "SELECT m.rollup_id, m.contact_id FROM {schema}.members m"
            " JOIN unnest($1::text[], $2::text[]) AS p(r, c) ON m.rollup_id = p.r AND m.contact_id = p.c"
        )
        return contacts, {(r["rollup_id"], r["contact_id"]) for r in await conn.fetch(members_sql, rollups, members)}

    async def save(self, conn: asyncpg.Connection, changes: Changes, now: datetime) -> None:
        """Write a batch's changes: rollups, contacts, then memberships (deletions before insertions, so a
        contact that left and joined again gets a new position)."""
        if changes.rollups:
            sql = self._sql(
                "INSERT INTO {schema}.rollups (id, name, created_at) SELECT i, n, $3"
                " FROM unnest($1::text[], $2::text[]) AS t(i, n) ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name"
            )
            await conn.execute(sql, list(changes.rollups), list(changes.rollups.values()), now)
        if changes.contacts:
            sql = self._sql(
                "INSERT INTO {schema}.contacts (id, data, updated_at) SELECT i, d::jsonb, $3"
                " FROM unnest($1::text[], $2::text[]) AS t(i, d)"
                " ON CONFLICT (id) DO UPDATE SET data = EXCLUDED.data, updated_at = EXCLUDED.updated_at"
            )
            data = [c.model_dump_json() for c in changes.contacts.values()]
            await conn.execute(sql, list(changes.contacts), data, now)
        if changes.left:
            sql = self._sql(
                "DELETE FROM {schema}.members m USING unnest($1::text[], $2::text[]) AS p(r, c)"
                " WHERE m.rollup_id = p.r AND m.contact_id = p.c"
            )
            await conn.execute(sql, *_columns(changes.left, 2))
        if changes.joined:
            sql = self._sql(
                "INSERT INTO {schema}.members (rollup_id, contact_id, added_at)"
                " SELECT r, c, a FROM unnest($1::text[], $2::text[], $3::timestamptz[])"
                " WITH ORDINALITY AS t(r, c, a, n)"
                " ORDER BY n ON CONFLICT (rollup_id, contact_id) DO NOTHING"
            )
            rows = [(r, c, at) for (r, c), at in changes.joined.items()]
            await conn.execute(sql, *_columns(rows, 3))

    async def members(self, conn: asyncpg.Connection, rollup_id: str) -> list[str]:
        """Contact ids of a rollup in the order they joined."""
        sql = self._sql("SELECT contact_id FROM {schema}.members WHERE rollup_id = $1 ORDER BY position")
        return [r["contact_id"] for r in await conn.fetch(sql, rollup_id)]


def _columns(rows: Iterable[tuple], width: int) -> list[list]:
    """Rows as `width` column lists (the arrays `unnest` takes)."""
    cols: list[list] = [[] for _ in range(width)]
    for row in rows:
        for col, value in zip(cols, row, strict=True):
            col.append(value)
    return cols


def _envelopes(data: str) -> list[Envelope]:
    return [Envelope.model_validate(e) for e in json.loads(data)]
