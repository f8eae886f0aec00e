"""dispatch.results (dispatcher → scheduler, tasks): what happened to each requested send."""

from __future__ import annotations

from typing import Literal

from pydantic import AwareDatetime

from seqflow.messaging.base import Payload
from seqflow.messaging.codec import register


class SendResult(Payload):
    sequence_id: str
    contact_id: str
    step: str
    attempt: int
    channel: Literal["email", "sms"]
    idempotency_key: str
    # sent; bounced = a permanent refusal (SMTP 5xx, invalid number): a hard bounce (SPEC §6);
    # failed = transient errors outlasted the retries; suppressed = skipped, the address is unsubscribed
    status: Literal["sent", "bounced", "failed", "suppressed"]
    message_id: str | None = None  # email Message-ID or the SMS provider's sid
    to: str
    error: str | None = None
    at: AwareDatetime


register("send_result", SendResult)
