"""Every consumed message is logged (at DEBUG) as one JSON line carrying its event id and enrollment key."""

from __future__ import annotations

import json
import logging
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from seqflow.logs import CONTEXT_FIELDS, BufferedHandler, JsonFormatter
from seqflow.messaging.codec import encode
from seqflow.messaging.dlq import decode_or_dead_letter
from seqflow.messaging.envelope import Envelope


async def test_a_consumed_message_is_logged_with_its_event_id_and_enrollment_key(
    caplog: pytest.LogCaptureFixture,
) -> None:
    env = Envelope(type="task_action", key="seq1:c1", occurred_at=datetime(2026, 12, 1, tzinfo=UTC), payload={})
    with caplog.at_level(logging.DEBUG, logger="seqflow.consumed"):
        got = await decode_or_dead_letter(None, "tasks.outcomes", b"seq1:c1", encode(env))  # type: ignore[arg-type]
    assert got == env
    line = json.loads(JsonFormatter("scheduler").format(caplog.records[-1]))
    assert (line["event_id"], line["enrollment"], line["topic"]) == (str(env.id), "seq1:c1", "tasks.outcomes")
    assert (line["service"], line["level"], line["msg"]) == ("scheduler", "DEBUG", "task_action")


def plain_json_line(formatter: JsonFormatter, record: logging.LogRecord) -> str:
    """The line as a dict through `json.dumps` (how the formatter used to build it)."""
    entry: dict[str, object] = {
        "ts": datetime.fromtimestamp(record.created, UTC).isoformat(),
        "level": record.levelname,
        "service": formatter.service,
        "logger": record.name,
        "msg": record.getMessage(),
    }
    for field in CONTEXT_FIELDS:
        value = record.__dict__.get(field)
        if value is not None:
            entry[field] = str(value)
    if record.exc_info:
        entry["exc"] = formatter.formatException(record.exc_info)
    return json.dumps(entry)


@pytest.mark.parametrize(
    ("msg", "args", "extra"),
    [
        ("task_action", (), {"event_id": "e1", "enrollment": "seq1:c1", "topic": "tasks.outcomes"}),
        ('quote " backslash \\ tab \t newline \n', (), {"reason": "ünïcode ✓ \u2028", "sequence": 7}),
        ("%s of %d", ("some", 3), {"enrollment": None, "topic": ""}),
    ],
    ids=["consumed", "escapes", "args-and-empty"],
)
def test_a_line_is_exactly_what_json_dumps_of_its_fields_gives(msg: str, args: tuple, extra: dict) -> None:
    formatter = JsonFormatter("tasks")
    record = logging.makeLogRecord({"name": "seqflow.consumed", "levelname": "INFO", "msg": msg, "args": args,
                                    **extra})  # fmt: skip
    assert formatter.format(record) == plain_json_line(formatter, record)
    assert formatter.format(record) == plain_json_line(formatter, record)  # the cached fixed part too


def test_an_exception_is_carried_in_the_line() -> None:
    formatter = JsonFormatter("tasks")
    try:
        raise ValueError("boom")
    except ValueError:
        record = logging.makeLogRecord({"name": "x", "levelname": "ERROR", "msg": "failed", "exc_info": sys.exc_info()})
    line = formatter.format(record)
    assert line == plain_json_line(formatter, record)
    assert "ValueError: boom" in json.loads(line)["exc"]


def test_buffered_lines_reach_the_stream_at_a_warning_and_within_the_flush_interval(tmp_path: Path) -> None:
    with (tmp_path / "out.log").open("w", buffering=1 << 16) as out:
        handler = BufferedHandler(out)
        handler.setFormatter(JsonFormatter("tasks"))
        log = logging.getLogger("test.buffered")
        log.handlers[:], log.propagate = [handler], False
        log.setLevel(logging.INFO)
        log.info("first")
        log.warning("second")  # written at once, with the line before it
        assert [json.loads(x)["msg"] for x in (tmp_path / "out.log").read_text().splitlines()] == ["first", "second"]
        log.info("third")
        deadline = time.monotonic() + 5
        while "third" not in (tmp_path / "out.log").read_text():
            assert time.monotonic() < deadline, "an INFO line was not written within the flush interval"
            time.sleep(0.01)
        handler.close()
