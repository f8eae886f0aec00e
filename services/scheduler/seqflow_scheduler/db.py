"""The scheduler's SQL: read copies, engine state, the inbox and the outbox (schema `scheduler`)."""

from __future__ import annotations

import json
import random
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from seqflow.rules.state import Input, SequenceState
from seqflow_scheduler.engine_db import EngineRows
from seqflow_scheduler.round_db import RoundRows
from seqflow_scheduler.snapshot import input_json, state_json

OUTBOX_PARTS = 16
# User actions the API refuses while the sequence is paused (SPEC: Mark As, Move to Next Task Now, Retry). One
# the scheduler sees while it still has the sequence paused was accepted after a resume it has not seen yet (the
# two travel on different topics): the inbox keeps it until that resume (or an end) arrives.
HELD_WHILE_PAUSED = ("outcome", "move_next", "retry")
RELEASES = ("resume", "end")


def outbox_part(key: str) -> int:
    """The outbox partition of an enrollment key (stable across processes, unlike hash())."""
    return zlib.crc32(key.encode("utf-8")) % OUTBOX_PARTS


@dataclass(frozen=True)
class SequenceRow:
    id: str
    name: str
    rollup_id: str
    template: dict[str, Any]
    activation: dict[str, Any]
    primary_user: dict[str, Any]
    activated_at: datetime
    state: dict[str, Any]
    advanced_to: datetime
    roster_missing: int = 0  # roster members whose membership event has not arrived
    roster_size: int = 0
    round_to: datetime | None = None  # the instant of the open round, if any (round_db.py)


def sequence_row(r: asyncpg.Record) -> SequenceRow:
    return SequenceRow(
        r["id"], r["name"], r["rollup_id"], json.loads(r["template"]), json.loads(r["activation"]),
        json.loads(r["primary_user"]), r["activated_at"], json.loads(r["state"]), r["advanced_to"],
        r["roster_missing"], r["roster_size"], r["round_to"],
    )  # fmt: skip


class SchedulerDb(EngineRows, RoundRows):
    """Every query of the scheduler; `s` is the (possibly prefixed) schema name."""

    def __init__(self, schema: str) -> None:
        self.s = schema

    # ---- read copies ----------------------------------------------------------------------
    async def upsert_contact(self, c: asyncpg.Connection, contact_id: str, data: dict[str, Any]) -> None:
        await self.upsert_contacts(c, {contact_id: data})

    async def upsert_contacts(self, c: asyncpg.Connection, contacts: dict[str, dict[str, Any]]) -> None:
        """One statement for a batch of contact copies (one row per id: the batch's last version)."""
        if contacts:
            await c.execute(
                f"INSERT INTO {self.s}.contacts (id, data) SELECT * FROM unnest($1::text[], $2::jsonb[]) "
                "ON CONFLICT (id) DO UPDATE SET data = EXCLUDED.data",
                list(contacts), [json.dumps(d) for d in contacts.values()],
            )  # fmt: skip

    async def set_member(self, c: asyncpg.Connection, rollup_id: str, contact_id: str, present: bool) -> None:
        await self.set_members(c, {(rollup_id, contact_id): present})

    async def set_members(self, c: asyncpg.Connection, members: dict[tuple[str, str], bool]) -> None:
        """One statement for a batch of (rollup, contact) → present."""
        if members:
            await c.execute(
                f"INSERT INTO {self.s}.members (rollup_id, contact_id, present) "
                "SELECT * FROM unnest($1::text[], $2::text[], $3::bool[]) "
                "ON CONFLICT (rollup_id, contact_id) DO UPDATE SET present = EXCLUDED.present",
                [r for r, _ in members], [m for _, m in members], list(members.values()),
            )  # fmt: skip

    async def lock_rollup(self, c: asyncpg.Connection, rollup_id: str) -> None:
        """Serialise membership changes and activations of one rollup (until the transaction ends), so an
        activation and the last roster member arriving at once cannot both miss each other."""
        await c.execute("SELECT pg_advisory_xact_lock(hashtext($1))", f"{self.s}:rollup:{rollup_id}")

    async def present_members(self, c: asyncpg.Connection, rollup_id: str) -> list[str]:
        rows = await c.fetch(
            f"SELECT contact_id FROM {self.s}.members WHERE rollup_id = $1 AND present ORDER BY contact_id",
            rollup_id,
        )
        return [r["contact_id"] for r in rows]

    async def contacts(self, c: asyncpg.Connection, ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        rows = await c.fetch(f"SELECT id, data FROM {self.s}.contacts WHERE id = ANY($1::text[])", list(ids))
        return {r["id"]: json.loads(r["data"]) for r in rows}

    async def suppressed(self, c: asyncpg.Connection, addresses: Iterable[str]) -> set[str]:
        rows = await c.fetch(
            f"SELECT address FROM {self.s}.suppressed WHERE address = ANY($1::text[])", list(addresses)
        )
        return {r["address"] for r in rows}

    async def contacts_with_address(self, c: asyncpg.Connection, address: str) -> list[str]:
        """The contacts whose email or phone is this (normalised) address; both lookups use an index (0010)."""
        rows = await c.fetch(
            f"SELECT id FROM {self.s}.contacts WHERE lower(btrim(data->>'email')) = $1 "
            f"UNION SELECT id FROM {self.s}.contacts WHERE lower(btrim(data->>'phone')) = $1",
            address,
        )  # fmt: skip
        return [r["id"] for r in rows]

    async def suppress(self, c: asyncpg.Connection, address: str) -> None:
        await c.execute(f"INSERT INTO {self.s}.suppressed (address) VALUES ($1) ON CONFLICT DO NOTHING", address)

    # ---- sequences ------------------------------------------------------------------------
    async def create_sequence(
        self, c: asyncpg.Connection, row: SequenceRow, state: SequenceState, roster: list[str] | None
    ) -> bool:
        """A new sequence, due at its activation instant; False if it already exists."""
        status = await c.execute(
            f"INSERT INTO {self.s}.sequences (id, name, rollup_id, template, activation, primary_user, "
            "activated_at, state, advanced_to, wake_at, roster, started, roster_size) "
            "VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$7,$7,$9,true,$10) ON CONFLICT (id) DO NOTHING",
            row.id, row.name, row.rollup_id, json.dumps(row.template), json.dumps(row.activation),
            json.dumps(row.primary_user), row.activated_at, state_json(state),
            json.dumps(roster) if roster is not None else None, len(roster or ()),
        )  # fmt: skip
        return bool(status.endswith("1"))

    async def await_roster(self, c: asyncpg.Connection, row: SequenceRow, roster: list[str]) -> int:
        """Record the roster members the membership copy does not hold yet; how many they are."""
        status = await c.execute(
            f"INSERT INTO {self.s}.roster_wait (sequence_id, contact_id) SELECT $1, r FROM unnest($3::text[]) r "
            f"WHERE NOT EXISTS (SELECT 1 FROM {self.s}.members m WHERE m.rollup_id = $2 AND m.contact_id = r) "
            "ON CONFLICT DO NOTHING",
            row.id, row.rollup_id, roster,
        )  # fmt: skip
        missing = int(status.rsplit(" ", 1)[-1])
        await c.execute(f"UPDATE {self.s}.sequences SET roster_missing = $2 WHERE id = $1", row.id, missing)
        return missing

    async def roster_arrived(self, c: asyncpg.Connection, rollup_id: str, contact_id: str) -> None:
        await self.rosters_arrived(c, [(rollup_id, contact_id)])

    async def rosters_arrived(self, c: asyncpg.Connection, arrived: list[tuple[str, str]]) -> None:
        """Awaited roster members (rollup, contact) are in the copy now: their roster_wait rows go (indexed
        deletes) and each waiting sequence counts them off, in one statement for the batch."""
        if not arrived:
            return
        await c.execute(
            f"WITH gone AS (DELETE FROM {self.s}.roster_wait w USING {self.s}.sequences s, "
            "unnest($1::text[], $2::text[]) AS a(rollup_id, contact_id) "
            "WHERE w.contact_id = a.contact_id AND w.sequence_id = s.id AND s.rollup_id = a.rollup_id "
            "RETURNING w.sequence_id), "
            "n AS (SELECT sequence_id, count(*) AS k FROM gone GROUP BY sequence_id) "
            f"UPDATE {self.s}.sequences SET roster_missing = GREATEST(roster_missing - n.k, 0) "
            "FROM n WHERE id = n.sequence_id",
            [r for r, _ in arrived], [cid for _, cid in arrived],
        )  # fmt: skip

    async def forget_roster(self, c: asyncpg.Connection, sequence_id: str) -> None:
        """Stop waiting for roster members that never came. Their roster_wait rows stay: deleting them here
        would lock rows in the opposite order to intake (roster_wait, then the sequence) and deadlock."""
        await c.execute(f"UPDATE {self.s}.sequences SET roster_missing = 0 WHERE id = $1", sequence_id)

    async def enter_present(self, c: asyncpg.Connection, sequence_id: str, rollup_id: str, at: datetime) -> None:
        """A member_added input at the activation instant for every member present now, in one statement."""
        await c.execute(
            f"INSERT INTO {self.s}.inbox (sequence_id, event_id, at, input) SELECT $1, 'start:' || contact_id, $4, "
            "jsonb_build_object('at', $3::text, 'type', 'member_added', 'contact', contact_id, 'step', NULL, "
            f"'outcome', NULL, 'fields', NULL) FROM {self.s}.members WHERE rollup_id = $2 AND present "
            "ORDER BY contact_id ON CONFLICT (sequence_id, event_id) DO NOTHING",
            sequence_id, rollup_id, at.isoformat(), at,
        )  # fmt: skip

    async def sequences_on_rollup(self, c: asyncpg.Connection, rollup_id: str) -> list[asyncpg.Record]:
        return list(await c.fetch(
            f"SELECT id, activated_at FROM {self.s}.sequences WHERE rollup_id = $1 AND started AND NOT ended",
            rollup_id,
        ))  # fmt: skip

    async def sequences_enrolling(self, c: asyncpg.Connection, contact_id: str) -> list[str]:
        rows = await c.fetch(
            f"SELECT sequence_id FROM {self.s}.enrollments WHERE contact_id = $1 AND NOT finished", contact_id
        )
        return [r["sequence_id"] for r in rows]

    async def open_enrollments_of(self, c: asyncpg.Connection, contact_ids: Iterable[str]) -> list[tuple[str, str]]:
        """(contact, sequence) of every unfinished enrollment of these contacts, in a stable order."""
        rows = await c.fetch(
            f"SELECT contact_id, sequence_id FROM {self.s}.enrollments "
            "WHERE contact_id = ANY($1::text[]) AND NOT finished ORDER BY sequence_id, contact_id",
            sorted(set(contact_ids)),
        )  # fmt: skip
        return [(r["contact_id"], r["sequence_id"]) for r in rows]

    async def claim_due(self, c: asyncpg.Connection, now: datetime) -> SequenceRow | None:
        """Lock one sequence with work due; other replicas skip it (FOR UPDATE SKIP LOCKED). One in a round
        is worked by lanes (rounds.py) until the round closes."""
        r = await c.fetchrow(
            f"SELECT * FROM {self.s}.sequences WHERE wake_at <= $1 AND round_to IS NULL ORDER BY wake_at LIMIT 1 "
            "FOR UPDATE SKIP LOCKED",
            now,
        )
        return None if r is None else sequence_row(r)

    async def save_sequence(
        self, c: asyncpg.Connection, sequence_id: str, state: SequenceState, advanced_to: datetime,
        wake_at: datetime | None, inputs: int,
    ) -> None:  # fmt: skip
        await c.execute(
            f"UPDATE {self.s}.sequences SET state = $2, advanced_to = $3, wake_at = $4, ended = $5, "
            "inputs_applied = inputs_applied + $6 WHERE id = $1",
            sequence_id, state_json(state), advanced_to, wake_at, state.ended_at is not None, inputs,
        )  # fmt: skip

    async def save_edits(
        self,
        c: asyncpg.Connection,
        sequence_id: str,
        template: dict[str, Any] | None,
        activation: dict[str, Any] | None,
    ) -> None:
        """The sequence's own copy after Edit Branches / Edit Sequence (NULL keeps the current one)."""
        await c.execute(
            f"UPDATE {self.s}.sequences SET template = COALESCE($2::jsonb, template), "
            "activation = COALESCE($3::jsonb, activation) WHERE id = $1",
            sequence_id, json.dumps(template) if template else None, json.dumps(activation) if activation else None,
        )  # fmt: skip

    async def wake(self, c: asyncpg.Connection, sequence_id: str, at: datetime) -> None:
        await self.wake_all(c, {sequence_id: at})

    async def wake_all(self, c: asyncpg.Connection, wakes: dict[str, datetime]) -> None:
        """Wake each sequence by its instant. A row already due that early is left alone, so intake does not
        queue behind a tick that holds the row (a stream of inputs for a busy sequence)."""
        if wakes:
            await c.execute(
                f"UPDATE {self.s}.sequences s SET wake_at = w.at FROM unnest($1::text[], $2::timestamptz[]) "
                "AS w(id, at) WHERE s.id = w.id AND s.started AND s.error IS NULL AND s.round_to IS NULL "
                "AND (s.wake_at IS NULL OR s.wake_at > w.at)",
                list(wakes), list(wakes.values()),
            )  # fmt: skip

    async def wake_for_inbox(self, c: asyncpg.Connection) -> int:
        """Wake every sequence whose inbox holds an input earlier than its wake (or that sleeps): intake leaves
        a row that is already due alone (`wake_all`), and a tick that holds that row and read the inbox before
        the input committed then sets its wake without it; this finds such an input on the next tick loop.
        Rows a tick holds now are skipped (it or the next loop sees them), and so are the user actions a paused
        sequence keeps for its resume (HELD_WHILE_PAUSED). Returns how many were woken."""
        def waiting(seq: str) -> str:  # an input of sequence `seq` that its tick would take
            return (f"i.sequence_id = {seq}.id AND NOT (coalesce(({seq}.state->>'paused')::bool, false) "
                    "AND i.input->>'type' = ANY($1::text[]))")  # fmt: skip

        status = await c.execute(
            f"UPDATE {self.s}.sequences s SET wake_at = (SELECT min(i.at) FROM {self.s}.inbox i WHERE {waiting('s')}) "
            f"WHERE s.id IN (SELECT q.id FROM {self.s}.sequences q WHERE q.started AND q.error IS NULL "
            "AND q.round_to IS NULL AND EXISTS "
            f"(SELECT 1 FROM {self.s}.inbox i WHERE {waiting('q')} AND (q.wake_at IS NULL OR i.at < q.wake_at)) "
            "FOR UPDATE SKIP LOCKED)",
            list(HELD_WHILE_PAUSED),
        )  # fmt: skip
        return int(status.split()[-1])

    async def quarantine(self, c: asyncpg.Connection, sequence_id: str, reason: str) -> None:
        """Set the sequence aside: never woken again until an operator clears `error`."""
        await c.execute(
            f"UPDATE {self.s}.sequences SET error = $2, wake_at = NULL WHERE id = $1", sequence_id, reason[:2000]
        )

    async def quarantined_count(self, c: asyncpg.Connection) -> int:
        return int(await c.fetchval(f"SELECT count(*) FROM {self.s}.sequences WHERE error IS NOT NULL"))

    # ---- inbox / outbox -------------------------------------------------------------------
    async def add_input(self, c: asyncpg.Connection, sequence_id: str, event_id: str, inp: Input) -> None:
        await self.add_inputs(c, [(sequence_id, event_id, inp)])

    async def add_inputs(self, c: asyncpg.Connection, rows: list[tuple[str, str, Input]]) -> None:
        """Inbox rows (sequence, event id, input) in this order, a redelivered event adding nothing; each
        sequence is woken by its earliest new input. Two statements for the whole batch."""
        if not rows:
            return
        await c.execute(
            f"INSERT INTO {self.s}.inbox (sequence_id, event_id, at, input) SELECT s, e, a, i "
            "FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::jsonb[]) WITH ORDINALITY AS r(s, e, a, i, n) "
            "ORDER BY n ON CONFLICT (sequence_id, event_id) DO NOTHING",
            [r[0] for r in rows], [r[1] for r in rows], [r[2].at for r in rows], [input_json(r[2]) for r in rows],
        )  # fmt: skip
        wakes: dict[str, datetime] = {}
        for sequence_id, _, inp in rows:
            wakes[sequence_id] = min(inp.at, wakes.get(sequence_id, inp.at))
        await self.wake_all(c, wakes)

    async def take_inputs(
        self, c: asyncpg.Connection, sequence_id: str, upto: datetime, most: int | None = None,
        keep: Iterable[str] = (),
    ) -> tuple[list[dict[str, Any]], bool]:  # fmt: skip
        """The inbox up to `upto` (later inputs stay for a later tick) in (instant, arrival) order, at most
        `most` of them (the index walks no further), inputs of the types in `keep` left where they are; and
        whether more up to `upto` remain."""
        rows = await c.fetch(
            f"WITH head AS (SELECT id, row_number() OVER (ORDER BY at, id) AS n FROM {self.s}.inbox "
            "WHERE sequence_id = $1 AND at <= $2 AND NOT (input->>'type' = ANY($5::text[])) ORDER BY at, id "
            f"LIMIT $3), gone AS (DELETE FROM {self.s}.inbox WHERE id IN (SELECT id FROM head WHERE $4::bigint IS NULL "
            "OR n <= $4) RETURNING id, at, input) "
            "SELECT id, at, input, (SELECT count(*) FROM head) AS seen FROM gone",
            sequence_id, upto, most + 1 if most is not None else None, most, list(keep),
        )  # fmt: skip
        ordered = sorted(rows, key=lambda r: (r["at"], r["id"]))
        more = most is not None and bool(rows) and rows[0]["seen"] > most
        return [json.loads(r["input"]) for r in ordered], more

    async def inbox_holds(self, c: asyncpg.Connection, sequence_id: str, upto: datetime, types: Iterable[str]) -> bool:
        """Whether the inbox holds an input of these types up to `upto`."""
        return bool(await c.fetchval(
            f"SELECT EXISTS (SELECT 1 FROM {self.s}.inbox WHERE sequence_id = $1 AND at <= $2 "
            "AND input->>'type' = ANY($3::text[]))",
            sequence_id, upto, list(types),
        ))  # fmt: skip

    async def add_outbox(self, c: asyncpg.Connection, rows: list[tuple[str, str, bytes]]) -> None:
        if rows:
            await c.executemany(
                f"INSERT INTO {self.s}.outbox (topic, key, value, part) VALUES ($1, $2, $3, $4)",
                [(topic, key, value, outbox_part(key)) for topic, key, value in rows],
            )  # fmt: skip

    async def lock_outbox_parts(self, c: asyncpg.Connection, most: int) -> list[int]:
        """Up to `most` partitions with messages that no other replica is draining, locked until the
        transaction ends; tried in a random order so replicas spread over the partitions."""
        waiting = [r["p"] for r in await c.fetch(  # an index probe a partition, not a scan of the outbox
            f"SELECT p FROM generate_series(0, $1 - 1) AS p "
            f"WHERE EXISTS (SELECT 1 FROM {self.s}.outbox WHERE part = p)",
            OUTBOX_PARTS,
        )]  # fmt: skip
        random.shuffle(waiting)
        rows = await c.fetch(
            "SELECT p FROM unnest($2::int[]) AS p WHERE pg_try_advisory_xact_lock(hashtext($1), p) LIMIT $3",
            f"{self.s}.outbox", waiting, most,
        )  # fmt: skip
        return [r["p"] for r in rows]

    async def take_outbox(self, c: asyncpg.Connection, parts: list[int], limit: int) -> list[asyncpg.Record]:
        """The oldest messages of these (locked) partitions, removed; in id order, which within one key is
        the order its ticks committed (one sequence ticks on one replica at a time)."""
        rows = await c.fetch(
            f"DELETE FROM {self.s}.outbox WHERE id IN (SELECT id FROM {self.s}.outbox WHERE part = ANY($1::int[]) "
            "ORDER BY id LIMIT $2) RETURNING id, topic, key, value",
            parts, limit,
        )  # fmt: skip
        return sorted(rows, key=lambda r: r["id"])
