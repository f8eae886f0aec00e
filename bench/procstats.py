"""Benchmark helpers: CPU time and peak memory of a running `Stack`'s processes, read from /proc.

Groups: one per service replica (`scheduler-0`, …), `broker`, `postgres` (the backends serving the
benchmark's own database) and `stubs` (the local SMTP and SMS servers, counted apart from seqflow).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import asyncpg
from prometheus_client.parser import text_string_to_metric_families

from seqflow.devstack import ServiceProcess
from seqflow.stack import Stack

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU of one process so far (0 if it is gone)."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICKS


def peak_rss_mib(pid: int) -> float:
    """The process's resident-set high-water mark (VmHWM)."""
    try:
        with open(f"/proc/{pid}/status") as fh:
            found = re.search(r"VmHWM:\s+(\d+) kB", fh.read())
    except OSError:
        return 0.0
    return int(found.group(1)) / 1024 if found else 0.0


def groups(stack: Stack) -> dict[str, list[int]]:
    """Process ids per group, for the stack's own children and broker."""
    out: dict[str, list[int]] = {"stubs": []}
    counts: dict[str, int] = {}
    for child in stack.children:
        if isinstance(child, ServiceProcess):
            i = counts.get(child.service, 0)
            counts[child.service] = i + 1
            out[f"{child.service}-{i}"] = [child.proc.pid]
        else:
            out["stubs"].append(child.pid)
    if stack.broker is not None:
        out["broker"] = [stack.broker.proc.pid]
    return out


async def postgres_pids(dsn: str) -> list[int]:
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
    finally:
        await conn.close()
    return [r["pid"] for r in rows]


@dataclass
class CpuMeter:
    """CPU seconds per group between `start()` and `stop()`; PostgreSQL backends counted from first sight."""

    stack: Stack
    before: dict[int, float] = field(default_factory=dict)
    pg_before: set[int] = field(default_factory=set)

    async def start(self) -> None:
        pg = await postgres_pids(self.stack.dsn)
        self.pg_before = set(pg)
        self.before = {pid: cpu_seconds(pid) for pids in groups(self.stack).values() for pid in pids}
        self.before.update({pid: cpu_seconds(pid) for pid in pg})

    async def stop(self) -> dict[str, float]:
        used = {name: sum(cpu_seconds(p) - self.before.get(p, 0.0) for p in pids)
                for name, pids in groups(self.stack).items()}  # fmt: skip
        pg = await postgres_pids(self.stack.dsn)
        used["postgres"] = sum(cpu_seconds(p) - self.before.get(p, 0.0) for p in pg)
        return used


def peaks(stack: Stack) -> dict[str, float]:
    return {name: max(peak_rss_mib(p) for p in pids) for name, pids in groups(stack).items() if pids}


async def metric(http: aiohttp.ClientSession, port: int, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    """Samples of one metric from a service's /metrics, keyed by their sorted labels."""
    async with http.get(f"http://127.0.0.1:{port}/metrics") as r:
        text = await r.text()
    out: dict[tuple[tuple[str, str], ...], float] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == name:
                out[tuple(sorted(s.labels.items()))] = s.value
    return out


def histogram_quantile(buckets: dict[float, float], q: float) -> float:
    """The q-quantile of a cumulative Prometheus histogram, interpolated within its bucket."""
    ordered = sorted(buckets.items())
    total = ordered[-1][1] if ordered else 0.0
    if total == 0:
        return 0.0
    rank, prev_le, prev_count = q * total, 0.0, 0.0
    for le, count in ordered:
        if count >= rank:
            if le == float("inf"):
                return prev_le
            return prev_le + (le - prev_le) * ((rank - prev_count) / max(count - prev_count, 1e-9))
        prev_le, prev_count = le, count
    return prev_le


def describe(values: dict[str, Any], fmt: str = "{:.1f}") -> str:
    return " ".join(f"{k}={fmt.format(v)}" for k, v in sorted(values.items()))
