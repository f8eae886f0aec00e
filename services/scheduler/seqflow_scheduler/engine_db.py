"""The engine's rows: enrollments with their indexed due instant, and the rate limiter's queue.

A tick reads only what is due, what an input names, and the head of each limiter queue (issue 7.1).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import asyncpg

from seqflow.rules.engine import QueueItem, timer_at
from seqflow.rules.state import Enrollment
from seqflow_scheduler.snapshot import enrollment_from, enrollment_json


class EngineRows:
    s: str  # the schema, set by SchedulerDb

    async def open_enrollments(self, c: asyncpg.Connection, sequence_id: str) -> list[Enrollment]:
        """Every unfinished enrollment: for what acts on the whole sequence (pause, resume, end, edit)."""
        rows = await c.fetch(
            f"SELECT state FROM {self.s}.enrollments WHERE sequence_id = $1 AND NOT finished", sequence_id
        )
        return [enrollment_from(r["state"]) for r in rows]

    async def due_enrollments(
        self, c: asyncpg.Connection, sequence_id: str, now: datetime, most: int | None = None
    ) -> list[Enrollment]:
        """Enrollments whose timer is due by `now`, earliest first, at most `most` of them."""
        rows = await c.fetch(
            f"SELECT state FROM {self.s}.enrollments WHERE sequence_id = $1 AND due_at <= $2 ORDER BY due_at "
            "LIMIT $3",
            sequence_id, now, most,
        )  # fmt: skip
        return [enrollment_from(r["state"]) for r in rows]

    async def enrollments_of(
        self, c: asyncpg.Connection, sequence_id: str, contacts: Iterable[str]
    ) -> list[Enrollment]:
        """These contacts' enrollments, finished ones too (an input may name a contact that has finished)."""
        es, _ = await self.enrollments_seen(c, sequence_id, list(contacts))
        return es

    async def enrollments_seen(self, c: asyncpg.Connection, sequence_id: str,
                               contacts: list[str]) -> tuple[list[Enrollment], dict[str, datetime]]:  # fmt: skip
        """These contacts' enrollments, and the instant each one's engine last ran to (when known)."""
        rows = await c.fetch(
            f"SELECT state, seen_to FROM {self.s}.enrollments WHERE sequence_id = $1 AND contact_id = ANY($2::text[])",
            sequence_id, contacts,
        )  # fmt: skip
        es = [enrollment_from(r["state"]) for r in rows]
        return es, {e.contact_id: r["seen_to"] for e, r in zip(es, rows, strict=True) if r["seen_to"] is not None}

    async def save_enrollments(self, c: asyncpg.Connection, sequence_id: str, es: list[Enrollment],
                               seen: datetime) -> None:  # fmt: skip
        """One statement for the whole batch (arrays unnested), not one round trip per enrollment; `seen` is
        the instant their engine ran to."""
        if not es:
            return
        await c.execute(
            f"INSERT INTO {self.s}.enrollments (sequence_id, contact_id, state, finished, due_at, seen_to) "
            "SELECT $1, *, $6 FROM unnest($2::text[], $3::jsonb[], $4::bool[], $5::timestamptz[]) "
            "ON CONFLICT (sequence_id, contact_id) DO UPDATE SET state = EXCLUDED.state, "
            "finished = EXCLUDED.finished, due_at = EXCLUDED.due_at, seen_to = EXCLUDED.seen_to",
            sequence_id, [e.contact_id for e in es], [enrollment_json(e) for e in es], [e.finished for e in es],
            [timer_at(e) for e in es], seen,
        )  # fmt: skip

    async def next_due(self, c: asyncpg.Connection, sequence_id: str) -> datetime | None:
        """The earliest enrollment timer of the sequence (the index answers without reading rows)."""
        return await c.fetchval(  # type: ignore[no-any-return]
            f"SELECT min(due_at) FROM {self.s}.enrollments WHERE sequence_id = $1 AND due_at IS NOT NULL", sequence_id
        )

    async def queued_channels(self, c: asyncpg.Connection, sequence_id: str) -> list[str]:
        rows = await c.fetch(
            f"SELECT DISTINCT channel FROM {self.s}.limiter_queue WHERE sequence_id = $1", sequence_id
        )
        return [r["channel"] for r in rows]

    async def queue_head(
        self, c: asyncpg.Connection, sequence_id: str, channel: str, limit: int | None
    ) -> tuple[list[QueueItem], bool]:
        """The first `limit` items of a limiter queue in its order (all when None); True if more follow."""
        rows = await c.fetch(
            f"SELECT due, contact_id, step FROM {self.s}.limiter_queue WHERE sequence_id = $1 AND channel = $2 "
            "ORDER BY due, contact_id, step LIMIT $3",
            sequence_id, channel, None if limit is None else limit + 1,
        )  # fmt: skip
        items = [(r["due"], r["contact_id"], r["step"]) for r in rows]
        more = limit is not None and len(items) > limit
        return (items[:limit] if more else items), more

    async def update_queue(self, c: asyncpg.Connection, sequence_id: str, channel: str,
                           gone: Iterable[QueueItem], added: Iterable[QueueItem]) -> None:  # fmt: skip
        """Only the items a tick took or added: the rest of the queue is neither read nor rewritten."""
        for sql, items in ((QUEUE_DELETE, list(gone)), (QUEUE_INSERT, list(added))):
            if items:
                dues, contacts, steps = zip(*items, strict=True)
                await c.execute(sql.format(s=self.s), sequence_id, channel, list(dues), list(contacts), list(steps))


QUEUE_ITEMS = "unnest($3::timestamptz[], $4::text[], $5::text[])"
QUEUE_DELETE = (
    "DELETE FROM {s}.limiter_queue q USING " + QUEUE_ITEMS + " AS i(due, contact_id, step) "
    "WHERE q.sequence_id = $1 AND q.channel = $2 AND q.due = i.due AND q.contact_id = i.contact_id "
    "AND q.step = i.step"
)
QUEUE_INSERT = (
    "INSERT INTO {s}.limiter_queue (sequence_id, channel, due, contact_id, step) "
    "SELECT $1, $2, * FROM " + QUEUE_ITEMS + " ON CONFLICT DO NOTHING"
)
