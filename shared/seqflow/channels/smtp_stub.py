"""A local SMTP server that records what it receives, for tests and the demo (SPEC §6).

Run: `python -m seqflow.channels.smtp_stub --port 8025 --out sent.jsonl`.
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import socket
import threading
import time
from collections.abc import Iterable
from email import policy
from email.header import decode_header, make_header
from email.message import EmailMessage
from email.parser import BytesParser, HeaderParser
from pathlib import Path
from typing import Any, TextIO

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

log = logging.getLogger(__name__)


class RecordingHandler:
    """aiosmtpd handler: parses each message, keeps it in `messages`, optionally appends it to a JSONL file.

    Recipients in `reject` get `550` at RCPT time, to exercise permanent failures.
    """

    def __init__(self, out: Path | None = None, reject: Iterable[str] = (), keep: bool = True) -> None:
        self.messages: list[EmailMessage] = []
        self.out = out
        # Without `keep` (the stub as its own process) only the four summary headers are read, as plain
        # strings: a full MIME parse costs ~2 ms a message, the `email` package's header objects ~0.4 ms,
        # and the stub must not be what limits a benchmark.
        self.keep = keep
        self._file: TextIO | None = None
        self.reject = {address.lower() for address in reject}
        self.seen: set[str] = set()
        self.duplicates = 0
        self._lock = threading.Lock()

    async def handle_RCPT(  # noqa: N802 - aiosmtpd hook name
        self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        if address.lower() in self.reject:
            return "550 5.1.1 Mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802
        raw = envelope.original_content or b""
        message: EmailMessage | None = None
        if self.keep:
            parsed = BytesParser(policy=policy.default).parsebytes(raw)
            assert isinstance(parsed, EmailMessage)  # policy.default always builds EmailMessage
            message = parsed
            headers = {name: _text(parsed[name]) for name in SUMMARY_HEADERS}
        else:
            headers = summary_headers(raw)
        with self._lock:
            # Like a mailbox provider, keep one copy per Message-ID: a send retried after a crash (same
            # idempotency key, same Message-ID) reaches the recipient once.
            message_id = headers["Message-ID"] or ""
            if message_id and message_id in self.seen:
                self.duplicates += 1
                log.info("duplicate Message-ID %s accepted and dropped", message_id)
                return "250 Duplicate of an earlier message; dropped"
            self.seen.add(message_id)
            if message is not None:
                self.messages.append(message)
            if self.out is not None:
                self._append(_summary(envelope, headers, raw))
        return "250 Message accepted for delivery"

    def _append(self, record: dict[str, Any]) -> None:
        """One JSON line, flushed at once (readers poll the file); the file stays open between messages."""
        assert self.out is not None
        if self._file is None:
            self._file = self.out.open("a", encoding="utf-8", buffering=1)
        self._file.write(json.dumps(record) + "\n")


SUMMARY_HEADERS = ("Message-ID", "From", "To", "Subject")


def summary_headers(raw: bytes) -> dict[str, str | None]:
    """The summary headers as text (encoded-words decoded, folding undone), read without the `email`
    package's header objects."""
    head = raw.split(b"\r\n\r\n", 1)[0].decode("utf-8", errors="replace")  # raw UTF-8 with SMTPUTF8
    message = HeaderParser(policy=policy.compat32).parsestr(head)
    return {name: _decoded(message[name]) for name in SUMMARY_HEADERS}


def _decoded(value: str | None) -> str | None:
    if value is None:
        return None
    if "=?" in value:
        return str(make_header(decode_header(value)))
    return value.replace("\r\n", "").replace("\n", "")


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _summary(envelope: Envelope, headers: dict[str, str | None], raw: bytes) -> dict[str, Any]:
    return {
        "mail_from": envelope.mail_from,
        "rcpt_tos": list(envelope.rcpt_tos),
        "message_id": headers["Message-ID"],
        "from": headers["From"],
        "to": headers["To"],
        "subject": headers["Subject"],
        "raw": raw.decode("utf-8", errors="replace"),
        "received_at": time.time(),  # wall time, for bench/live.py's latency figures
    }


def free_port(host: str = "127.0.0.1") -> int:
    """A port nobody listens on right now (aiosmtpd's Controller cannot bind port 0 itself)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def start_smtp_stub(
    host: str = "127.0.0.1", port: int = 0, out: Path | None = None, reject: Iterable[str] = (), keep: bool = True
) -> tuple[Controller, list[EmailMessage]]:
    """Start the server in a background thread; port 0 picks a free one (read `controller.port`).

    Returns the controller (call `stop()`) and the live list of received messages.
    """
    handler = RecordingHandler(out=out, reject=reject, keep=keep)
    controller = Controller(handler, hostname=host, port=port or free_port(host))
    controller.start()
    return controller, handler.messages


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m seqflow.channels.smtp_stub", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8025)
    parser.add_argument("--out", type=Path, default=None, help="append each message as a JSON line here")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    """Entry point of `python -m seqflow.channels.smtp_stub`; runs until SIGINT/SIGTERM."""
    args = _parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    # aiosmtpd logs every SMTP command at INFO: five lines a message cost the stub more than parsing it
    logging.getLogger("mail.log").setLevel(logging.WARNING)
    controller, _ = start_smtp_stub(args.host, args.port, out=args.out, keep=False)
    print(f"smtp stub listening on {controller.hostname}:{controller.port}", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    try:
        stop.wait()
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
