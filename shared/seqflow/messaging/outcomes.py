"""tasks.outcomes (API → scheduler): Mark As, Move to Next Task Now and Retry."""

from __future__ import annotations

from typing import Literal

from pydantic import AwareDatetime

from seqflow.messaging.base import Payload
from seqflow.messaging.codec import register


class TaskAction(Payload):
    sequence_id: str
    contact_id: str
    step: str
    action: Literal["outcome", "move_next", "retry"]
    outcome: str | None = None
    user: str
    at: AwareDatetime


register("task_action", TaskAction)
