"""The `seqflow` command: run the embedded stack, one service, migrations, the simulator."""

from __future__ import annotations

import argparse
import asyncio
import importlib
import logging
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any

from pydantic import ValidationError

from seqflow.db.migrate import ensure_database, migrate_all
from seqflow.domain.errors import validation_issues
from seqflow.logs import JsonFormatter, configure_logging
from seqflow.settings import DEFAULT_WEB_PORTS, ENV_PREFIX, Settings
from seqflow.stack import Stack

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
    dev = sub.add_parser("dev", help="Start broker, database, migrations and the four services; Ctrl-C stops.")
    dev.add_argument("--broker-port", type=int, default=None, help="port for the embedded broker (default: free)")
    dev.add_argument("--demo", action="store_true",
                     help="seed demo users, a template and a running sequence (fresh schemas, dropped on exit); "
                          "print the web UI's URL and the demo user's sign-in token")  # fmt: skip
    sub.add_parser("demo", help="Run the end-to-end demo on the embedded stack.")
    sub.add_parser("migrate", help="Create the database if missing and apply every service schema migration.")
    for name, text in SERVICE_HELP.items():
        sub.add_parser(name, help=text, description=text)
    sim = sub.add_parser("simulate", help="Dry-run one sequence from a JSON scenario (JSON Lines on stdout).")
    sim.add_argument("args", nargs=argparse.REMAINDER, help="scenario file and simulator options")
    imp = sub.add_parser("import", help="Import templates, rollups and contacts from files.")
    imp.add_argument("args", nargs=argparse.REMAINDER, help="files and importer options")
    dlq = sub.add_parser("dlq", help="List dead-lettered messages or replay them: `dlq list|replay --help`.")
    dlq.add_argument("args", nargs=argparse.REMAINDER, help="list [--topic T] | replay --topic T (--id ID | --all)")
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    service = args.command if args.command in SERVICE_HELP else "seqflow"
    try:
        settings = Settings.from_env(service)
    except ValidationError as exc:  # a bad setting: name it, change nothing, exit 2
        for path, what in validation_issues(exc):
            print(f"seqflow: {ENV_PREFIX}{path.upper()}: {what}", file=sys.stderr)
        sys.exit(2)
    configure_logging(service, settings.log_level)
    sys.exit(run_command(args, settings))


def run_command(args: argparse.Namespace, settings: Settings) -> int:
    if args.command in SERVICE_ENTRYPOINTS:
        return call_entrypoint(SERVICE_ENTRYPOINTS[args.command], "run", settings)
    if args.command == "simulate":
        return call_entrypoint("seqflow.rules.simulate", "main", args.args)
    if args.command == "import":
        return call_entrypoint("seqflow.importer", "main", args.args)
    if args.command == "dlq":
        return call_entrypoint("seqflow.dlqtool", "main", args.args)
    if args.command == "demo":
        return call_entrypoint("seqflow.demo", "main", settings)
    if args.command == "migrate":
        return run_migrate(settings)
    return run_dev(settings, args.broker_port, args.demo)


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


def run_dev(settings: Settings, broker_port: int | None, demo: bool = False) -> int:
    """The embedded stack on the default ports, with the local SMTP server and SMS provider stub.

    With `demo`, the stack gets fresh schemas (dropped on exit) seeded with the demo's data, and the console
    shows only the URL and sign-in token: every log, ours and third-party, goes to files under logs/."""
    signal.signal(signal.SIGTERM, _raise_interrupt)
    ports = {**DEFAULT_WEB_PORTS, "smtp": settings.smtp_port, "sms": int(settings.sms_url.rsplit(":", 1)[1])}
    prefix = f"{settings.schema_prefix}demo{int(time.time())}_" if demo else settings.schema_prefix
    stack = Stack(Path(settings.datadir), database_url=settings.database_url, schema_prefix=prefix,
                  clock=settings.clock, tick_seconds=settings.tick_seconds, ports=ports,
                  broker_port=broker_port, drop_schemas_on_close=demo)  # fmt: skip
    try:
        if demo:
            print("starting seqflow with the demo data (about 20 s) ...", flush=True)
            log_to_file(stack.workdir / "logs" / "seqflow-dev.log")
        stack.start()
        asyncio.run(stack.wait_ready())
        if demo:
            _print_demo(settings, stack)
        else:
            _print_urls(settings, stack)
        return _wait(stack)
    except KeyboardInterrupt:
        print("\nstopping...", file=sys.stderr)
        return 0
    finally:
        stack.close()


def _print_urls(settings: Settings, stack: Stack) -> None:
    from seqflow.promstack import attach_prometheus  # imported late: only `seqflow dev` runs a Prometheus

    prometheus, host = attach_prometheus(stack), settings.web_host
    assert stack.broker is not None
    print(f"broker:   {stack.broker.bootstrap}\ndatabase: {stack.dsn}\nlogs:     {stack.workdir / 'logs'}/")
    print(f"API:      http://{host}:{stack.ports['tasks']}/  (OpenAPI: /openapi.json, /docs; admin token "
          f"{settings.admin_token!r})")  # fmt: skip
    print(f"SMTP:     127.0.0.1:{stack.ports['smtp']} (mail in {stack.mail_file})\nSMS stub: {stack.sms_url}")
    for name in DEFAULT_WEB_PORTS:
        print(f"metrics:  {name:<12} http://{host}:{stack.ports[name]}/metrics")
    print(f"Prometheus: {prometheus}  (alert rules loaded)" if prometheus else "Prometheus: not installed")
    print("Ctrl-C stops everything.", flush=True)


def log_to_file(path: Path) -> None:
    """Route all logging of this process (pgserver, asyncio, ours) to `path` instead of the console."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(path)
    handler.setFormatter(JsonFormatter("seqflow"))
    logging.getLogger().handlers[:] = [handler]


def _print_demo(settings: Settings, stack: Stack) -> None:
    from seqflow.devseed import seed  # imported late: only the demo needs it

    seeded = asyncio.run(seed(stack.api, settings.admin_token))
    host = settings.web_host
    print(f"\nseqflow is running with the demo data.\n\n  Open    http://{host}:{stack.ports['tasks']}/ui\n"
          f"  Sign in with the token of {seeded.user!r}:  {seeded.token}\n\n"
          f"{seeded.contacts} call tasks of the sequence are on the Tasks screen. Mail sent from the UI lands in "
          f"{stack.mail_file}; logs are in {stack.workdir / 'logs'}/.\nCtrl-C stops everything.", flush=True)


def _wait(stack: Stack) -> int:
    """Block until Ctrl-C (KeyboardInterrupt) or until a child exits on its own (an error)."""
    while True:
        try:
            stack.check_alive()
        except RuntimeError as exc:
            print(f"seqflow: {exc}", file=sys.stderr)
            return 1
        time.sleep(0.5)


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt
