"""The SQL statements of the tasks service ($n parameters; `{schema}` is the service schema); users, tokens,
owners and visibility are in `db_access`."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import asyncpg

from seqflow.db.migrate import render

Conn = asyncpg.Connection | asyncpg.pool.PoolConnectionProxy
Row = dict[str, Any]
JSON_COLUMNS = ("body", "data", "template", "activation", "outcomes")

# A statement of one row, mapped to the same statement for many rows given as one JSON array of row arrays
# ($1, rows in array order), and the positions of the key every row must have set and different for the
# two to write the same (an insert's conflict key; empty: DO NOTHING, any rows will do). readmodel.py runs
# a batch's rows as one such statement where it gives what the one-row form row by row would. (Measured:
# per row, a jsonb array costs the client and PostgreSQL together about 13 us, executemany 22 us, and
# unnest of one array per column 21 us, most of it asyncpg's array encoding in the client.)
BULK: dict[str, tuple[str, tuple[int, ...]]] = {}


def insert(table: str, columns: str, types: str, tail: str, key: tuple[int, ...] = ()) -> str:
    """`INSERT INTO table (columns) VALUES ($1::type, ...) tail`, its many-rows form registered in `BULK`.
    `tail` (ON CONFLICT ...) refers to the new row as EXCLUDED, so both forms share it."""
    cols, kinds = columns.split(), types.split()
    head = f"INSERT INTO {{schema}}.{table} ({', '.join(cols)})"
    values = f"{head} VALUES ({', '.join(f'${i}::{t}' for i, t in enumerate(kinds, 1))}) {tail}"
    fields = ", ".join(f"(r->>{i})::{t}" for i, t in enumerate(kinds))
    BULK[values] = (f"{head} SELECT {fields} FROM jsonb_array_elements($1::jsonb) AS r {tail}", key)
    return values


# Statements the API and the read-model batches (readmodel.py) both run.
UPSERT_CONTACT = insert(
    "contacts", "id data updated_at", "text jsonb timestamptz",
    "ON CONFLICT (id) DO UPDATE SET data = EXCLUDED.data, updated_at = EXCLUDED.updated_at"
    " WHERE {schema}.contacts.updated_at <= EXCLUDED.updated_at", key=(0,),
)  # fmt: skip
SET_MEMBER = insert(
    "members", "rollup_id contact_id active how at", "text text bool text timestamptz",
    "ON CONFLICT (rollup_id, contact_id) DO UPDATE SET active = EXCLUDED.active, how = EXCLUDED.how,"
    " at = EXCLUDED.at", key=(0, 1),
)  # fmt: skip
SET_SEQUENCE_STATE = (
    "UPDATE {schema}.sequences SET state = $2,"
    " resumed_at = CASE WHEN $2 = 'active' AND state = 'paused' THEN $3 ELSE resumed_at END,"
    " ended_at = CASE WHEN $2 = 'ended' THEN coalesce(ended_at, $3) ELSE ended_at END"
    " WHERE id = $1 AND state <> 'ended'"
)
ACTIVITY_COLUMNS = ("event_id", "contact_id", "sequence_id", "kind", "action", "step", "outcome", "text",
                    "local_time", "user_id", "at")  # fmt: skip
INSERT_ACTIVITY = insert(
    "activities", " ".join(ACTIVITY_COLUMNS), "uuid text text text text text text text text text timestamptz",
    "ON CONFLICT DO NOTHING",
)  # fmt: skip


def row(record: asyncpg.Record | None) -> Row | None:
    """A record as a dict, jsonb columns parsed."""
    if record is None:
        return None
    out = dict(record)
    for col in JSON_COLUMNS:
        if isinstance(out.get(col), str):
            out[col] = json.loads(out[col])
    return out


def rows(records: Sequence[asyncpg.Record]) -> list[Row]:
    return [r for r in (row(x) for x in records) if r is not None]


class Store:
    """The tasks schema; each method is one statement."""

    def __init__(self, schema: str) -> None:
        self.schema = schema
        self._sql: dict[str, str] = {}

    def q(self, sql: str) -> str:
        if sql not in self._sql:
            self._sql[sql] = render(sql, self.schema)
        return self._sql[sql]

    # ---- templates ---------------------------------------------------------------------------
    async def insert_template(self, c: Conn, tid: str, body: Row, now: datetime) -> Row:
        sql = (
            "INSERT INTO {schema}.templates (id, name, owner, body, created_at, updated_at)"
            " VALUES ($1, $2, $3, $4::jsonb, $5, $5) RETURNING *"
        )
        rec = await c.fetchrow(self.q(sql), tid, body["name"], body["owner"], json.dumps(body), now)
        return row(rec) or {}

    async def update_template(self, c: Conn, tid: str, body: Row, now: datetime) -> Row | None:
        sql = (
            "UPDATE {schema}.templates SET name = $2, owner = $3, body = $4::jsonb, updated_at = $5"
            " WHERE id = $1 RETURNING *"
        )
        return row(await c.fetchrow(self.q(sql), tid, body["name"], body["owner"], json.dumps(body), now))

    async def template(self, c: Conn, tid: str) -> Row | None:
        return row(await c.fetchrow(self.q("SELECT * FROM {schema}.templates WHERE id = $1"), tid))

    # ---- rollups, contacts, members ----------------------------------------------------------
    async def rollup(self, c: Conn, rid: str) -> Row | None:
        return row(await c.fetchrow(self.q("SELECT * FROM {schema}.rollups WHERE id = $1"), rid))

    async def members(self, c: Conn, rid: str) -> list[Row]:
        sql = (
            "SELECT m.contact_id, m.active, m.how, m.at, c.data FROM {schema}.members m"
            " LEFT JOIN {schema}.contacts c ON c.id = m.contact_id WHERE m.rollup_id = $1 ORDER BY m.contact_id"
        )
        return rows(await c.fetch(self.q(sql), rid))

    async def upsert_contact(self, c: Conn, contact: Row, at: datetime) -> None:
        await c.execute(self.q(UPSERT_CONTACT), contact["id"], json.dumps(contact), at)

    async def contact(self, c: Conn, cid: str) -> Row | None:
        return row(await c.fetchrow(self.q("SELECT * FROM {schema}.contacts WHERE id = $1"), cid))

    async def existing_contacts(self, c: Conn, ids: Sequence[str]) -> set[str]:
        sql = "SELECT id FROM {schema}.contacts WHERE id = ANY($1)"
        return {r["id"] for r in await c.fetch(self.q(sql), list(ids))}

    async def set_roster(self, c: Conn, rid: str, cids: Sequence[str], on: bool) -> None:
        """What the API has put on (or taken off) a rollup, as it accepts the command."""
        if on:
            sql = (
                "INSERT INTO {schema}.roster (rollup_id, contact_id) SELECT $1, unnest($2::text[])"
                " ON CONFLICT DO NOTHING"
            )
        else:
            sql = "DELETE FROM {schema}.roster WHERE rollup_id = $1 AND contact_id = ANY($2::text[])"
        await c.execute(self.q(sql), rid, list(cids))

    async def roster(self, c: Conn, rid: str) -> list[str]:
        sql = "SELECT contact_id FROM {schema}.roster WHERE rollup_id = $1 ORDER BY contact_id"
        return [r["contact_id"] for r in await c.fetch(self.q(sql), rid)]

    async def set_member(self, c: Conn, rid: str, cid: str, active: bool, how: str | None, at: datetime) -> None:
        await c.execute(self.q(SET_MEMBER), rid, cid, active, how, at)

    # ---- sequences ---------------------------------------------------------------------------
    async def sequence(self, c: Conn, sid: str) -> Row | None:
        return row(await c.fetchrow(self.q("SELECT * FROM {schema}.sequences WHERE id = $1"), sid))

    async def sequences(self, c: Conn, ids: Sequence[str] | None = None) -> list[Row]:
        if ids is None:
            return rows(await c.fetch(self.q("SELECT * FROM {schema}.sequences ORDER BY activated_at, id")))
        sql = "SELECT * FROM {schema}.sequences WHERE id = ANY($1) ORDER BY activated_at, id"
        return rows(await c.fetch(self.q(sql), list(ids)))

    async def sequence_named(self, c: Conn, name: str) -> Row | None:
        return row(await c.fetchrow(self.q("SELECT * FROM {schema}.sequences WHERE name = $1"), name))

    async def sequence_on_rollup(self, c: Conn, rid: str) -> Row | None:
        sql = "SELECT * FROM {schema}.sequences WHERE rollup_id = $1 AND state <> 'ended' LIMIT 1"
        return row(await c.fetchrow(self.q(sql), rid))

    async def insert_sequence(self, c: Conn, s: Row) -> None:
        sql = (
            "INSERT INTO {schema}.sequences (id, name, rollup_id, template_id, template, activation,"
            " primary_user, team, timezone, begin_at, state, activated_at)"
            " VALUES ($1, $2, $3, $4, $5::jsonb, $6::jsonb, $7, $8, $9, $10, $11, $12)"
        )
        await c.execute(
            self.q(sql), s["id"], s["name"], s["rollup_id"], s["template_id"], json.dumps(s["template"]),
            json.dumps(s["activation"]), s["primary_user"], list(s["team"]), s["timezone"], s["begin_at"],
            s["state"], s["activated_at"],
        )  # fmt: skip

    async def set_sequence_state(self, c: Conn, sid: str, state: str, at: datetime) -> None:
        await c.execute(self.q(SET_SEQUENCE_STATE), sid, state, at)

    async def archive_sequence(self, c: Conn, sid: str) -> None:
        await c.execute(self.q("UPDATE {schema}.sequences SET archived = true WHERE id = $1"), sid)

    async def update_sequence_settings(self, c: Conn, sid: str, activation: Row, team: list[str]) -> None:
        sql = "UPDATE {schema}.sequences SET activation = $2::jsonb, team = $3 WHERE id = $1"
        await c.execute(self.q(sql), sid, json.dumps(activation), team)

    async def update_sequence_template(self, c: Conn, sid: str, template: Row) -> None:
        sql = "UPDATE {schema}.sequences SET template = $2::jsonb WHERE id = $1"
        await c.execute(self.q(sql), sid, json.dumps(template))

    # ---- enrollments -------------------------------------------------------------------------
    async def enrollment(self, c: Conn, sid: str, cid: str) -> Row | None:
        sql = "SELECT * FROM {schema}.enrollments WHERE sequence_id = $1 AND contact_id = $2"
        return row(await c.fetchrow(self.q(sql), sid, cid))

    async def enrollment_counts(self, c: Conn, sid: str) -> Row:
        sql = (
            "SELECT count(*) FILTER (WHERE steps_done >= 1 AND status NOT IN ('completed','exited','ended'))"
            " AS active, count(*) FILTER (WHERE status = 'completed') AS completed,"
            " count(*) FILTER (WHERE status = 'exited') AS exited,"
            " percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM finished_at - entered_at))"
            " FILTER (WHERE status = 'completed') AS median_seconds"
            " FROM {schema}.enrollments WHERE sequence_id = $1"
        )
        return row(await c.fetchrow(self.q(sql), sid)) or {}

    async def queue(self, c: Conn, where: str, args: Sequence[Any]) -> list[Row]:
        sql = (
            "SELECT e.*, s.name AS sequence_name, s.template, s.primary_user, s.team FROM {schema}.enrollments e"
            " JOIN {schema}.sequences s ON s.id = e.sequence_id"
            " WHERE e.steps_done >= 1 AND e.status NOT IN ('completed','exited','ended') AND s.state <> 'ended'"
            f" AND {where} ORDER BY e.next_at NULLS LAST, e.sequence_id, e.contact_id"
        )
        return rows(await c.fetch(self.q(sql), *args))

    # ---- tasks -------------------------------------------------------------------------------
    async def close_tasks(self, c: Conn, sid: str, cid: str, step: str | None, state: str, at: datetime) -> None:
        """Close the enrollment's open tasks (of one step, or all when step is None)."""
        sql = (
            "UPDATE {schema}.tasks SET state = $4, done_at = $5 WHERE sequence_id = $1 AND contact_id = $2"
            " AND state = 'open' AND ($3::text IS NULL OR step = $3)"
        )
        await c.execute(self.q(sql), sid, cid, step, state, at)

    async def cancel_sequence_tasks(self, c: Conn, sid: str, at: datetime) -> None:
        sql = "UPDATE {schema}.tasks SET state = 'cancelled', done_at = $2 WHERE sequence_id = $1 AND state = 'open'"
        await c.execute(self.q(sql), sid, at)

    async def task(self, c: Conn, task_id: int) -> Row | None:
        sql = (
            "SELECT t.*, s.name AS sequence_name, s.state AS sequence_state, s.primary_user, s.team,"
            " s.timezone, s.template, coalesce(e.paused, false) AS enrollment_paused"
            " FROM {schema}.tasks t JOIN {schema}.sequences s ON s.id = t.sequence_id"
            " LEFT JOIN {schema}.enrollments e ON e.sequence_id = t.sequence_id AND e.contact_id = t.contact_id"
            " WHERE t.id = $1"
        )
        return row(await c.fetchrow(self.q(sql), task_id))

    async def mark_task(self, c: Conn, task_id: int, outcome: str, user: str, at: datetime) -> bool:
        sql = (
            "UPDATE {schema}.tasks SET state = 'done', outcome = $2, done_by = $3, done_at = $4"
            " WHERE id = $1 AND state = 'open'"
        )
        return str(await c.execute(self.q(sql), task_id, outcome, user, at)).endswith(" 1")

    async def open_tasks(self, c: Conn, where: str, args: Sequence[Any]) -> list[Row]:
        sql = (
            "SELECT t.*, s.name AS sequence_name, s.primary_user, s.team, c.data AS contact"
            " FROM {schema}.tasks t JOIN {schema}.sequences s ON s.id = t.sequence_id"
            " LEFT JOIN {schema}.enrollments e ON e.sequence_id = t.sequence_id AND e.contact_id = t.contact_id"
            " LEFT JOIN {schema}.contacts c ON c.id = t.contact_id"
            " WHERE t.state = 'open' AND s.state = 'active' AND NOT coalesce(e.paused, false)"
            f" AND {where} ORDER BY t.due_at, t.id"
        )
        out = rows(await c.fetch(self.q(sql), *args))
        for r in out:
            if isinstance(r.get("contact"), str):
                r["contact"] = json.loads(r["contact"])
        return out

    async def task_counts(self, c: Conn, sid: str) -> Row:
        sql = (
            "SELECT count(*) FILTER (WHERE state = 'open') AS todo,"
            " count(*) FILTER (WHERE state = 'done') AS done FROM {schema}.tasks WHERE sequence_id = $1"
        )
        return row(await c.fetchrow(self.q(sql), sid)) or {}

    # ---- activities --------------------------------------------------------------------------
    async def insert_activity(self, c: Conn, a: Row) -> None:
        await c.execute(self.q(INSERT_ACTIVITY), *(a.get(k) for k in ACTIVITY_COLUMNS))

    async def activities(self, c: Conn, cid: str, limit: int = 50) -> list[Row]:
        sql = "SELECT * FROM {schema}.activities WHERE contact_id = $1 ORDER BY at DESC, id DESC LIMIT $2"
        return rows(await c.fetch(self.q(sql), cid, limit))

    # ---- sends and engagement ----------------------------------------------------------------
    async def send_by_message_id(self, c: Conn, message_id: str) -> Row | None:
        sql = "SELECT * FROM {schema}.sends WHERE message_id = $1 LIMIT 1"
        return row(await c.fetchrow(self.q(sql), message_id))

    async def latest_sms_to(self, c: Conn, address: str) -> Row | None:
        sql = (
            "SELECT * FROM {schema}.sends WHERE channel = 'sms' AND status = 'sent' AND to_address = $1"
            " ORDER BY at DESC LIMIT 1"
        )
        return row(await c.fetchrow(self.q(sql), address))

    async def send_counts(self, c: Conn, sid: str) -> Row:
        """Sends as the ledger has them: `sent` results per channel; `reached` = sends the provider answered
        (sent or refused: the base of bounce %). `failed` and `suppressed` sends are not sends."""
        sql = (
            "SELECT count(*) FILTER (WHERE channel = 'email' AND status = 'sent') AS emails,"
            " count(*) FILTER (WHERE channel = 'sms' AND status = 'sent') AS sms,"
            " count(*) FILTER (WHERE status IN ('sent', 'bounced')) AS reached"
            " FROM {schema}.sends WHERE sequence_id = $1"
        )
        return row(await c.fetchrow(self.q(sql), sid)) or {}

    async def engagement_counts(self, c: Conn, sid: str) -> dict[str, int]:
        """Per kind, the sends it happened to, each counted once: opens, clicks and replies of sent emails; a
        bounce is a send refused by the provider or a sent one reported bounced (the same send counts once)."""
        sql = (
            "SELECT kind, count(*) AS n FROM ("
            " SELECT g.kind, g.contact_id, g.step FROM {schema}.engagements g JOIN {schema}.sends s"
            " ON s.sequence_id = g.sequence_id AND s.contact_id = g.contact_id AND s.step = g.step"
            " AND s.channel = 'email' AND s.status = 'sent' WHERE g.sequence_id = $1 AND g.kind <> 'bounced'"
            " UNION SELECT 'bounced', s.contact_id, s.step FROM {schema}.sends s WHERE s.sequence_id = $1"
            " AND (s.status = 'bounced' OR s.status = 'sent' AND EXISTS (SELECT 1 FROM {schema}.engagements g"
            " WHERE g.sequence_id = s.sequence_id AND g.contact_id = s.contact_id AND g.step = s.step"
            " AND g.kind = 'bounced'))) AS once GROUP BY kind"
        )
        return {r["kind"]: r["n"] for r in await c.fetch(self.q(sql), sid)}

    async def step_reach(self, c: Conn, sid: str) -> dict[str, int]:
        """Per step: how many enrollments finished it (moved on, completed or exited from it)."""
        sql = (
            "SELECT step, count(DISTINCT contact_id) AS n FROM {schema}.activities WHERE sequence_id = $1"
            " AND action IN ('moved', 'completed', 'exited') GROUP BY step"
        )
        return {r["step"]: r["n"] for r in await c.fetch(self.q(sql), sid)}

    async def entered_count(self, c: Conn, sid: str) -> int:
        sql = "SELECT count(*) FROM {schema}.enrollments WHERE sequence_id = $1 AND entered_at IS NOT NULL"
        return int(await c.fetchval(self.q(sql), sid) or 0)
