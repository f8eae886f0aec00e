"""JSON logging: one object per line, carrying `event_id` and `enrollment` when given via `extra`.

Every consumed message is logged, so a line must be cheap: the formatter writes the JSON text itself (the
fixed part of a logger's lines is built once) instead of building a dict per record for `json.dumps`; the
text is the same as `json.dumps` of that dict would give.
"""

from __future__ import annotations

import io
import logging
import os
import sys
import threading
from datetime import UTC, datetime
from json.encoder import encode_basestring_ascii as quoted  # the C escaper json.dumps uses (ensure_ascii)

CONTEXT_FIELDS = ("event_id", "enrollment", "topic", "reason", "sequence")
_CONTEXT_KEYS = tuple((field, f", {quoted(field)}: ") for field in CONTEXT_FIELDS)


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service
        self._middle: dict[tuple[str, str], str] = {}  # (level, logger) -> the line's fixed part

    def format(self, record: logging.LogRecord) -> str:
        key = (record.levelname, record.name)
        middle = self._middle.get(key)
        if middle is None:
            middle = self._middle[key] = (
                f", {quoted('level')}: {quoted(record.levelname)}, {quoted('service')}: {quoted(self.service)}"
                f", {quoted('logger')}: {quoted(record.name)}, {quoted('msg')}: "
            )
        ts = datetime.fromtimestamp(record.created, UTC).isoformat()
        parts = ['{"ts": "', ts, '"', middle, quoted(record.getMessage())]
        fields = record.__dict__
        for field, label in _CONTEXT_KEYS:
            value = fields.get(field)
            if value is not None:
                parts += (label, quoted(str(value)))
        if record.exc_info:
            parts += (', "exc": ', quoted(self.formatException(record.exc_info)))
        parts.append("}")
        return "".join(parts)


FLUSH_SECONDS = 0.2


class BufferedHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Lines are written in blocks rather than one write(2) each: a WARNING or worse is written at once with
    everything before it, the rest within FLUSH_SECONDS (a daemon thread) and at exit (logging.shutdown)."""

    def __init__(self, stream: io.TextIOBase) -> None:
        super().__init__(stream)
        self._closed = threading.Event()
        threading.Thread(target=self._flush_every, name="log-flush", daemon=True).start()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.stream.write(self.format(record) + self.terminator)
            if record.levelno >= logging.WARNING:
                self.flush()
        except RecursionError:
            raise
        except Exception:  # noqa: BLE001 - logging must not raise into the caller (as StreamHandler.emit)
            self.handleError(record)

    def close(self) -> None:
        self._closed.set()
        super().close()

    def _flush_every(self) -> None:
        while not self._closed.wait(FLUSH_SECONDS):
            try:
                self.flush()
            except (ValueError, OSError):  # the stream was closed under us: nothing left to write
                return


def configure_logging(service: str, level: str = "INFO") -> None:
    """Send all logging to stderr as JSON lines (replaces any handlers on the root logger).

    The lines carry no thread, process or caller, so logging does not look them up for each record.
    """
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    logging._srcfile = None  # noqa: SLF001 - the documented switch to skip finding the caller of each record
    try:
        stderr = os.fdopen(os.dup(sys.stderr.fileno()), "w", buffering=1 << 16, encoding="utf-8", errors="replace")
        handler: logging.StreamHandler = BufferedHandler(stderr)  # type: ignore[type-arg]
    except (AttributeError, OSError, io.UnsupportedOperation):  # stderr is not a file (captured): as it is
        handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(service))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
