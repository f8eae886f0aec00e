"""The read models' writes for a batch of events: one transaction, one statement per kind of write.

Handlers (handlers.py) add rows to a `Batch`; `flush` then runs each statement once for all its rows, in the
order the statements were first used and, per statement, in event order. Statements of different kinds
commute within one topic's batch (each touches its own rows, or the same rows in the same way), so only the
order within a statement matters. An insert runs as one statement over a JSON array of its rows (db.BULK:
one Bind/Execute for the batch instead of one per row, on the client and in PostgreSQL) where that writes
what its rows one by one would: always for DO NOTHING, for DO UPDATE when no two rows share a conflict key
(one statement cannot update a row twice); anything else runs as `executemany`, in event order.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from uuid import UUID

from pydantic_core import to_json

from seqflow_tasks.db import BULK, Conn, Row, Store, insert, rows

FIRST_TIMES = (
    "INSERT INTO {schema}.processed_events (event_id) SELECT unnest($1::uuid[]) ON CONFLICT DO NOTHING"
    " RETURNING event_id"
)
ENROLLMENT_COLUMNS = ("sequence_id", "contact_id", "status", "phase", "step", "next_at", "steps_done", "paused",
                      "last_step", "last_outcome", "entered_at", "finished_at", "updated_at")  # fmt: skip
UPSERT_ENROLLMENT = insert(
    "enrollments", " ".join(ENROLLMENT_COLUMNS),
    "text text text text text timestamptz int4 bool text text timestamptz timestamptz timestamptz",
    "ON CONFLICT (sequence_id, contact_id) DO UPDATE SET"
    + ",".join(f" {c} = EXCLUDED.{c}" for c in ENROLLMENT_COLUMNS[2:]), key=(0, 1),
)  # fmt: skip
# One statement closes an enrollment's tasks of one step, all of them (step NULL), or a whole sequence's
# (contact NULL): so closes keep their event order whatever their kind.
CLOSE_TASKS = (
    "UPDATE {schema}.tasks SET state = $4, done_at = $5 WHERE sequence_id = $1 AND state = 'open'"
    " AND ($2::text IS NULL OR contact_id = $2) AND ($3::text IS NULL OR step = $3)"
)
# The same for many enrollments at once, each named once (so each task matches at most one row of the batch
# and their order does not matter): one statement instead of one per enrollment.
BULK[CLOSE_TASKS] = (
    "UPDATE {schema}.tasks AS t SET state = r->>3, done_at = (r->>4)::timestamptz"
    " FROM jsonb_array_elements($1::jsonb) AS r WHERE t.sequence_id = r->>0 AND t.contact_id = r->>1"
    " AND t.state = 'open' AND (r->>2 IS NULL OR t.step = r->>2)", (0, 1),
)  # fmt: skip
QUARANTINE = "UPDATE {schema}.sequences SET quarantined_at = coalesce(quarantined_at, $2) WHERE id = $1"
INSERT_TASK = insert(
    "tasks", "sequence_id contact_id step attempt kind type priority branch step_index instructions script"
    " outcomes reason due_at", "text text text int4 text text text text int4 text text jsonb text timestamptz",
    "ON CONFLICT DO NOTHING",
)  # fmt: skip
# The latest result of a send wins; a redelivered older one does not undo it.
INSERT_SEND = insert(
    "sends", "idempotency_key sequence_id contact_id step channel status message_id to_address at",
    "text text text text text text text text timestamptz",
    "ON CONFLICT (idempotency_key) DO UPDATE SET status = EXCLUDED.status,"
    " message_id = coalesce(EXCLUDED.message_id, {schema}.sends.message_id), at = EXCLUDED.at"
    " WHERE {schema}.sends.at <= EXCLUDED.at", key=(0,),
)  # fmt: skip
INSERT_ENGAGEMENT = insert(
    "engagements", "sequence_id contact_id step kind message_id at", "text text text text text timestamptz",
    "ON CONFLICT DO NOTHING",
)  # fmt: skip
ENROLLMENTS_OF = (
    "SELECT e.* FROM {schema}.enrollments e JOIN unnest($1::text[], $2::text[]) AS k(sid, cid)"
    " ON e.sequence_id = k.sid AND e.contact_id = k.cid"
)
SEQUENCES_OF = "SELECT id, name, timezone FROM {schema}.sequences WHERE id = ANY($1::text[])"

Key = tuple[str, str]


class Batch:
    """The rows one batch of events writes, plus what its handlers read (loaded once for the batch)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.writes: dict[str, list[tuple[Any, ...]]] = {}
        self.enrollments: dict[Key, Row] = {}
        self.changed: set[Key] = set()
        self.sequences: dict[str, Row] = {}

    def add(self, sql: str, *args: Any) -> None:
        self.writes.setdefault(sql, []).append(args)

    def put_enrollment(self, e: Row) -> None:
        """The enrollment's state after an event; only the last state of the batch is written."""
        key = (e["sequence_id"], e["contact_id"])
        self.enrollments[key] = e
        self.changed.add(key)

    async def first_times(self, c: Conn, ids: Iterable[UUID]) -> set[UUID]:
        """Record event ids; the ones not processed before."""
        return {r["event_id"] for r in await c.fetch(self.store.q(FIRST_TIMES), list(ids))}

    async def load(self, c: Conn, keys: set[Key], sequence_ids: set[str]) -> None:
        """What the handlers will read: the enrollments they change and their sequences."""
        if keys:
            sids, cids = zip(*sorted(keys), strict=True)
            found = rows(await c.fetch(self.store.q(ENROLLMENTS_OF), list(sids), list(cids)))
            self.enrollments.update({(r["sequence_id"], r["contact_id"]): r for r in found})
        if sequence_ids:
            found = rows(await c.fetch(self.store.q(SEQUENCES_OF), sorted(sequence_ids)))
            self.sequences.update({r["id"]: r for r in found})

    async def flush(self, c: Conn) -> None:
        if self.changed:  # in key order: concurrent batches lock rows in one order, so they cannot deadlock
            finals = [tuple(self.enrollments[k].get(col) for col in ENROLLMENT_COLUMNS) for k in sorted(self.changed)]
            await write(c, self.store, UPSERT_ENROLLMENT, finals)
        for sql, args in self.writes.items():
            await write(c, self.store, sql, args)


async def write(c: Conn, store: Store, sql: str, args: list[tuple[Any, ...]]) -> None:
    """Run `sql` for each row of `args`, in order: as one statement over all rows where that is the same
    (no conflict key, or one set in every row and different in each)."""
    bulk, key = BULK.get(sql, (None, ()))
    keys = {tuple(a[i] for i in key) for a in args} if key else set()
    if bulk is not None and (not key or len(keys) == len(args) and all(None not in k for k in keys)):
        await c.execute(store.q(bulk), to_json(args).decode())
    else:
        await c.executemany(store.q(sql), args)
