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

    async def due_enrollments(self, c: asyncpg.Connection, sequence_id: str, now: datetime) -> list[Enrollment]:
        rows = await c.fetch(
            f"SELECT state FROM {self.s}.enrollments WHERE sequence_id = $1 AND due_at <= $2", sequence_id, now
        )
        return [enrollment_from(r["state"]) for r in rows]

    async def enrollments_of(
        self, c: asyncpg.Connection, sequence_id: str, contacts: Iterable[str]
    ) -> list[Enrollment]:
        """These contacts' enrollments, finished ones too (an input may name a contact that has finished)."""
        rows = await c.fetch(
            f"SELECT state FROM {self.s}.enrollments WHERE sequence_id = $1 AND contact_id = ANY($2::text[])",
            sequence_id, list(contacts),
        )  # fmt: skip
        return [enrollment_from(r["state"]) for r in rows]

    async def save_enrollments(self, c: asyncpg.Connection, sequence_id: str, es: list[Enrollment]) -> None:
        await c.executemany(
            f"INSERT INTO {self.s}.enrollments (sequence_id, contact_id, state, finished, due_at) "
            "VALUES ($1,$2,$3,$4,$5) ON CONFLICT (sequence_id, contact_id) DO UPDATE SET state = EXCLUDED.state, "
            "finished = EXCLUDED.finished, due_at = EXCLUDED.due_at",
            [(sequence_id, e.contact_id, enrollment_json(e), e.finished, timer_at(e)) for e in es],
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
        await c.executemany(
            f"DELETE FROM {self.s}.limiter_queue WHERE sequence_id = $1 AND channel = $2 AND due = $3 "
            "AND contact_id = $4 AND step = $5",
            [(sequence_id, channel, *item) for item in gone],
        )  # fmt: skip
        await c.executemany(
            f"INSERT INTO {self.s}.limiter_queue (sequence_id, channel, due, contact_id, step) "
            "VALUES ($1,$2,$3,$4,$5) ON CONFLICT DO NOTHING",
            [(sequence_id, channel, *item) for item in added],
        )  # fmt: skip
