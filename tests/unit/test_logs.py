"""Every consumed message is logged as one JSON line carrying its event id and enrollment key."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

import pytest

from seqflow.logs import JsonFormatter
from seqflow.messaging.codec import encode
from seqflow.messaging.dlq import decode_or_dead_letter
from seqflow.messaging.envelope import Envelope


async def test_a_consumed_message_is_logged_with_its_event_id_and_enrollment_key(
    caplog: pytest.LogCaptureFixture,
) -> None:
    env = Envelope(type="task_action", key="seq1:c1", occurred_at=datetime(2026, 12, 1, tzinfo=UTC), payload={})
    with caplog.at_level(logging.INFO, logger="seqflow.consumed"):
        got = await decode_or_dead_letter(None, "tasks.outcomes", b"seq1:c1", encode(env))  # type: ignore[arg-type]
    assert got == env
    line = json.loads(JsonFormatter("scheduler").format(caplog.records[-1]))
    assert (line["event_id"], line["enrollment"], line["topic"]) == (str(env.id), "seq1:c1", "tasks.outcomes")
    assert (line["service"], line["level"], line["msg"]) == ("scheduler", "INFO", "task_action")
