"""Durable time: a service SIGKILLed while work is pending loses and doubles nothing after a restart.

Ten contacts go through auto_email (no_condition_met within P2D → next) → P1D → auto_sms, email limited
to 4 per hour, from T0 = Tue 09:00 New York: emails at 09:00 (4), 10:00 (4) and 11:00 (2), the deadlines
on Thursday and the SMS on Friday at the same wall times. A service is killed while the work is pending,
the file clock is moved past every due time while it is down, and it is started again. Every send must
then happen once, at the instant the simulator (`seqflow.rules.simulate.run`, the live engine) gives it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
from support.api import eventually
from support.kafka import Collector, wait_for
from support.observe import (
    Send,
    activate_once_copied,
    ledger,
    published,
    scheduler_caught_up,
    simulated_sends,
    sms_received,
    watching,
)

from seqflow.clock import set_file_clock
from seqflow.stack import Stack

T0 = datetime.fromisoformat("2026-12-01T14:00:00+00:00")  # Tue 09:00 in New York
N = 10
TEMPLATE: dict[str, Any] = {
    "name": "Durable", "owner": "alice", "branches": [{"key": "main", "steps": [
        {"key": "intro", "type": "auto_email",
         "email": {"from_alias": "alice@agency.example", "subject": "Hi {{first_name}}", "body": "Hello"},
         "conditions": [{"when": "replied", "then": {"exit": "replied"}},
                        {"when": "no_condition_met", "within": "P2D", "then": {"next": True}}]},
        {"key": "bump", "type": "auto_sms", "delay": "P1D", "sms": {"body": "Hi {{first_name}}"}}]}],
}  # fmt: skip
ACTIVATION: dict[str, Any] = {
    "name": "Durable Q4", "begin": "2026-12-01", "timezone": "America/New_York",
    "send_days": ["mon", "tue", "wed", "thu", "fri"], "send_window": {"start": "08:00", "stop": "17:00"},
    "primary_user": "alice", "rate_limits": {"email": {"count": 4, "per": "PT1H"}},
}  # fmt: skip
CONTACTS = [
    {"id": f"c{i:02d}", "first_name": f"N{i:02d}", "email": f"n{i:02d}@x.example", "phone": f"+1555{i:07d}"}
    for i in range(N)
]  # fmt: skip
IN_THE_DELAY = T0 + timedelta(days=1)  # Wed 09:00: every email sent, every deadline pending
PAST_ALL = datetime.fromisoformat("2026-12-04T17:00:00+00:00")  # Fri 12:00: every SMS due (14:00Z–16:00Z)


def expected_sends(until: datetime) -> list[Send]:
    """(at, contact, channel) of every send the engine makes up to `until`, by the simulator."""
    return simulated_sends(TEMPLATE, ACTIVATION, CONTACTS, T0, until)


async def sent_rows(conn: asyncpg.Connection, prefix: str, n: int, what: str, limit: float = 60) -> None:
    await eventually(lambda: ledger(conn, prefix),
                     lambda rows: len(rows) == n and all(r["status"] == "sent" for r in rows), what, limit)  # fmt: skip


async def sent_count(conn: asyncpg.Connection, prefix: str, n: int, what: str) -> None:
    """At least `n` ledger rows sent (a paced backlog: how many went before the clock jump may vary)."""
    await eventually(lambda: ledger(conn, prefix), lambda rows: [r["status"] for r in rows].count("sent") >= n, what)


async def assert_each_send_once(http: aiohttp.ClientSession, stack: Stack, conn: asyncpg.Connection,
                                sends: Collector) -> None:  # fmt: skip
    want = expected_sends(PAST_ALL)
    assert len(want) == 2 * N
    await wait_for(lambda: len(sends.of("send_requested")) >= 2 * N, 30, "every send_requested read back")
    got = published(sends)
    assert got == want  # every send published once, at the simulator's instant
    rows = await ledger(conn, stack.schema_prefix)
    assert len(rows) == 2 * N and {r["status"] for r in rows} == {"sent"}
    assert {r["idempotency_key"] for r in rows} == {e.payload["idempotency_key"] for e in sends.of("send_requested")}
    mail = stack.sent_mail()
    assert len(mail) == N and len({m["message_id"] for m in mail}) == N
    assert {m["to"] for m in mail} == {c["email"] for c in CONTACTS}
    sms = await sms_received(http, stack)
    assert len(sms) == N and {m["to"] for m in sms} == {c["phone"] for c in CONTACTS}


@asynccontextmanager
async def activated(stack: Stack) -> AsyncIterator[tuple[aiohttp.ClientSession, asyncpg.Connection, Collector]]:
    """The stack ready and watched (see `watching`), with the sequence activated on its ten contacts."""
    async with watching(stack) as (http, conn, sends):
        await activate_once_copied(http, stack, conn, TEMPLATE, ACTIVATION, CONTACTS)
        yield http, conn, sends


async def test_a_scheduler_killed_in_a_delay_sends_what_fell_due_once_at_its_instant_after_restart(
    stack: Stack, clock_file: Path
) -> None:
    prefix = stack.schema_prefix
    async with activated(stack) as (http, conn, sends):
        set_file_clock(clock_file, IN_THE_DELAY)  # the ten emails fall due at once: a backlog
        await eventually(lambda: scheduler_caught_up(conn, prefix, IN_THE_DELAY), bool, "scheduler caught up")
        # The limit holds at the provider: the backlog goes out 4 an hour (the rules' instants are unchanged).
        for hour, n in ((0, 4), (1, 8), (2, N)):
            set_file_clock(clock_file, IN_THE_DELAY + timedelta(hours=hour))
            await sent_count(conn, prefix, n, f"{n} emails sent {hour} h after the jump")
        await sent_rows(conn, prefix, N, "the emails sent")
        assert published(sends) == expected_sends(IN_THE_DELAY)

        stack.kill("scheduler")
        set_file_clock(clock_file, PAST_ALL)  # deadlines (Thu) and SMS (Fri) fall due while it is down
        due = f"SELECT count(*) FROM {prefix}scheduler.sequences WHERE wake_at <= $1"
        assert await conn.fetchval(due, PAST_ALL) == 1  # the pending work is in PostgreSQL, not memory
        stack.restart("scheduler")
        await stack.wait_ready()

        await eventually(lambda: scheduler_caught_up(conn, prefix, PAST_ALL), bool, "restarted scheduler caught up")
        await sent_rows(conn, prefix, 2 * N, "every SMS sent after the restart")
        await assert_each_send_once(http, stack, conn, sends)


async def test_a_dispatcher_killed_with_sends_pending_sends_each_once_after_restart(
    stack: Stack, clock_file: Path
) -> None:
    prefix = stack.schema_prefix
    async with activated(stack) as (http, conn, sends):
        # Kill it right after the first four emails: its consumer offsets are most likely not committed
        # yet, so the restarted dispatcher sees those requests again and must not send them twice.
        await sent_rows(conn, prefix, 4, "the first four emails sent")
        stack.kill("dispatcher")

        set_file_clock(clock_file, PAST_ALL)  # the other emails, the deadlines and the SMS fall due
        await eventually(lambda: scheduler_caught_up(conn, prefix, PAST_ALL), bool, "scheduler caught up")
        await wait_for(lambda: len(sends.of("send_requested")) == 2 * N, 30, "every send requested")
        assert len(await ledger(conn, prefix)) == 4  # nothing was sent while the dispatcher was down
        stack.restart("dispatcher")
        await stack.wait_ready()

        # The six emails left are a backlog at 4 an hour: four go out now, two an hour later (the limit
        # holds at the provider), the SMS (no limit) at once.
        await sent_count(conn, prefix, 2 * N - 2, "all but at most two sends made after the restart")
        set_file_clock(clock_file, PAST_ALL + timedelta(hours=1))
        await sent_rows(conn, prefix, 2 * N, "every send made after the restart")
        await assert_each_send_once(http, stack, conn, sends)
