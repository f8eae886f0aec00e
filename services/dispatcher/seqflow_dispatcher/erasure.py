"""The dispatcher's part of erasing a contact: its addresses stay suppressed only as SHA-256 hashes (so they
are never mailed or texted again, whoever adds them back) and the ledger keeps its rows — the proof that a
send happened once — with the address, provider error and result copy blanked."""

from __future__ import annotations

import asyncpg

from seqflow.erasing import register_erasure, rows
from seqflow.messaging.erasure import HASH_SQL, ContactErased
from seqflow.service import SeqflowApp

HASHED = "sha256:"  # a suppression row holding a hash instead of an address (see DispatchStore.suppressed)


def register(app: SeqflowApp) -> None:
    s = app.settings.schema_name("dispatcher")

    async def erase(conn: asyncpg.Connection, event: ContactErased) -> dict[str, int]:
        hashes = event.address_hashes
        ledger = await conn.execute(
            # the stored request (address, rendered subject and body) goes too; a send still pending is never
            # made (it counts as suppressed) and nothing about the person is published again
            f"UPDATE {s}.ledger SET address = '', error = CASE WHEN error IS NULL THEN NULL ELSE 'erased' END, "
            "result = result - 'to' - 'error', request = NULL, result_published = true, "
            "status = CASE WHEN status = 'pending' THEN 'suppressed' ELSE status END "
            f"WHERE {HASH_SQL.format(column='address')} = ANY($1::text[])",
            hashes)  # fmt: skip
        raw = await conn.execute(
            f"DELETE FROM {s}.suppression WHERE {HASH_SQL.format(column='address')} = ANY($1::text[])", hashes)
        await conn.executemany(
            f"INSERT INTO {s}.suppression (address, reason, contact_id, at) VALUES ($1, 'erased', $2, $3) "
            "ON CONFLICT (address) DO NOTHING",
            [(HASHED + h, event.contact_id, event.at) for h in hashes])  # fmt: skip
        return {"ledger_addresses": rows(ledger), "suppressed_addresses": rows(raw),
                "suppressed_hashes": len(hashes)}  # fmt: skip

    register_erasure(app, erase)

