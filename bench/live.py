"""Benchmark: one sequence through the live services (the embedded stack, separate processes).

N contacts on a one-step auto_email sequence with no limits are activated through the API; prints how
long until every email reached the local SMTP server (throughput) and the percentiles of the delay
from the activation instant to each email's arrival at the SMTP server (end-to-end latency).
Usage: .venv/bin/python bench/live.py [--contacts 2000] [--baseline SECONDS]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

from seqflow.stack import Stack

TEMPLATE = {"name": "bench", "owner": "alice", "branches": [{"key": "main", "steps": [
    {"key": "intro", "type": "auto_email",
     "email": {"from_alias": "alice@agency.example", "subject": "Hi {{first_name}}", "body": "Hello"}}]}]}  # fmt: skip


async def call(http: aiohttp.ClientSession, base: str, token: str, method: str, path: str, body: Any) -> Any:
    async with http.request(method, base + path, json=body, headers={"Authorization": f"Bearer {token}"}) as r:
        data = await r.json(content_type=None)
        assert r.status < 300, f"{method} {path} → {r.status} {data}"
        return data


async def drive(stack: Stack, n: int) -> tuple[float, list[float]]:
    await stack.wait_ready()
    async with aiohttp.ClientSession() as http:
        user = {"id": "alice", "name": "Alice", "email": "alice@agency.example",
                "permissions": ["sequences:activate"], "token": "alice-bench-token"}  # fmt: skip
        await call(http, stack.api, "dev-admin-token", "POST", "/users", user)
        tok = "alice-bench-token"
        template = await call(http, stack.api, tok, "POST", "/templates", TEMPLATE)
        rollup = await call(http, stack.api, tok, "POST", "/rollups", {"name": "bench"})
        contacts = [{"id": f"b{i:06d}", "first_name": f"P{i}", "email": f"p{i}@x.example"} for i in range(n)]
        for i in range(0, n, 500):
            await call(
                http, stack.api, tok, "POST", f"/rollups/{rollup['id']}/members", {"contacts": contacts[i : i + 500]}
            )
        started = time.time()
        body = {"name": "bench", "template_id": template["id"], "rollup_id": rollup["id"], "begin": "2020-01-01",
                "timezone": "UTC", "primary_user": "alice"}  # fmt: skip
        await call(http, stack.api, tok, "POST", "/sequences", body)
    mail = await all_mail(stack, n, limit=600.0)
    arrivals = sorted(m.get("received_at", 0.0) for m in mail)
    return time.time() - started, [max(0.0, a - started) for a in arrivals if a]


async def all_mail(stack: Stack, n: int, limit: float) -> list[dict[str, Any]]:
    """The SMTP server's mail once all n arrived; a bounded wait, so the benchmark always ends."""
    deadline = time.monotonic() + limit
    for _ in range(int(limit / 0.2) + 1):
        mail = stack.sent_mail()
        if len(mail) >= n or time.monotonic() > deadline:
            return mail
        await asyncio.sleep(0.2)
    return stack.sent_mail()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--contacts", type=int, default=2000)
    parser.add_argument("--baseline", type=float, help="seconds of a previous run to compare with")
    args = parser.parse_args()
    with Stack(Path(tempfile.mkdtemp(prefix="seqflow-bench-")), schema_prefix=f"bench{int(time.time())}_",
               drop_schemas_on_close=True) as stack:  # fmt: skip
        elapsed, latencies = asyncio.run(drive(stack, args.contacts))
    print(f"contacts={args.contacts} seconds={elapsed:.2f} emails_per_s={args.contacts / elapsed:,.0f}")
    if latencies:
        q = statistics.quantiles(latencies, n=100)
        print(f"latency_s p50={q[49]:.2f} p95={q[94]:.2f} p99={q[98]:.2f} max={max(latencies):.2f}")
    if args.baseline:
        print(f"vs baseline {args.baseline:.2f}s: {elapsed / args.baseline:.2f}x")


if __name__ == "__main__":
    main()
