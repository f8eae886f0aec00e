"""sequence.lifecycle (API → scheduler): activation and the later life of a sequence."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import AwareDatetime

from seqflow.messaging.base import Payload, UserRef
from seqflow.messaging.codec import register


class SequenceActivated(Payload):
    """Everything the scheduler needs to run the sequence: its own template copy and settings."""

    sequence_id: str
    name: str
    rollup_id: str
    template: dict[str, Any]  # Template JSON (SPEC §2), aliases already rewritten
    activation: dict[str, Any]  # Activation JSON (SPEC §3)
    primary_user: UserRef
    activated_at: AwareDatetime
    # Contact ids on the rollup as the API knew it at activation; the scheduler starts the sequence once
    # its own membership copy holds them all (membership travels on another topic and may trail).
    roster: list[str] | None = None


class SequenceChanged(Payload):
    """pause / resume / end at an instant; `edit` carries new settings or branches (paused only)."""

    sequence_id: str
    action: Literal["pause", "resume", "end", "edit"]
    at: AwareDatetime
    template: dict[str, Any] | None = None
    activation: dict[str, Any] | None = None


LIFECYCLE = {"sequence_activated": SequenceActivated, "sequence_changed": SequenceChanged}

for _name, _model in LIFECYCLE.items():
    register(_name, _model)
