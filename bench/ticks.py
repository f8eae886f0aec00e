"""Benchmark: what one scheduler tick costs as a rate-limited sequence grows (issue 7.1), in-process.

N contacts enter a one-step auto_email sequence limited to 2 emails per second; the scheduler's own tick
(`seqflow_scheduler.tick.tick_one`, on PostgreSQL, no broker) is then run once per simulated second. Prints
the entry tick, the median and p95 steady tick and the process's RSS growth, and with --profile the top
functions of the steady ticks (cProfile). The tick should cost what is due (2 sends), not what exists.
Usage: .venv/bin/python bench/ticks.py [--contacts 20000] [--ticks 60] [--profile]
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import pstats
import resource
import statistics
import time
import uuid
from datetime import UTC, datetime, timedelta

import asyncpg

from seqflow.db.migrate import drop_schemas, ensure_database, migrate_all
from seqflow.messaging.base import ContactData, UserRef
from seqflow.messaging.envelope import Envelope
from seqflow.messaging.lifecycle import SequenceActivated
from seqflow.messaging.rollup import MemberAdded
from seqflow.messaging.topics import Topics
from seqflow_scheduler.db import SchedulerDb
from seqflow_scheduler.intake import on_activated, on_member_added
from seqflow_scheduler.tick import tick_one

DSN = "postgresql://postgres@127.0.0.1:5432/seqflow_bench"
T0 = datetime(2026, 12, 1, 14, 0, tzinfo=UTC)
TEMPLATE = {"name": "bench", "owner": "alice", "branches": [{"key": "main", "steps": [
    {"key": "intro", "type": "auto_email",
     "email": {"from_alias": "alice@agency.example", "subject": "Hi {{first_name}}", "body": "Hello"}}]}]}  # fmt: skip
ACTIVATION = {"name": "bench", "begin": "2026-12-01", "timezone": "UTC", "primary_user": "alice",
              "rate_limits": {"email": {"count": 2, "per": "PT1S"}}}  # fmt: skip


async def activate(conn: asyncpg.Connection, db: SchedulerDb, n: int) -> None:
    async with conn.transaction():
        for i in range(n):
            c = ContactData(id=f"c{i:06d}", first_name=f"P{i}", email=f"p{i}@x.example")
            p = MemberAdded(rollup_id="r1", contact=c, at=T0)
            await on_member_added(conn, db, Envelope.wrap("member_added", c.id, p, T0), p)
        user = UserRef(id="alice", name="Alice", email="alice@agency.example")
        act = SequenceActivated(sequence_id="s1", name="bench", rollup_id="r1", template=TEMPLATE,
                                activation=ACTIVATION, primary_user=user, activated_at=T0,
                                roster=[f"c{i:06d}" for i in range(n)])  # fmt: skip
        await on_activated(conn, db, Envelope.wrap("sequence_activated", "s1", act, T0), act)


async def tick(conn: asyncpg.Connection, db: SchedulerDb, now: datetime) -> float:
    started = time.perf_counter()
    while True:
        async with conn.transaction():
            if await tick_one(conn, db, Topics(), "+15550000", now) is None:
                break
    await conn.execute(f"DELETE FROM {db.s}.outbox")  # the publisher's part, not measured here
    return time.perf_counter() - started


async def bench(n: int, ticks: int, profile: bool) -> None:
    await ensure_database(DSN)
    prefix = f"bt{uuid.uuid4().hex[:8]}_"
    await migrate_all(DSN, schema_prefix=prefix)
    conn = await asyncpg.connect(DSN)
    try:
        db = SchedulerDb(f"{prefix}scheduler")
        await activate(conn, db, n)
        entry = await tick(conn, db, T0)
        rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        prof = cProfile.Profile() if profile else None
        times = []
        for s in range(1, ticks + 1):
            if prof:
                prof.enable()
            times.append(await tick(conn, db, T0 + timedelta(seconds=s)))
            if prof:
                prof.disable()
        rss1 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        q = statistics.quantiles(times, n=20)
        print(f"contacts={n} entry_tick_s={entry:.2f} steady_tick_ms p50={q[9] * 1000:.1f} p95={q[18] * 1000:.1f} "
              f"rss_growth_mib={(rss1 - rss0) / 1024:.1f} peak_rss_mib={rss1 / 1024:.0f}")  # fmt: skip
        if prof:
            out = io.StringIO()
            pstats.Stats(prof, stream=out).sort_stats("tottime").print_stats(8)
            print(out.getvalue())
    finally:
        await conn.close()
        await drop_schemas(DSN, prefix)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--contacts", type=int, default=20000)
    parser.add_argument("--ticks", type=int, default=60)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    asyncio.run(bench(args.contacts, args.ticks, args.profile))


if __name__ == "__main__":
    main()
