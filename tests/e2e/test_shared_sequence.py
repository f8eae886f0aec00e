"""Two scheduler replicas work on one big sequence without rate limits at the same time (issue 7.2).

400 contacts go through auto_email → auto_sms (an hour later) in an 08:00–17:00 New York window, with
`SEQFLOW_SCHEDULER_SLICE=10`, so the entry and the hour-later SMS are each far more than one slice: the
scheduler opens a round and both replicas run its lanes. The file clock moves from T0 (Tue 09:00 New York)
to an hour later; after each step the test waits until the scheduler has caught up (no open round, nothing
due, inbox and outbox empty). Every send the scheduler published is the simulator's, at the simulator's
instant, once; every contact got each message once; both replicas ran lane slices.
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
from seqflow.stack import Stack

T0 = datetime.fromisoformat("2026-12-01T14:00:00+00:00")  # Tue 09:00 in New York
N = 400
TEMPLATE: dict[str, Any] = {
    "name": "Shared", "owner": "alice", "branches": [{"key": "main", "steps": [
        {"key": "intro", "type": "auto_email",
         "email": {"from_alias": "alice@agency.example", "subject": "Hi {{first_name}}", "body": "Hello"}},
        {"key": "bump", "type": "auto_sms", "delay": "PT1H", "sms": {"body": "Hi {{first_name}}"}}]}],
}  # fmt: skip
ACTIVATION: dict[str, Any] = {
    "name": "Shared Q4", "begin": "2026-12-01", "timezone": "America/New_York",
    "send_days": ["mon", "tue", "wed", "thu", "fri"], "send_window": {"start": "08:00", "stop": "17:00"},
    "primary_user": "alice",
}  # fmt: skip
CONTACTS = [
    {"id": f"s{i:03d}", "first_name": f"S{i:03d}", "email": f"s{i:03d}@x.example", "phone": f"+1556{i:07d}"}
    for i in range(N)
]  # fmt: skip


@pytest.fixture
def stack(tmp_path: Path, pg_dsn: str, clock_file: Path) -> Iterator[Stack]:
    slices_of_ten = {"SEQFLOW_SCHEDULER_SLICE": "10"}
    with clocked_stack(tmp_path, pg_dsn, clock_file, replicas={"scheduler": 2}, env=slices_of_ten) as s:
        yield s


def expected_sends(until: datetime) -> list[tuple[datetime, str, str]]:
    return simulated_sends(TEMPLATE, ACTIVATION, CONTACTS, T0, until)


async def lane_slices(http: aiohttp.ClientSession, port: int) -> float:
    async with http.get(f"http://127.0.0.1:{port}/metrics") as r:
        text = await r.text()
    samples = [s for f in text_string_to_metric_families(text) if f.name == "seqflow_round_work" for s in f.samples]
    return sum(s.value for s in samples if s.name == "seqflow_round_work_total" and s.labels.get("kind") == "lane")


async def test_two_scheduler_replicas_share_one_big_sequence_and_send_exactly_what_the_simulator_sends(
    stack: Stack, clock_file: Path
) -> None:
    prefix = stack.schema_prefix
    async with watching(stack) as (http, conn, sends):
        await activate_once_copied(http, stack, conn, TEMPLATE, ACTIVATION, CONTACTS)
        for now, n in ((T0, N), (T0 + timedelta(hours=1), 2 * N)):
            set_file_clock(clock_file, now)
            await eventually(lambda now=now: scheduler_caught_up(conn, prefix, now), bool,
                             f"scheduler caught up at {now:%H:%M}Z", 60)  # fmt: skip
            await eventually(lambda: ledger(conn, prefix),
                             lambda rows, n=n: len(rows) == n and all(r["status"] == "sent" for r in rows),
                             f"{n} sends in the ledger at {now:%H:%M}Z", 60)  # fmt: skip

        await wait_for(lambda: len(sends.of("send_requested")) >= 2 * N, 30, "every send_requested read back")
        keys = [e.payload["idempotency_key"] for e in sends.of("send_requested")]
        assert len(keys) == len(set(keys)) == 2 * N  # nothing published twice
        assert published(sends) == expected_sends(T0 + timedelta(hours=1))
        mail = stack.sent_mail()
        assert len(mail) == N and len({m["message_id"] for m in mail}) == N
        assert {m["to"] for m in mail} == {c["email"] for c in CONTACTS}
        sms = await sms_received(http, stack)
        assert len(sms) == N and {m["to"] for m in sms} == {c["phone"] for c in CONTACTS}

        per_replica = [await lane_slices(http, stack.ports[f"scheduler-{i}"]) for i in (0, 1)]
        assert all(n > 0 for n in per_replica), per_replica  # both replicas ran lanes of the one sequence
        assert await conn.fetchval(f"SELECT count(*) FROM {prefix}scheduler.round_lanes") == 0
