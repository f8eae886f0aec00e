"""The SQL behind the sequence owner's screens (preview, rollup lists, sends over time); tasks schema.

Kept apart from db.py (the read models' statements) so each stays one responsibility and a short module.
"""

from __future__ import annotations

from typing import Any

from seqflow_tasks.db import Conn, Row, Store, rows


async def roster_contacts(store: Store, c: Conn, rid: str) -> list[dict[str, Any]]:
    """The contacts an activation would enroll now (the rollup's roster), with what the read copy knows."""
    sql = (
        "SELECT r.contact_id, c.data FROM {schema}.roster r LEFT JOIN {schema}.contacts c ON c.id = r.contact_id"
        " WHERE r.rollup_id = $1 ORDER BY r.contact_id"
    )
    found = rows(await c.fetch(store.q(sql), rid))
    return [{**(r["data"] or {}), "id": r["contact_id"]} for r in found]


async def rollups(store: Store, c: Conn) -> list[Row]:
    """Every rollup with its roster size and the sequence that holds it (not ended), if any."""
    sql = (
        "SELECT r.id, r.name, r.created_at,"
        " (SELECT count(*) FROM {schema}.roster m WHERE m.rollup_id = r.id) AS members,"
        " (SELECT s.name FROM {schema}.sequences s WHERE s.rollup_id = r.id AND s.state <> 'ended' LIMIT 1)"
        " AS sequence FROM {schema}.rollups r ORDER BY r.created_at, r.id"
    )
    return rows(await c.fetch(store.q(sql)))


async def rollup_members(store: Store, c: Conn, rid: str) -> list[Row]:
    """The roster and the read copy's members, each with its enrollment in the rollup's latest sequence."""
    sql = (
        "WITH ids AS (SELECT contact_id FROM {schema}.roster WHERE rollup_id = $1"
        " UNION SELECT contact_id FROM {schema}.members WHERE rollup_id = $1),"
        " seq AS (SELECT id, name FROM {schema}.sequences WHERE rollup_id = $1"
        " ORDER BY activated_at DESC, id LIMIT 1)"
        " SELECT i.contact_id, c.data, (r.contact_id IS NOT NULL) AS on_roster, m.active, m.how,"
        " seq.id AS sequence_id, seq.name AS sequence, e.status, e.step"
        " FROM ids i LEFT JOIN {schema}.contacts c ON c.id = i.contact_id"
        " LEFT JOIN {schema}.roster r ON r.rollup_id = $1 AND r.contact_id = i.contact_id"
        " LEFT JOIN {schema}.members m ON m.rollup_id = $1 AND m.contact_id = i.contact_id"
        " LEFT JOIN seq ON true"
        " LEFT JOIN {schema}.enrollments e ON e.sequence_id = seq.id AND e.contact_id = i.contact_id"
        " ORDER BY i.contact_id"
    )
    return rows(await c.fetch(store.q(sql), rid))


async def sends_per_day(store: Store, c: Conn, sid: str, timezone: str) -> list[Row]:
    """Sent messages of a sequence per local day (in its own time zone) and channel."""
    sql = (
        "SELECT (at AT TIME ZONE $2)::date AS day, channel, count(*) AS sends FROM {schema}.sends"
        " WHERE sequence_id = $1 AND status = 'sent' GROUP BY 1, 2 ORDER BY 1, 2"
    )
    return rows(await c.fetch(store.q(sql), sid, timezone))
