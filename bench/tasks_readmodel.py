"""Benchmark: the tasks service's read models — events consumed into PostgreSQL per second.

Starts a Tansu broker and the tasks service in-process (PostgreSQL at DATABASE_URL, a fresh schema and
topic prefix, JSON logs at INFO to a file as the service writes them), publishes N messages from a child
process — a third each `enrollment_changed`, `task_due` and `send_result`, one contact each — as fast as one
producer can, and times until every row is in PostgreSQL. It prints the rate and the CPU time this process
(the tasks service, and the poll for the rows) spent per event.
Usage: .venv/bin/python bench/tasks_readmodel.py [--messages 30000] [--database-url URL]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import multiprocessing
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
from aiokafka import AIOKafkaProducer
from pydantic import BaseModel

from seqflow.db.migrate import drop_schemas, ensure_database, migrate_all
from seqflow.devstack import free_port, start_broker
from seqflow.logs import configure_logging
from seqflow.messaging.codec import encode
from seqflow.messaging.dispatch import SendResult
from seqflow.messaging.envelope import Envelope
from seqflow.messaging.work import EnrollmentChanged, TaskDue
from seqflow.settings import Settings
from seqflow_tasks.app import create_app

AT = datetime(2026, 12, 1, 14, 0, tzinfo=UTC)
SID = "bench"
TABLES = ("enrollments", "tasks", "sends")


def messages(n: int) -> list[tuple[str, Envelope]]:
    """(topic base, envelope) for n contacts per kind."""
    out: list[tuple[str, Envelope]] = []
    for i in range(n):
        cid = f"c{i:06d}"
        changed = EnrollmentChanged(sequence_id=SID, contact_id=cid, action="entered", step="intro", at=AT,
                                    status="active", phase="due")  # fmt: skip
        task = TaskDue(sequence_id=SID, contact_id=cid, step="call", attempt=1, kind="task", type="call",
                       priority="normal", branch="main", step_index=1, outcomes=["Done"], at=AT)  # fmt: skip
        sent = SendResult(sequence_id=SID, contact_id=cid, step="intro", attempt=1, channel="email", at=AT,
                          idempotency_key=f"{SID}:{cid}:intro:1", status="sent", to=f"{cid}@x.example")  # fmt: skip
        out += [_wrap("enrollment.changes", "enrollment_changed", cid, changed),
                _wrap("scheduler.due-tasks", "task_due", cid, task),
                _wrap("dispatch.results", "send_result", cid, sent)]  # fmt: skip
    return out


def _wrap(base: str, type_: str, cid: str, payload: BaseModel) -> tuple[str, Envelope]:
    return base, Envelope.wrap(type_, f"{SID}:{cid}", payload, AT)


async def publish(bootstrap: str, prefix: str, items: list[tuple[str, Envelope]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5, max_batch_size=1 << 20)
    await producer.start()
    try:
        for base, env in items:
            await producer.send(prefix + base, encode(env), key=env.key.encode())
        await producer.flush()
    finally:
        await producer.stop()


def produce(bootstrap: str, prefix: str, per_kind: int) -> None:
    """In a child process, so that the producer's CPU is not counted as the service's."""
    asyncio.run(publish(bootstrap, prefix, messages(per_kind)))


async def rows_in(conn: asyncpg.Connection, schema: str, wanted: int) -> bool:
    counts = [await conn.fetchval(f'SELECT count(*) FROM "{schema}".{t}') for t in TABLES]
    return sum(counts) >= wanted


async def until(check: Callable[[], Awaitable[bool]], limit: float = 600.0) -> None:
    """Poll: the condition lives in another process (PostgreSQL) or another task."""
    deadline = time.monotonic() + limit
    while not await check():
        if time.monotonic() > deadline:
            raise SystemExit(f"not done within {limit:.0f}s")
        await asyncio.sleep(0.05)


async def run(bootstrap: str, dsn: str, per_kind: int) -> None:
    prefix = f"b{uuid.uuid4().hex[:8]}"
    await migrate_all(dsn, schema_prefix=prefix + "_")
    env = {"SEQFLOW_KAFKA_BOOTSTRAP": bootstrap, "SEQFLOW_DATABASE_URL": dsn, "SEQFLOW_SCHEMA_PREFIX": prefix + "_",
           "SEQFLOW_TOPIC_PREFIX": prefix + "-", "SEQFLOW_WEB_PORT": str(free_port()),
           "SEQFLOW_DATADIR": tempfile.mkdtemp(prefix="bench-tasks-")}  # fmt: skip
    app = create_app(Settings.from_env("tasks", env))
    conn = await asyncpg.connect(dsn)
    try:
        await app.start()
        await until(lambda: asyncio.sleep(0, app.is_ready))
        total_messages = 3 * per_kind
        producer = multiprocessing.get_context("spawn").Process(
            target=produce, args=(bootstrap, prefix + "-", per_kind)
        )
        started, cpu_started = time.perf_counter(), time.process_time()
        producer.start()
        await until(lambda: asyncio.sleep(0, producer.exitcode is not None))
        produced = time.perf_counter() - started
        if producer.exitcode:
            raise SystemExit(f"the producer failed (exit code {producer.exitcode})")
        await until(lambda: rows_in(conn, prefix + "_tasks", total_messages))
        total, cpu = time.perf_counter() - started, time.process_time() - cpu_started
        print(f"messages={total_messages} produce_seconds={produced:.2f} seconds_to_rows={total:.2f} "
              f"events_per_s={total_messages / total:,.0f} cpu_seconds={cpu:.2f} "
              f"cpu_us_per_event={1e6 * cpu / total_messages:.0f}")  # fmt: skip
    finally:
        await app.stop()
        await conn.close()
        await drop_schemas(dsn, prefix + "_")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=30_000, help="total, split evenly over the three kinds")
    parser.add_argument("--database-url", default="postgresql://postgres@127.0.0.1:5432/seqflow_bench")
    args = parser.parse_args()
    configure_logging("tasks")  # as the service runs: one JSON line per consumed message, to a file
    logfile = Path(tempfile.mkdtemp(prefix="bench-tasks-log-")) / "tasks.log"
    logging.getLogger().handlers[0].setStream(open(logfile, "a"))  # noqa: SIM115 - for the whole run
    asyncio.run(ensure_database(args.database_url))
    broker = start_broker(log=Path(tempfile.mkdtemp(prefix="bench-broker-")) / "broker.log")
    try:
        asyncio.run(run(broker.bootstrap, args.database_url, args.messages // 3))
    finally:
        broker.stop()


if __name__ == "__main__":
    main()
