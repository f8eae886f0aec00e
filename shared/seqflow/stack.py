"""The whole embedded system in child processes: broker, SMTP and SMS stubs, the four services.

Used by `seqflow demo` and the end-to-end tests; `seqflow dev` is the long-running variant.
Everything started here is stopped by `close()` (also on Ctrl-C), leaving no process behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from seqflow.db.migrate import drop_schemas, ensure_database, migrate_all
from seqflow.devstack import BrokerProcess, ServiceProcess, free_port, resolve_database, spawn, start_broker, terminate
from seqflow.settings import Settings

SERVICES = ("rollup-sync", "scheduler", "dispatcher", "tasks")
SMS_SID, SMS_TOKEN = "ACdemo", "demo-token"  # the local stub's credentials; not a secret


@dataclass
class Stack:
    workdir: Path
    database_url: str = "postgresql://postgres@127.0.0.1:5432/seqflow"
    schema_prefix: str = ""
    topic_prefix: str = ""
    clock: str = "system"
    tick_seconds: float = 0.2
    replicas: dict[str, int] = field(default_factory=dict)
    ports: dict[str, int] = field(default_factory=dict)
    drop_schemas_on_close: bool = False
    env: dict[str, str] = field(default_factory=dict)  # more settings for every service (SEQFLOW_...)
    broker_port: int | None = None
    dsn: str = ""
    broker: BrokerProcess | None = None
    children: list[Any] = field(default_factory=list)

    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self.ports['tasks']}"

    @property
    def mail_file(self) -> Path:
        return self.workdir / "mail.jsonl"

    @property
    def sms_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['sms']}"

    def start(self) -> Stack:
        logs = self.workdir / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        self.broker = start_broker(self.broker_port, log=logs / "broker.log")
        dsn = self.dsn = resolve_database(self.database_url, self.workdir / "pgdata")
        asyncio.run(_migrate(dsn, self.schema_prefix))
        self.ports.setdefault("smtp", free_port())
        self.ports.setdefault("sms", free_port())
        self._stubs(logs)
        env = self._env(dsn)
        for name in SERVICES:
            for i in range(self.replicas.get(name, 1)):
                port = (self.ports.get(name) if i == 0 else None) or free_port()  # preset ports: `seqflow dev`
                self.ports.setdefault(name, port)
                log = logs / f"{name}-{i}.log"
                self.children.append(ServiceProcess(name, {**env, "SEQFLOW_WEB_PORT": str(port)}, log))
                self.ports[f"{name}-{i}"] = port
        return self

    def _stubs(self, logs: Path) -> None:
        py = sys.executable
        smtp = [py, "-m", "seqflow.channels.smtp_stub", "--port", str(self.ports["smtp"]), "--out", str(self.mail_file)]
        sms = [py, "-m", "seqflow.channels.sms_stub", "--port", str(self.ports["sms"]),
               "--account-sid", SMS_SID, "--auth-token", SMS_TOKEN]  # fmt: skip
        self.children.append(spawn(smtp, log=logs / "smtp.log"))
        self.children.append(spawn(sms, log=logs / "sms.log"))

    def _env(self, dsn: str) -> dict[str, str]:
        assert self.broker is not None
        settings = Settings.from_env("seqflow", {})
        return {
            **settings.to_env(),
            "SEQFLOW_KAFKA_BOOTSTRAP": self.broker.bootstrap, "SEQFLOW_DATABASE_URL": dsn,
            "SEQFLOW_SCHEMA_PREFIX": self.schema_prefix, "SEQFLOW_TOPIC_PREFIX": self.topic_prefix,
            "SEQFLOW_CLOCK": self.clock, "SEQFLOW_TICK_SECONDS": str(self.tick_seconds),
            "SEQFLOW_SMTP_PORT": str(self.ports["smtp"]), "SEQFLOW_SMS_URL": self.sms_url,
            "SEQFLOW_SMS_ACCOUNT_SID": SMS_SID, "SEQFLOW_SMS_AUTH_TOKEN": SMS_TOKEN,
            "SEQFLOW_DATADIR": str(self.workdir / "data"), **self.env,
        }  # fmt: skip

    def service_ports(self) -> dict[str, int]:
        return {k: v for k, v in self.ports.items() if "-" in k and k.rsplit("-", 1)[1].isdigit()}

    async def wait_ready(self, limit: float = 90.0) -> None:
        """Wait until every service replica answers 200 on /ready (and fail if one died)."""
        deadline = time.monotonic() + limit
        async with aiohttp.ClientSession() as http:
            for name, port in self.service_ports().items():
                while not await _ready(http, port):
                    self.check_alive()
                    if time.monotonic() > deadline:
                        raise TimeoutError(f"{name} not ready within {limit}s (see {self.workdir}/logs)")
                    await asyncio.sleep(0.2)

    def check_alive(self) -> None:
        for child in self.children:
            proc = getattr(child, "proc", child)
            if proc.poll() is not None:
                name = getattr(child, "service", proc.args)
                raise RuntimeError(f"{name} exited with {proc.returncode} (see {self.workdir}/logs)")

    def replica(self, service: str, index: int = 0) -> ServiceProcess:
        """The child process of one service replica (replicas are numbered from 0 in start order)."""
        found = [c for c in self.children if isinstance(c, ServiceProcess) and c.service == service]
        if index >= len(found):
            raise KeyError(f"{service} has no replica {index} (it has {len(found)})")
        return found[index]

    def alive(self, service: str, index: int = 0) -> bool:
        return self.replica(service, index).proc.poll() is None

    def kill(self, service: str, index: int = 0) -> None:
        """SIGKILL one replica (its whole process group) and reap it: a crash, no clean shutdown."""
        proc = self.replica(service, index).proc
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()

    def restart(self, service: str, index: int = 0) -> None:
        """Start a stopped replica again with the same environment, web port and (appended) log file."""
        old = self.replica(service, index)
        if old.proc.poll() is None:
            raise RuntimeError(f"{service}-{index} is still running; kill it first")
        port = self.ports[f"{service}-{index}"]
        log = self.workdir / "logs" / f"{service}-{index}.log"
        new = ServiceProcess(service, {**self._env(self.dsn), "SEQFLOW_WEB_PORT": str(port)}, log)
        self.children[self.children.index(old)] = new

    def sent_mail(self) -> list[dict[str, Any]]:
        """The stub's records so far; a line the stub is still writing (no newline yet) is left for later."""
        if not self.mail_file.exists():
            return []
        complete = self.mail_file.read_text().split("\n")[:-1]
        return [json.loads(line) for line in complete if line.strip()]

    def close(self) -> None:
        for child in self.children:
            proc = getattr(child, "proc", child)
            if proc.poll() is None:
                proc.terminate()
        for child in reversed(self.children):
            terminate(getattr(child, "proc", child))
        self.children.clear()
        if self.broker is not None:
            self.broker.stop()
            self.broker = None
        if self.drop_schemas_on_close and self.schema_prefix and self.dsn:
            asyncio.run(drop_schemas(self.dsn, self.schema_prefix))

    def __enter__(self) -> Stack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()


async def _ready(http: aiohttp.ClientSession, port: int) -> bool:
    try:
        async with http.get(f"http://127.0.0.1:{port}/ready", timeout=aiohttp.ClientTimeout(total=2)) as r:
            return r.status == 200
    except (aiohttp.ClientError, TimeoutError):
        return False


async def _migrate(dsn: str, schema_prefix: str) -> None:
    await ensure_database(dsn)
    await migrate_all(dsn, schema_prefix=schema_prefix)
