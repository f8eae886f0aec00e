"""The tasks service's queries about who may see what: users and token hashes, owners, contact visibility."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from seqflow_tasks.db import Conn, Row, Store, row, rows
from seqflow_tasks.tokens import same_hash, token_hash


class AccessStore(Store):
    """The tasks schema's statements plus those the policy and the token routes need."""

    # ---- users and tokens --------------------------------------------------------------------
    async def user_by_token(self, c: Conn, token: str) -> Row | None:
        """The user a presented bearer token belongs to, or None (also for a malformed or revoked token)."""
        digest = token_hash(token)
        if digest is None:
            return None
        user = await self.user_by_token_hash(c, digest)
        return user if user is not None and same_hash(user["token_hash"], digest) else None

    async def user_by_token_hash(self, c: Conn, digest: str) -> Row | None:
        return row(await c.fetchrow(self.q("SELECT * FROM {schema}.users WHERE token_hash = $1"), digest))

    async def user(self, c: Conn, user_id: str) -> Row | None:
        return row(await c.fetchrow(self.q("SELECT * FROM {schema}.users WHERE id = $1"), user_id))

    async def users(self, c: Conn, ids: Sequence[str]) -> list[Row]:
        return rows(await c.fetch(self.q("SELECT * FROM {schema}.users WHERE id = ANY($1)"), list(ids)))

    async def all_users(self, c: Conn) -> list[Row]:
        return rows(await c.fetch(self.q("SELECT * FROM {schema}.users ORDER BY id")))

    async def insert_user(self, c: Conn, u: Row, digest: str, at: datetime) -> bool:
        sql = (
            "INSERT INTO {schema}.users (id, name, email, permissions, token_hash, token_set_at)"
            " VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING"
        )
        args = (u["id"], u["name"], u["email"], list(u["permissions"]), digest, at)
        return str(await c.execute(self.q(sql), *args)).endswith(" 1")

    async def set_token_hash(self, c: Conn, user_id: str, digest: str | None, at: datetime) -> bool:
        """Rotate (a new hash) or revoke (None) a user's token; False when there is no such user."""
        sql = "UPDATE {schema}.users SET token_hash = $2, token_set_at = $3 WHERE id = $1"
        return str(await c.execute(self.q(sql), user_id, digest, at)).endswith(" 1")

    async def upsert_admin(self, c: Conn, digest: str, at: datetime) -> None:
        sql = (
            "INSERT INTO {schema}.users (id, name, email, permissions, token_hash, token_set_at)"
            " VALUES ('admin', 'Administrator', 'admin@localhost', ARRAY['admin'], $1, $2)"
            " ON CONFLICT (id) DO UPDATE SET token_hash = EXCLUDED.token_hash, permissions = EXCLUDED.permissions,"
            " token_set_at = EXCLUDED.token_set_at"
        )
        await c.execute(self.q(sql), digest, at)

    # ---- owners and visibility ---------------------------------------------------------------
    async def insert_rollup(self, c: Conn, rid: str, name: str, owner: str, now: datetime) -> None:
        sql = "INSERT INTO {schema}.rollups (id, name, owner, created_at) VALUES ($1, $2, $3, $4)"
        await c.execute(self.q(sql), rid, name, owner, now)

    async def visible_contacts(self, c: Conn, user_id: str, ids: Sequence[str]) -> set[str]:
        """Of `ids`, the contacts on a rollup the user owns or enrolled in (or tasked by) a sequence they
        are on: its primary user or a team member (SPEC §5 and the README's permission table)."""
        sql = (
            "SELECT r.contact_id AS id FROM {schema}.roster r JOIN {schema}.rollups o ON o.id = r.rollup_id"
            " WHERE r.contact_id = ANY($2) AND o.owner = $1"
            " UNION SELECT m.contact_id FROM {schema}.members m JOIN {schema}.rollups o ON o.id = m.rollup_id"
            " WHERE m.contact_id = ANY($2) AND o.owner = $1"
            " UNION SELECT r.contact_id FROM {schema}.roster r JOIN {schema}.sequences s ON s.rollup_id = r.rollup_id"
            " WHERE r.contact_id = ANY($2) AND (s.primary_user = $1 OR $1 = ANY(s.team))"
            " UNION SELECT e.contact_id FROM {schema}.enrollments e JOIN {schema}.sequences s ON s.id = e.sequence_id"
            " WHERE e.contact_id = ANY($2) AND (s.primary_user = $1 OR $1 = ANY(s.team))"
            " UNION SELECT t.contact_id FROM {schema}.tasks t JOIN {schema}.sequences s ON s.id = t.sequence_id"
            " WHERE t.contact_id = ANY($2) AND (s.primary_user = $1 OR $1 = ANY(s.team))"
        )
        return {r["id"] for r in await c.fetch(self.q(sql), user_id, list(ids))}

    async def templates_of(self, c: Conn, owner: str | None) -> list[Row]:
        """Every template (owner None) or one owner's."""
        sql = "SELECT * FROM {schema}.templates WHERE $1::text IS NULL OR owner = $1 ORDER BY created_at, id"
        return rows(await c.fetch(self.q(sql), owner))
