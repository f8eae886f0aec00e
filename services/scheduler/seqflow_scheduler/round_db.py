"""The SQL of rounds: replicas working on one big sequence at the same moment (issue 7.2, migration 0012).

A round covers the work of one sequence due by its instant `round_to`. That work is split into LANES by a
hash of the contact id; a replica takes a lane by locking its `round_lanes` row (FOR UPDATE SKIP LOCKED, so
replicas take different lanes), runs a slice of its contacts, and marks the lane done once it has no work
left by `round_to`. The sequence row is neither locked nor written while lanes run.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime
from typing import Any

import asyncpg

from seqflow.rules.engine import QueueItem

LANES = 16
# As indexed by migration 0012 (the planner uses the indexes only for these exact expressions).
LANE_OF_ENROLLMENT = "(hashtext(contact_id) & 15)"
LANE_OF_INPUT = "(hashtext(input->>'contact') & 15)"
CONTACT_OF_INPUT = "(input->>'contact')"


def lane_has_work(s: str, lane: str, upto: str) -> str:
    """SQL: lane `lane` of sequence $1 has a timer or an input due by `upto` (two index probes)."""
    return (f"(EXISTS (SELECT 1 FROM {s}.enrollments WHERE sequence_id = $1 AND {LANE_OF_ENROLLMENT} = {lane} "
            f"AND due_at <= {upto}) OR EXISTS (SELECT 1 FROM {s}.inbox WHERE sequence_id = $1 "
            f"AND {LANE_OF_INPUT} = {lane} AND at <= {upto}))")  # fmt: skip


class RoundRows:
    s: str  # the schema, set by SchedulerDb

    async def backlog_over(self, c: asyncpg.Connection, sequence_id: str, upto: datetime, most: int) -> bool:
        """Whether more than `most` timers and inputs of the sequence are due by `upto` (index walks, bounded)."""
        n = await c.fetchval(
            f"SELECT (SELECT count(*) FROM (SELECT 1 FROM {self.s}.enrollments WHERE sequence_id = $1 "
            "AND due_at <= $2 LIMIT $3) e) + "
            f"(SELECT count(*) FROM (SELECT 1 FROM {self.s}.inbox WHERE sequence_id = $1 AND at <= $2 LIMIT $3) i)",
            sequence_id, upto, most + 1,
        )  # fmt: skip
        return int(n) > most

    async def sequence_wide_pending(self, c: asyncpg.Connection, sequence_id: str, upto: datetime) -> bool:
        """Whether an input by `upto` names no contact (pause, resume, end, edit): it acts on every enrollment."""
        return bool(await c.fetchval(
            f"SELECT EXISTS (SELECT 1 FROM {self.s}.inbox WHERE sequence_id = $1 AND at <= $2 "
            "AND input->>'contact' IS NULL)",
            sequence_id, upto,
        ))  # fmt: skip

    async def open_round(self, c: asyncpg.Connection, sequence_id: str, to: datetime) -> int:
        """A lane row for every lane with work due by `to` (an index probe each), and the sequence in the round.
        Its wake stays at `to` (due, as seen from outside) but claims skip it: lanes and finished rounds are
        found through `round_lanes`. Returns how many lanes have work."""
        status = await c.execute(
            f"INSERT INTO {self.s}.round_lanes (sequence_id, lane) SELECT $1, l FROM generate_series(0, $3 - 1) l "
            f"WHERE {lane_has_work(self.s, 'l', '$2')}",
            sequence_id, to, LANES,
        )  # fmt: skip
        lanes = int(status.split()[-1])
        if lanes:
            await c.execute(
                f"UPDATE {self.s}.sequences SET round_to = $2, wake_at = $2 WHERE id = $1", sequence_id, to
            )
        return lanes

    async def take_lane(self, c: asyncpg.Connection) -> tuple[asyncpg.Record, int] | None:
        """Lock one lane of an open round that no other replica holds: (the sequence's row, the lane)."""
        r = await c.fetchrow(
            f"SELECT l.lane, s.* FROM {self.s}.round_lanes l JOIN {self.s}.sequences s ON s.id = l.sequence_id "
            "WHERE NOT l.done AND s.error IS NULL ORDER BY s.round_to, l.sequence_id, l.lane LIMIT 1 "
            "FOR UPDATE OF l SKIP LOCKED"
        )
        return None if r is None else (r, r["lane"])

    async def lane_contacts(self, c: asyncpg.Connection, sequence_id: str, lane: int, upto: datetime,
                            most: int) -> list[str]:  # fmt: skip
        """Up to `most` contacts of a lane with work due by `upto`: those whose timers are due first, then those
        with inputs, by id (index walks that stop after `most`). Any such set will do: a slice runs whole
        contacts, and the round ends only when none is left."""
        rows = await c.fetch(
            f"(SELECT contact_id FROM {self.s}.enrollments WHERE sequence_id = $1 AND {LANE_OF_ENROLLMENT} = $2 "
            "AND due_at <= $3 ORDER BY due_at LIMIT $4) UNION ALL "
            f"(SELECT DISTINCT {CONTACT_OF_INPUT} FROM {self.s}.inbox WHERE sequence_id = $1 AND {LANE_OF_INPUT} = $2 "
            f"AND at <= $3 ORDER BY 1 LIMIT $4)",
            sequence_id, lane, upto, most,
        )  # fmt: skip
        return list(dict.fromkeys(r[0] for r in rows))[:most]

    async def take_lane_inputs(self, c: asyncpg.Connection, sequence_id: str, lane: int, upto: datetime,
                               contacts: list[str]) -> list[dict[str, Any]]:  # fmt: skip
        """These contacts' inputs by `upto`, removed from the inbox, in (instant, arrival) order: an index probe
        per contact (a LATERAL subquery the planner may not flatten). Left to the planner, `= ANY` or a join
        with the contacts became a scan of the whole lane filtered per contact when the inbox was young
        (generic plans, no statistics yet): up to 1 s a slice at 100,000 contacts."""
        rows = await c.fetch(
            f"DELETE FROM {self.s}.inbox WHERE id = ANY(ARRAY(SELECT i.id FROM unnest($4::text[]) AS c(id), LATERAL "
            f"(SELECT id FROM {self.s}.inbox WHERE sequence_id = $1 AND {LANE_OF_INPUT} = $2 "
            f"AND {CONTACT_OF_INPUT} = c.id AND at <= $3 OFFSET 0) i)) RETURNING id, at, input",  # OFFSET 0: a fence
            sequence_id, lane, upto, contacts,
        )  # fmt: skip
        return [json.loads(r["input"]) for r in sorted(rows, key=lambda r: (r["at"], r["id"]))]

    async def queue_items_of(self, c: asyncpg.Connection, sequence_id: str,
                             contacts: Iterable[str]) -> dict[str, list[QueueItem]]:  # fmt: skip
        """The limiter queue items of these contacts, per channel."""
        rows = await c.fetch(
            f"SELECT channel, due, contact_id, step FROM {self.s}.limiter_queue WHERE sequence_id = $1 "
            "AND contact_id = ANY($2::text[])",
            sequence_id, list(contacts),
        )  # fmt: skip
        out: dict[str, list[QueueItem]] = defaultdict(list)
        for r in rows:
            out[r["channel"]].append((r["due"], r["contact_id"], r["step"]))
        return dict(out)

    async def lane_done(self, c: asyncpg.Connection, sequence_id: str, lane: int, upto: datetime,
                        applied: int) -> bool:  # fmt: skip
        """Count a slice's inputs on its lane, and mark the lane done when none of its work is due by `upto`
        any more; whether it is. The sequence row is not touched: other lanes go on meanwhile."""
        return bool(await c.fetchval(
            f"UPDATE {self.s}.round_lanes SET applied = applied + $4, done = NOT {lane_has_work(self.s, '$2', '$3')} "
            "WHERE sequence_id = $1 AND lane = $2 RETURNING done",
            sequence_id, lane, upto, applied,
        ))  # fmt: skip

    async def claim_finished_round(self, c: asyncpg.Connection) -> asyncpg.Record | None:
        """Lock a sequence whose round has every lane done (as committed)."""
        return await c.fetchrow(
            f"SELECT * FROM {self.s}.sequences s WHERE s.round_to IS NOT NULL AND s.error IS NULL AND NOT EXISTS "
            f"(SELECT 1 FROM {self.s}.round_lanes l WHERE l.sequence_id = s.id AND NOT l.done) "
            "ORDER BY s.round_to LIMIT 1 FOR UPDATE SKIP LOCKED"
        )

    async def close_round(self, c: asyncpg.Connection, sequence_id: str, to: datetime) -> None:
        """The sequence is at `to`, its lanes' inputs counted, and due at once: a tick of the whole sequence
        takes what arrived late and sets the next wake."""
        await c.execute(
            f"WITH gone AS (DELETE FROM {self.s}.round_lanes WHERE sequence_id = $1 RETURNING applied) "
            f"UPDATE {self.s}.sequences SET advanced_to = $2, round_to = NULL, wake_at = $2, "
            "inputs_applied = inputs_applied + (SELECT coalesce(sum(applied), 0) FROM gone) WHERE id = $1",
            sequence_id, to,
        )  # fmt: skip
