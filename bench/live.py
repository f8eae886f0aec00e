"""Benchmark: one sequence through the live services (the embedded stack, separate processes).

N contacts on an automatic sequence with no limits (`--steps email` or `email,sms`) are activated through
the API, with `--replicas` of each service. In one run on the same broker it prints: the raw produce rate
of one aiokafka producer; the end-to-end rate from the activation request to the last message at the
local SMTP/SMS servers, the time to the first message and the latency percentiles; the peak RSS of every
process; the share of sends each scheduler and dispatcher replica handled (and of the lane slices when the
schedulers share the sequence in rounds); the CPU seconds per delivered message of seqflow's processes (services, broker and the PostgreSQL backends of the benchmark database)
with the local SMTP/SMS stubs counted apart; and the ratio of the end-to-end rate to the raw produce rate.
Usage: .venv/bin/python bench/live.py [--contacts 2000] [--replicas scheduler=2,dispatcher=2] [--steps email,sms]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import aiohttp
from aiokafka import AIOKafkaProducer
from procstats import CpuMeter, describe, metric, peaks

from seqflow.stack import Stack

# Its own database, so its backends are ours (SEQFLOW_BENCH_DB: another one, for two benchmarks at once).
BENCH_DB = os.environ.get("SEQFLOW_BENCH_DB", "postgresql://postgres@127.0.0.1:5432/seqflow_bench")
RAW_MESSAGES = 50_000
STEP = {
    "email": {"key": "intro", "type": "auto_email",
              "email": {"from_alias": "alice@agency.example", "subject": "Hi {{first_name}}", "body": "Hello"}},
    "sms": {"key": "text", "type": "auto_sms", "sms": {"body": "Hi {{first_name}}"}},
}  # fmt: skip


def parse_replicas(text: str) -> dict[str, int]:
    pairs = (item.split("=", 1) for item in text.split(",") if item.strip())
    return {name.strip(): int(count) for name, count in pairs}


async def raw_produce_rate(bootstrap: str, n: int = RAW_MESSAGES) -> float:
    """Messages per second one aiokafka producer gets into the broker (200-byte values, acks awaited)."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5)
    await producer.start()
    try:
        value, started = b"x" * 200, time.perf_counter()
        futures = [await producer.send("bench.raw", value, key=str(i % 64).encode()) for i in range(n)]
        await producer.flush()
        await asyncio.gather(*futures)
        return n / (time.perf_counter() - started)
    finally:
        await producer.stop()


async def call(http: aiohttp.ClientSession, base: str, token: str, method: str, path: str, body: Any) -> Any:
    async with http.request(method, base + path, json=body, headers={"Authorization": f"Bearer {token}"}) as r:
        data = await r.json(content_type=None)
        assert r.status < 300, f"{method} {path} → {r.status} {data}"
        return data


async def prepare(
    http: aiohttp.ClientSession, stack: Stack, n: int, steps: list[str]
) -> tuple[str, dict[str, Any]]:
    """The user, template and rollup with n contacts; returns the user's token and the activation body."""
    user = {"id": "alice", "name": "Alice", "email": "alice@agency.example", "permissions": ["sequences:activate"]}
    tok = (await call(http, stack.api, "dev-admin-token", "POST", "/users", user))["token"]
    template = {"name": "bench", "owner": "alice", "branches": [{"key": "main", "steps": [STEP[s] for s in steps]}]}
    tid = (await call(http, stack.api, tok, "POST", "/templates", template))["id"]
    rollup = await call(http, stack.api, tok, "POST", "/rollups", {"name": "bench"})
    contacts = [{"id": f"b{i:06d}", "first_name": f"P{i}", "email": f"p{i}@x.example", "phone": f"+1555{i:07d}"}
                for i in range(n)]  # fmt: skip
    for i in range(0, n, 500):
        batch = {"contacts": contacts[i : i + 500]}
        await call(http, stack.api, tok, "POST", f"/rollups/{rollup['id']}/members", batch)
    return tok, {"name": "bench", "template_id": tid, "rollup_id": rollup["id"], "begin": "2020-01-01",
                 "timezone": "UTC", "primary_user": "alice"}  # fmt: skip


async def arrivals(http: aiohttp.ClientSession, stack: Stack, want: int, limit: float) -> list[float]:
    """Wall times at which messages reached the local SMTP/SMS servers, once `want` arrived (bounded wait)."""
    deadline = time.monotonic() + limit
    while True:
        mail = [m["received_at"] for m in stack.sent_mail() if m.get("received_at")]
        async with http.get(f"{stack.sms_url}/_stub/messages") as r:
            sms = [parsedate_to_datetime(m["date_created"]).timestamp() for m in await r.json()]
        if len(mail) + len(sms) >= want or time.monotonic() > deadline:
            return sorted(mail + sms)
        await asyncio.sleep(0.2)


async def shares(http: aiohttp.ClientSession, stack: Stack, service: str, name: str, match: dict[str, str]) -> str:
    per: dict[str, float] = {}
    for key, port in stack.service_ports().items():
        if key.startswith(f"{service}-"):
            samples = await metric(http, port, name)
            per[key] = sum(v for labels, v in samples.items() if match.items() <= dict(labels).items())
    total = sum(per.values()) or 1.0
    return describe({k: 100 * v / total for k, v in per.items()}, "{:.0f}%")


async def drive(stack: Stack, n: int, steps: list[str], limit: float) -> None:
    await stack.wait_ready()
    assert stack.broker is not None
    raw = await raw_produce_rate(stack.broker.bootstrap)
    print(f"raw_produce_msgs_per_s={raw:,.0f}")
    want = n * len(steps)
    async with aiohttp.ClientSession() as http:
        tok, body = await prepare(http, stack, n, steps)
        meter = CpuMeter(stack)
        await meter.start()
        started = time.time()
        await call(http, stack.api, tok, "POST", "/sequences", body)
        times = await arrivals(http, stack, want, limit)
        cpu = await meter.stop()
        report(n, want, started, times, raw, cpu)
        mail = stack.sent_mail()  # the same email twice would carry the same Message-ID (idempotency key)
        print(f"emails={len(mail)} duplicate_emails={len(mail) - len({m['message_id'] for m in mail})}")
        print("peak_rss_mib", describe(peaks(stack), "{:.0f}"))
        print("scheduler_share", await shares(http, stack, "scheduler", "seqflow_engine_actions_total",
                                              {"action": "email_sent"}))  # fmt: skip
        print("dispatcher_share", await shares(http, stack, "dispatcher", "seqflow_sends_total", {"status": "sent"}))
        print("scheduler_lane_share", await shares(http, stack, "scheduler", "seqflow_round_work_total",
                                                   {"kind": "lane"}))  # fmt: skip


def report(n: int, want: int, started: float, times: list[float], raw: float, cpu: dict[str, float]) -> None:
    if not times:
        print("no message arrived")
        return
    elapsed = max(times[-1] - started, 1e-3)
    rate = len(times) / elapsed
    print(f"contacts={n} messages={len(times)}/{want} seconds={elapsed:.2f} messages_per_s={rate:,.0f} "
          f"first_message_s={times[0] - started:.2f} ratio_to_raw_produce={rate / raw:.4f}")  # fmt: skip
    lat = [max(0.0, t - started) for t in times]
    if len(lat) >= 2:
        q = statistics.quantiles(lat, n=100)
        print(f"latency_s p50={q[49]:.2f} p95={q[94]:.2f} p99={q[98]:.2f} max={max(lat):.2f}")
    stubs = cpu.pop("stubs", 0.0)
    seqflow = sum(cpu.values())
    print(f"cpu_ms_per_message seqflow={1000 * seqflow / len(times):.2f} stubs={1000 * stubs / len(times):.2f}")
    print("cpu_s", describe(cpu, "{:.1f}"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--contacts", type=int, default=2000)
    parser.add_argument("--replicas", default="", help="e.g. scheduler=2,dispatcher=2,rollup-sync=2")
    parser.add_argument("--steps", default="email", help="email, sms or email,sms")
    parser.add_argument("--limit", type=float, default=900.0, help="seconds to wait for the last message")
    args = parser.parse_args()
    steps = [s.strip() for s in args.steps.split(",") if s.strip()]
    with Stack(Path(tempfile.mkdtemp(prefix="seqflow-bench-")), database_url=BENCH_DB,
               schema_prefix=f"bench{int(time.time())}_", replicas=parse_replicas(args.replicas),
               drop_schemas_on_close=True) as stack:  # fmt: skip
        asyncio.run(drive(stack, args.contacts, steps, args.limit))


if __name__ == "__main__":
    main()
