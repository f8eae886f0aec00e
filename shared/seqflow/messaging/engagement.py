"""engagement.events (API tracking and webhooks → scheduler, tasks)."""

from __future__ import annotations

from typing import Literal

from pydantic import AwareDatetime

from seqflow.messaging.base import Payload
from seqflow.messaging.codec import register


class Engagement(Payload):
    sequence_id: str
    contact_id: str
    step: str
    kind: Literal["opened", "clicked", "replied", "bounced"]
    message_id: str | None = None
    at: AwareDatetime


class Unsubscribed(Payload):
    """The address goes on the suppression list; later sends to it are skipped (SPEC §6)."""

    address: str
    sequence_id: str | None = None
    contact_id: str | None = None
    at: AwareDatetime


register("engagement", Engagement)
register("unsubscribed", Unsubscribed)
