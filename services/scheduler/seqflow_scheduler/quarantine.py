"""Quarantine: a sequence that fails to tick is set aside (state `error`) so every other one goes on (11.3)."""

from __future__ import annotations

import logging
from datetime import datetime

import asyncpg

from seqflow.messaging.topics import Topics
from seqflow.messaging.work import SequenceStateChanged
from seqflow.rules.gates import whole_seconds
from seqflow_scheduler.db import SchedulerDb, SequenceRow
from seqflow_scheduler.outputs import message_row

log = logging.getLogger("seqflow.scheduler")

QUARANTINED = "sequence_quarantined"  # the action the tasks service shows as state `error`
# Failures of the database connection, deadlocks and serialization failures say nothing about the sequence
# or the message: those are retried (the next tick, the redelivery), never quarantined or dead-lettered.
TRANSIENT = (asyncpg.PostgresConnectionError, asyncpg.InterfaceError, OSError, asyncpg.TransactionRollbackError)


async def quarantine(conn: asyncpg.Connection, db: SchedulerDb, topics: Topics, row: SequenceRow, now: datetime,
                     exc: BaseException) -> None:  # fmt: skip
    """Mark the sequence `error`, tell the tasks service, and log one alert-able line."""
    reason = f"{type(exc).__name__}: {exc}"
    await db.quarantine(conn, row.id, reason)
    at = whole_seconds(now)
    payload = SequenceStateChanged(sequence_id=row.id, action=QUARANTINED, at=at)
    await db.add_outbox(conn, [message_row(topics.enrollment_changes, "sequence_state_changed", row.id, payload, at)])
    log.error("sequence quarantined", extra={"sequence": row.id, "reason": reason}, exc_info=exc)
