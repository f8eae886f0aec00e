"""Two scheduler and two dispatcher replicas share one rate-limited sequence without breaking the limit.

60 contacts go through auto_email → auto_sms with email limited to 10 and SMS to 15 per hour, in a
08:00–17:00 New York window. The file clock moves 20 minutes at a time from T0 (Tue 09:00 New York);
after each step the test waits until the scheduler has caught up (nothing due, inbox and outbox empty)
and the dispatcher ledger holds exactly the sends the simulator (`seqflow.rules.simulate.run`, the same
engine) grants up to that instant. At the end every contact got both messages exactly once, no
(t − per, t] interval holds more than `count` sends of a channel, and both replicas of each service
were alive throughout.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families
from support.api import eventually
from support.kafka import wait_for
from support.observe import (
    activate_once_copied,
    clocked_stack,
    ledger,
    published,
    scheduler_caught_up,
    simulated_sends,
    sms_received,
    watching,
)

from seqflow.clock import set_file_clock
from seqflow.rules.ratelimit import window_violations
from seqflow.stack import Stack

T0 = datetime.fromisoformat("2026-12-01T14:00:00+00:00")  # Tue 09:00 in New York
STEP = timedelta(minutes=20)
N = 60
LIMITS = {"email": {"count": 10, "per": "PT1H"}, "sms": {"count": 15, "per": "PT1H"}}
TEMPLATE: dict[str, Any] = {
    "name": "Scale", "owner": "alice", "branches": [{"key": "main", "steps": [
        {"key": "intro", "type": "auto_email",
         "email": {"from_alias": "alice@agency.example", "subject": "Hi {{first_name}}", "body": "Hello"}},
        {"key": "bump", "type": "auto_sms", "sms": {"body": "Hi {{first_name}}"}}]}],
}  # fmt: skip
ACTIVATION: dict[str, Any] = {
    "name": "Scale Q4", "begin": "2026-12-01", "timezone": "America/New_York",
    "send_days": ["mon", "tue", "wed", "thu", "fri"], "send_window": {"start": "08:00", "stop": "17:00"},
    "primary_user": "alice", "rate_limits": LIMITS,
}  # fmt: skip
CONTACTS = [
    {"id": f"c{i:02d}", "first_name": f"N{i:02d}", "last_name": "Scale", "email": f"n{i:02d}@x.example",
     "phone": f"+1555{i:07d}"}
    for i in range(N)
]  # fmt: skip


@pytest.fixture
def stack(tmp_path: Path, pg_dsn: str, clock_file: Path) -> Iterator[Stack]:
    with clocked_stack(tmp_path, pg_dsn, clock_file, replicas={"scheduler": 2, "dispatcher": 2}) as s:
        yield s


def expected_sends(until: datetime) -> list[tuple[datetime, str, str]]:
    """(at, contact, channel) of every send the engine grants up to `until`, by the simulator."""
    return simulated_sends(TEMPLATE, ACTIVATION, CONTACTS, T0, until)


async def sends_total(http: aiohttp.ClientSession, port: int) -> dict[tuple[str, str], float]:
    async with http.get(f"http://127.0.0.1:{port}/metrics") as r:
        text = await r.text()
    return {(s.labels["channel"], s.labels["status"]): s.value for f in text_string_to_metric_families(text)
            if f.name == "seqflow_sends" for s in f.samples if s.name == "seqflow_sends_total"}  # fmt: skip


async def test_two_replicas_of_each_service_send_everything_once_within_the_rate_limits(
    stack: Stack, clock_file: Path
) -> None:
    final = expected_sends(T0 + timedelta(days=1))
    assert len(final) == 2 * N  # the scenario finishes within the day (6 hours of email at 10 per hour)
    prefix = stack.schema_prefix
    async with watching(stack) as (http, conn, sends):
        await activate_once_copied(http, stack, conn, TEMPLATE, ACTIVATION, CONTACTS)
        await eventually(lambda: conn.fetchval(f"SELECT count(*) FROM {prefix}scheduler.enrollments"),
                         lambda n: n == N, f"{N} enrollments")  # fmt: skip

        now = T0
        while True:
            want = expected_sends(now)
            n = len(want)
            await eventually(lambda now=now: scheduler_caught_up(conn, prefix, now), bool,
                             f"scheduler caught up at {now:%H:%M}Z", 30)  # fmt: skip
            await eventually(lambda: ledger(conn, prefix),
                             lambda rows, n=n: len(rows) == n and all(r["status"] == "sent" for r in rows),
                             f"{n} sends in the ledger at {now:%H:%M}Z", 30)  # fmt: skip
            for service in ("scheduler", "dispatcher"):
                assert stack.alive(service, 0) and stack.alive(service, 1), f"a {service} replica died"
            if len(want) == 2 * N:
                break
            now += STEP
            set_file_clock(clock_file, now)

        # The scheduled instants, as the scheduler published them, match the engine exactly.
        await wait_for(lambda: len(sends.of("send_requested")) >= 2 * N, 30, "every send_requested read back")
        requested = sends.of("send_requested")
        keys = [e.payload["idempotency_key"] for e in requested]
        assert len(set(keys)) == 2 * N  # nothing published twice (scheduler replicas did not double up)
        got = published(sends)
        if got != sorted(final):
            for a, b in zip(got, sorted(final), strict=True):
                print(
                    a[0].strftime("%H:%M"),
                    a[1],
                    a[2],
                    "|",
                    b[0].strftime("%H:%M"),
                    b[1],
                    b[2],
                    "" if a == b else "<<",
                )
        assert got == sorted(final)

        for channel, limit in LIMITS.items():
            times = [at for at, _, ch in got if ch == channel]
            assert len(times) == N
            assert window_violations(times, limit["count"], 3600) == [], channel

        rows = await ledger(conn, prefix)
        assert len(rows) == len({r["idempotency_key"] for r in rows}) == 2 * N
        assert {r["status"] for r in rows} == {"sent"} and set(keys) == {r["idempotency_key"] for r in rows}

        mail = stack.sent_mail()
        assert len(mail) == N and len({m["message_id"] for m in mail}) == N
        assert {m["to"] for m in mail} == {c["email"] for c in CONTACTS}
        sms = await sms_received(http, stack)
        assert len(sms) == N and {m["to"] for m in sms} == {c["phone"] for c in CONTACTS}

        # Which dispatcher sent what depends on the partition assignment (4 partitions of due-sends
        # between two members), which may legitimately be uneven: assert on the sum.
        per_replica = [await sends_total(http, stack.ports[f"dispatcher-{i}"]) for i in (0, 1)]
        for channel in ("email", "sms"):
            assert sum(m.get((channel, "sent"), 0) for m in per_replica) == N, per_replica
        for service in ("scheduler", "dispatcher"):
            assert stack.alive(service, 0) and stack.alive(service, 1), f"a {service} replica died"
