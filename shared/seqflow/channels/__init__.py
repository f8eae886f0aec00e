"""Channel adapters the dispatcher calls: SMTP email, Twilio-style SMS, tracking, merge fields."""

from seqflow.channels.errors import InvalidToken, PermanentSendError, SendError, TransientSendError
from seqflow.channels.message_id import idempotency_key, message_id_for

__all__ = [
    "InvalidToken",
    "PermanentSendError",
    "SendError",
    "TransientSendError",
    "idempotency_key",
    "message_id_for",
]
