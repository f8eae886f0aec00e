"""The scheduler's part of erasing a contact: its enrollments exit at once (reason `erased`, so nothing more
is sent or shown and the overview counts them exited) and the scheduler forgets the person: the contact copy
keeps only its id (a tombstone keeps it so, even when an old membership event is delivered again), pending
contact edits and raw suppressed addresses go (the dispatcher keeps them as hashes)."""

from __future__ import annotations

import asyncpg

from seqflow.erasing import register_erasure, rows
from seqflow.messaging.erasure import HASH_SQL, ContactErased
from seqflow.rules.gates import whole_seconds
from seqflow.rules.state import Input
from seqflow.service import SeqflowApp
from seqflow_scheduler.db import SchedulerDb


def register(app: SeqflowApp) -> None:
    db = SchedulerDb(app.settings.schema_name("scheduler"))

    async def erase(conn: asyncpg.Connection, event: ContactErased) -> dict[str, int]:
        s, cid = db.s, event.contact_id
        sequences = await db.sequences_enrolling(conn, cid)
        for seq in sequences:  # the engine exits the enrollment at this instant, even outside the window
            await db.add_input(conn, seq, f"erase:{cid}", Input(whole_seconds(event.at), "erased", cid))
        await conn.execute(f"UPDATE {s}.members SET present = false WHERE contact_id = $1", cid)
        await conn.execute(f"INSERT INTO {s}.erased_contacts (id, at) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                           cid, event.at)  # fmt: skip
        # the tombstone's trigger (migration 0006) keeps the copy down to its id, now and on any later upsert
        contacts = await conn.execute(f"UPDATE {s}.contacts SET data = data WHERE id = $1", cid)
        edits = await conn.execute(
            f"DELETE FROM {s}.inbox WHERE input->>'contact' = $1 AND input->>'type' = 'contact_updated'", cid)
        suppressed = await conn.execute(
            f"DELETE FROM {s}.suppressed WHERE {HASH_SQL.format(column='address')} = ANY($1::text[])",
            event.address_hashes)  # fmt: skip
        return {"enrollments_stopped": len(sequences), "contacts": rows(contacts), "pending_edits": rows(edits),
                "suppressed_addresses": rows(suppressed)}  # fmt: skip

    register_erasure(app, erase)

