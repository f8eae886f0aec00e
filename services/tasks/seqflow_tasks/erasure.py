"""The tasks service's part of erasing a contact: the read copy, memberships, activities and notes go;
tasks, sends and enrollments stay as anonymous rows (no script, no address) so the overview's counts hold.

`erase_contact` runs in the DELETE /contacts/{id} request (api/erasure.py) and again when the
`contact_erased` event comes back, which also catches a copy re-created by an event that was in flight.
"""

from __future__ import annotations

import asyncpg

from seqflow.erasing import register_erasure, rows
from seqflow.messaging.erasure import ContactErased
from seqflow.service import SeqflowApp


async def erase_contact(conn: asyncpg.Connection, schema: str, contact_id: str) -> dict[str, int]:
    """Delete or blank every personal field of one contact in the tasks schema; the counts of what changed."""
    s, cid = schema, contact_id
    notes = await conn.fetchval(f"SELECT count(*) FROM {s}.activities WHERE contact_id = $1 AND kind = 'NOTE'", cid)
    activities = await conn.execute(f"DELETE FROM {s}.activities WHERE contact_id = $1", cid)
    tasks = await conn.execute(
        f"UPDATE {s}.tasks SET script = NULL, instructions = NULL, reason = NULL, "
        "state = CASE WHEN state = 'open' THEN 'cancelled' ELSE state END WHERE contact_id = $1", cid)  # fmt: skip
    sends = await conn.execute(f"UPDATE {s}.sends SET to_address = '' WHERE contact_id = $1", cid)
    members = await conn.execute(f"DELETE FROM {s}.members WHERE contact_id = $1", cid)
    await conn.execute(f"DELETE FROM {s}.roster WHERE contact_id = $1", cid)
    contacts = await conn.execute(f"DELETE FROM {s}.contacts WHERE id = $1", cid)
    return {"contact": rows(contacts), "activities": rows(activities) - int(notes), "notes": int(notes),
            "tasks": rows(tasks), "sends": rows(sends), "memberships": rows(members)}  # fmt: skip


def register(app: SeqflowApp) -> None:
    schema = app.settings.schema_name("tasks")

    async def erase(conn: asyncpg.Connection, event: ContactErased) -> dict[str, int]:
        return await erase_contact(conn, schema, event.contact_id)

    register_erasure(app, erase)
