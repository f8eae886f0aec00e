"""The `seqflow` command: run the embedded stack, one service, migrations, the simulator."""

from __future__ import annotations

import argparse
import asyncio
import importlib
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any

from seqflow.db.migrate import ensure_database, migrate_all
from seqflow.devstack import BrokerProcess, ServiceProcess, resolve_database, start_broker, stop_all
from seqflow.logs import configure_logging
from seqflow.settings import DEFAULT_WEB_PORTS, Settings

SERVICE_ENTRYPOINTS = {
    "scheduler": "seqflow_scheduler.main",
    "dispatcher": "seqflow_dispatcher.main",
    "tasks": "seqflow_tasks.main",
    "rollup-sync": "rollup_sync.main",
}
SERVICE_HELP = {
    "scheduler": "Run the scheduler service: send days, windows, delays, conditions, rate limits.",
    "dispatcher": "Run the dispatcher service: send email/SMS and emit results and engagement.",
    "tasks": "Run the tasks service: manual tasks, queue, activities, overview and the public HTTP API.",
    "rollup-sync": "Run the rollup-sync service: emit rollup membership events.",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="seqflow", description="Outreach sequence engine.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    dev = sub.add_parser(
        "dev", help="Start broker, database, migrations and the four services; Ctrl-C stops."
    )
    dev.add_argument(
        "--broker-port", type=int, default=None, help="port for the embedded broker (default: free)"
    )
    sub.add_parser("demo", help="Run the end-to-end demo on the embedded stack.")
    sub.add_parser("migrate", help="Create the database if missing and apply every service schema migration.")
    for name, text in SERVICE_HELP.items():
        sub.add_parser(name, help=text, description=text)
    sim = sub.add_parser("simulate", help="Dry-run one sequence from a JSON scenario (JSON Lines on stdout).")
    sim.add_argument("args", nargs=argparse.REMAINDER, help="scenario file and simulator options")
    imp = sub.add_parser("import", help="Import templates, rollups and contacts from files.")
    imp.add_argument("args", nargs=argparse.REMAINDER, help="files and importer options")
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    service = args.command if args.command in SERVICE_HELP else "seqflow"
    settings = Settings.from_env(service)
    configure_logging(service, settings.log_level)
    sys.exit(run_command(args, settings))


def run_command(args: argparse.Namespace, settings: Settings) -> int:
    if args.command in SERVICE_ENTRYPOINTS:
        return call_entrypoint(SERVICE_ENTRYPOINTS[args.command], "run", settings)
    if args.command == "simulate":
        return call_entrypoint("seqflow.rules.simulate", "main", args.args)
    if args.command == "import":
        return call_entrypoint("seqflow.importer", "main", args.args)
    if args.command == "demo":
        return call_entrypoint("seqflow.demo", "main", settings)
    if args.command == "migrate":
        return run_migrate(settings)
    return run_dev(settings, args.broker_port)


def call_entrypoint(module: str, func: str, arg: Any) -> int:
    """Import `module` and call `func(arg)`; a missing module is a clear error with exit code 2."""
    try:
        target: Callable[[Any], object] = getattr(importlib.import_module(module), func)
    except ModuleNotFoundError as exc:
        if exc.name is None or not module.startswith(exc.name):
            raise  # the module exists but one of its own imports is broken: show the real error
        print(f"seqflow: {module} is not available ({exc})", file=sys.stderr)
        return 2
    except AttributeError:
        print(f"seqflow: {module} has no {func}()", file=sys.stderr)
        return 2
    result = target(arg)
    return result if isinstance(result, int) else 0


def run_migrate(settings: Settings) -> int:
    applied = asyncio.run(_migrate(settings.database_url, settings.schema_prefix))
    for schema, versions in applied.items():
        print(f"{settings.schema_name(schema)}: applied {versions or 'nothing (up to date)'}")
    return 0


async def _migrate(dsn: str, schema_prefix: str) -> dict[str, list[int]]:
    await ensure_database(dsn)
    return await migrate_all(dsn, schema_prefix=schema_prefix)


def run_dev(settings: Settings, broker_port: int | None) -> int:
    logs = Path(settings.datadir) / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    signal.signal(signal.SIGTERM, _raise_interrupt)
    broker = start_broker(broker_port, log=logs / "broker.log")
    children: list[ServiceProcess] = []
    try:
        dsn = resolve_database(settings.database_url)
        asyncio.run(_migrate(dsn, settings.schema_prefix))
        env = {**settings.to_env(), "SEQFLOW_KAFKA_BOOTSTRAP": broker.bootstrap, "SEQFLOW_DATABASE_URL": dsn}
        children = [ServiceProcess(name, env, logs / f"{name}.log") for name in SERVICE_ENTRYPOINTS]
        _print_urls(settings, broker, dsn, logs)
        return _wait(children)
    except KeyboardInterrupt:
        print("\nstopping...", file=sys.stderr)
        return 0
    finally:
        stop_all(children)
        broker.stop()


def _print_urls(settings: Settings, broker: BrokerProcess, dsn: str, logs: Path) -> None:
    host = settings.web_host
    print(f"broker:   {broker.bootstrap}\ndatabase: {dsn}\nlogs:     {logs}/")
    print(f"API:      http://{host}:{DEFAULT_WEB_PORTS['tasks']}/ (OpenAPI docs under the API)")
    for name, port in DEFAULT_WEB_PORTS.items():
        print(f"metrics:  {name:<12} http://{host}:{port}/metrics")
    print("Ctrl-C stops everything.", flush=True)


def _wait(children: list[ServiceProcess]) -> int:
    """Block until Ctrl-C (KeyboardInterrupt) or until a service exits on its own (an error)."""
    while True:
        for child in children:
            code = child.proc.poll()
            if code is not None:
                print(f"seqflow: service {child.service} exited with code {code}", file=sys.stderr)
                return 1
        time.sleep(0.5)


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt
