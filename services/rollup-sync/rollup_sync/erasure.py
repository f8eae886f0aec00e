"""rollup-sync's part of erasing a contact: its copy of the contact and its memberships go, and every
rollup it was on hears `member_removed` (so the scheduler and the tasks read models drop it too)."""

from __future__ import annotations

import asyncpg

from seqflow.erasing import register_erasure, rows
from seqflow.messaging.envelope import Envelope
from seqflow.messaging.erasure import ContactErased
from seqflow.messaging.rollup import MemberRemoved
from seqflow.service import SeqflowApp


def register(app: SeqflowApp) -> None:
    schema = app.settings.schema_name("rollup_sync")

    async def erase(conn: asyncpg.Connection, event: ContactErased) -> dict[str, int]:
        cid = event.contact_id
        rollups = [r["rollup_id"] for r in await conn.fetch(
            f"DELETE FROM {schema}.members WHERE contact_id = $1 RETURNING rollup_id", cid)]  # fmt: skip
        contacts = await conn.execute(f"DELETE FROM {schema}.contacts WHERE id = $1", cid)
        removed = [MemberRemoved(rollup_id=r, contact_id=cid, at=event.at) for r in rollups]
        envs = [Envelope.wrap("member_removed", cid, payload, event.at) for payload in removed]
        await app.publisher.send_all(app.topic_names.rollup_membership, envs)
        return {"memberships": len(rollups), "contacts": rows(contacts)}

    register_erasure(app, erase)
