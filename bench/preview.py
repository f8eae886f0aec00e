"""Benchmark: the dry-run preview of an activation on N contacts (issue 9 asks ≤ 3 s for 10,000).

Prints two figures: the engine alone (`seqflow.rules.preview` on the contacts in memory) and, with `--api`,
the whole `POST /sequences/preview` answer of a tasks service (in-process, on a Tansu broker and the
PostgreSQL at --database; the template and rollup made through its API, the contacts written straight to its tables).
Usage: .venv/bin/python bench/preview.py [--contacts 10000] [--repeat 3] [--api]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg

from seqflow.db.migrate import drop_schemas, ensure_database, migrate_all
from seqflow.devstack import free_port, start_broker
from seqflow.domain.activation import Activation
from seqflow.domain.template import Template
from seqflow.rules.preview import preview, scenario_for
from seqflow.settings import Settings

ACTIVATED = datetime(2026, 12, 1, 14, 0, tzinfo=UTC)
MAIL = {"from_alias": "alice@agency.example", "subject": "Hi {{first_name}}", "body": "Hello"}
TEMPLATE: dict[str, Any] = {"name": "bench", "owner": "alice", "branches": [
    {"key": "main", "steps": [
        {"key": "intro", "type": "auto_email", "email": MAIL, "conditions": [
            {"when": "replied", "then": {"goto_branch": "engaged"}},
            {"when": "no_condition_met", "within": "P2D", "then": {"next": True}}]},
        {"key": "bump", "type": "auto_sms", "delay": "P1D", "sms": {"body": "Hi"}},
        {"key": "nudge", "type": "auto_email", "delay": "PT2H", "email": MAIL},
        {"key": "call", "type": "call", "delay": "P3D"}]},
    {"key": "engaged", "steps": [{"key": "book", "type": "task"}]}]}  # fmt: skip
SETTINGS: dict[str, Any] = {
    "name": "bench", "begin": "2026-12-01", "timezone": "America/New_York", "primary_user": "alice",
    "send_days": ["mon", "tue", "wed", "thu", "fri"], "send_window": {"start": "08:00", "stop": "17:00"},
    "rate_limits": {"email": {"count": 2000, "per": "PT1H"}, "sms": {"count": 500, "per": "PT1H"}}}  # fmt: skip


def contacts(n: int) -> list[dict[str, Any]]:
    """Every 50th without an email, every 20th without a phone: the preview has failures to list."""
    return [{"id": f"c{i:06d}", "first_name": f"P{i}", **({} if i % 50 == 0 else {"email": f"p{i}@x.example"}),
             **({} if i % 20 == 0 else {"phone": f"+1555{i:07d}"})} for i in range(n)]  # fmt: skip


def engine_seconds(n: int) -> tuple[float, dict[str, Any]]:
    people = contacts(n)
    started = time.perf_counter()
    sc = scenario_for(Template.model_validate(TEMPLATE), Activation.model_validate(SETTINGS), people, ACTIVATED)
    out = preview(sc).to_json()
    return time.perf_counter() - started, out


async def seed(dsn: str, schema: str, rollup_id: str, n: int) -> None:
    """n contacts on the rollup, written as the members route would write them (one COPY, not 20 requests)."""
    conn = await asyncpg.connect(dsn)
    try:
        people = contacts(n)
        await conn.copy_records_to_table("contacts", schema_name=schema,
                                         records=[(p["id"], json.dumps(p), ACTIVATED) for p in people])  # fmt: skip
        await conn.copy_records_to_table("roster", schema_name=schema, records=[(rollup_id, p["id"]) for p in people])
    finally:
        await conn.close()


async def api_seconds(dsn: str, n: int, repeat: int) -> list[float]:
    from seqflow_tasks.app import create_app  # the service only when asked: the engine figure needs none

    prefix = f"bench{int(time.time())}_"
    await ensure_database(dsn)
    await migrate_all(dsn, schema_prefix=prefix)
    broker = start_broker(log=Path(tempfile.mkdtemp(prefix="seqflow-bench-")) / "broker.log")
    env = {"SEQFLOW_KAFKA_BOOTSTRAP": broker.bootstrap, "SEQFLOW_DATABASE_URL": dsn,
           "SEQFLOW_SCHEMA_PREFIX": prefix, "SEQFLOW_TOPIC_PREFIX": prefix, "SEQFLOW_WEB_PORT": str(free_port()),
           "SEQFLOW_ADMIN_TOKEN": "bench-token"}  # fmt: skip
    app = create_app(Settings.from_env("tasks", env))
    try:
        await app.start()
        for _ in range(600):  # a bounded wait, so the benchmark always ends
            if app.is_ready:
                break
            await asyncio.sleep(0.1)
        return await _post(app.settings.web_port, dsn, f"{prefix}tasks", n, repeat)
    finally:
        await app.stop()
        broker.stop()
        await drop_schemas(dsn, prefix)


async def _post(port: int, dsn: str, schema: str, n: int, repeat: int) -> list[float]:
    """The template and the rollup through the API, its contacts straight in; then time the preview."""
    base, times = f"http://127.0.0.1:{port}", []
    async with aiohttp.ClientSession(headers={"Authorization": "Bearer bench-token"}) as http:
        async with http.post(f"{base}/templates", json=TEMPLATE) as r:
            template = await r.json()
        async with http.post(f"{base}/rollups", json={"name": "bench"}) as r:
            rollup = await r.json()
        await seed(dsn, schema, rollup["id"], n)
        body = {**SETTINGS, "template_id": template["id"], "rollup_id": rollup["id"]}
        for _ in range(repeat):
            started = time.perf_counter()
            async with http.post(f"{base}/sequences/preview", json=body) as r:
                answer = await r.json()
                assert r.status == 200, answer
            times.append(time.perf_counter() - started)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--contacts", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3, help="runs; the median and the worst are printed")
    parser.add_argument("--api", action="store_true", help="also time POST /sequences/preview on a tasks service")
    parser.add_argument("--database", default="postgresql://postgres@127.0.0.1:5432/seqflow_bench")
    args = parser.parse_args()
    runs = [engine_seconds(args.contacts) for _ in range(args.repeat)]
    times, out = [t for t, _ in runs], runs[-1][1]
    print(f"engine contacts={args.contacts} median_seconds={statistics.median(times):.2f} worst={max(times):.2f} "
          f"emails={out['totals']['email']} sms={out['totals']['sms']} failed={out['totals']['failed']}")  # fmt: skip
    if args.api:
        times = asyncio.run(api_seconds(args.database, args.contacts, args.repeat))
        print(f"api POST /sequences/preview contacts={args.contacts} median_seconds={statistics.median(times):.2f} "
              f"worst={max(times):.2f}")  # fmt: skip


if __name__ == "__main__":
    main()
