"""Benchmark: a big rate-limited sequence trickling out, as the live services run it (issue 7.1).

N contacts enter a one-step auto_email sequence limited to `--rate` (count/ISO duration, e.g. 2/PT1S).
It prints when every contact was enrolled and when the sends caught up. A limited sequence whose sends
cannot all go at the activation instant waits for its whole roster (the slots go in (due, contact)
order), so the first sends are granted at instants already past: the ticks that follow the roster catch
up, late by about the roster's import time (start_lateness_max_s, to a histogram bucket). Once the
scheduler has emitted what the limit granted since the activation (less one second's worth), it
measures over `--window` seconds: the scheduler's CPU share of one core, its RSS (now and peak), and the
p99 of `seqflow_due_lateness_seconds` (from the histogram's change over the window) — what a growing
sequence must not make worse.
Usage: .venv/bin/python bench/trickle.py [--contacts 20000] [--rate 2/PT1S] [--window 30]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

import aiohttp
import asyncpg
from live import BENCH_DB, call, prepare
from procstats import cpu_seconds, groups, histogram_quantile, metric, peak_rss_mib

from seqflow.domain.activation import RateLimit
from seqflow.stack import Stack

LATENESS = "seqflow_due_lateness_seconds_bucket"


async def lateness_buckets(http: aiohttp.ClientSession, port: int) -> dict[float, float]:
    samples = await metric(http, port, LATENESS)
    return {float(dict(labels)["le"]): v for labels, v in samples.items()}


def current_rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status") as fh:
        line = next(x for x in fh if x.startswith("VmRSS:"))
    return int(line.split()[1]) / 1024


async def enrolled(stack: Stack, n: int, limit: float) -> float:
    """Seconds until the scheduler holds all n enrollments."""
    conn, started = await asyncpg.connect(stack.dsn), time.monotonic()
    try:
        sql = f"SELECT count(*) FROM {stack.schema_prefix}scheduler.enrollments"
        while await conn.fetchval(sql) < n and time.monotonic() - started < limit:  # noqa: ASYNC110 - polls a DB
            await asyncio.sleep(1)
    finally:
        await conn.close()
    return time.monotonic() - started


async def caught_up(http: aiohttp.ClientSession, port: int, rate: float, since: float, limit: float) -> float:
    """Seconds until the scheduler has emitted the emails the limit granted since the activation (less one
    second's worth): the catch-up after the roster is over and sends flow at the rate (bounded)."""
    started = time.monotonic()
    while time.monotonic() - started < limit:
        actions = await metric(http, port, "seqflow_engine_actions_total")
        emitted = actions.get((("action", "email_sent"),), 0.0)
        if emitted >= rate * (time.monotonic() - since - 1):
            break
        await asyncio.sleep(0.5)
    return time.monotonic() - started


def upper_bound(buckets: dict[float, float]) -> float:
    """The smallest bucket bound that holds every observation (cumulative buckets): a maximum, to a bucket."""
    total = max(buckets.values(), default=0.0)
    return min((le for le, count in buckets.items() if count >= total), default=0.0) if total else 0.0


async def drive(stack: Stack, n: int, rate: str, window: float) -> None:
    await stack.wait_ready()
    count, per = rate.split("/", 1)
    async with aiohttp.ClientSession() as http:
        tok, body = await prepare(http, stack, n, ["email"])
        body["rate_limits"] = {"email": {"count": int(count), "per": per}}
        activated = time.monotonic()
        await call(http, stack.api, tok, "POST", "/sequences", body)
        print(f"enrolled_after_s={await enrolled(stack, n, 900):.1f}")
        limit = RateLimit.model_validate({"count": int(count), "per": per})
        port, pid = stack.ports["scheduler-0"], groups(stack)["scheduler-0"][0]
        await caught_up(http, port, limit.count / limit.per_seconds, activated, 900)
        before, cpu0, t0 = await lateness_buckets(http, port), cpu_seconds(pid), time.monotonic()
        print(f"caught_up_after_s={t0 - activated:.1f} start_lateness_max_s={upper_bound(before):g}")
        await asyncio.sleep(window)  # a measurement window, not a wait for a condition
        after, cpu1, t1 = await lateness_buckets(http, port), cpu_seconds(pid), time.monotonic()
    delta = {le: after[le] - before.get(le, 0.0) for le in after}
    print(f"contacts={n} rate={rate} window_s={t1 - t0:.0f} scheduler_cpu_pct={100 * (cpu1 - cpu0) / (t1 - t0):.1f} "
          f"scheduler_rss_mib={current_rss_mib(pid):.0f} scheduler_peak_rss_mib={peak_rss_mib(pid):.0f} "
          f"due_lateness_p99_s={histogram_quantile(delta, 0.99):.2f} due_work={max(delta.values(), default=0):.0f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--contacts", type=int, default=20000)
    parser.add_argument("--rate", default="2/PT1S", help="count/ISO-8601 duration")
    parser.add_argument("--window", type=float, default=30.0)
    args = parser.parse_args()
    with Stack(Path(tempfile.mkdtemp(prefix="seqflow-trickle-")), database_url=BENCH_DB,
               schema_prefix=f"trickle{int(time.time())}_", drop_schemas_on_close=True) as stack:  # fmt: skip
        asyncio.run(drive(stack, args.contacts, args.rate, args.window))


if __name__ == "__main__":
    main()
