"""Signatures of inbound webhooks (SPEC §6): Twilio-style for SMS, HMAC-SHA256 with a timestamp for email.

Pure functions: the tasks service checks with them, the local SMS stub and the tests sign with them.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable
from datetime import datetime

TWILIO_HEADER = "X-Twilio-Signature"
EMAIL_SIGNATURE_HEADER = "X-Seqflow-Signature"
EMAIL_TIMESTAMP_HEADER = "X-Seqflow-Timestamp"
MAX_AGE_SECONDS = 300


def twilio_signature(auth_token: str, url: str, params: Iterable[tuple[str, str]]) -> str:
    """Twilio's request signature: base64(HMAC-SHA1(auth token, full URL + each key+value, sorted by key))."""
    data = url + "".join(k + v for k, v in sorted(params))
    digest = hmac.new(auth_token.encode("utf-8"), data.encode("utf-8"), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


def twilio_valid(auth_token: str, url: str, params: Iterable[tuple[str, str]], signature: str) -> bool:
    """An empty auth token never validates: a key everyone knows would sign for everyone."""
    if not auth_token or not signature:
        return False
    expected = twilio_signature(auth_token, url, params)
    return hmac.compare_digest(expected.encode("ascii"), signature.encode("utf-8", "replace"))


def email_signature(secret: str, timestamp: str, body: bytes) -> str:
    """Hex HMAC-SHA256 of `<timestamp>.<raw body>`: the timestamp is signed, so it cannot be refreshed."""
    return hmac.new(secret.encode("utf-8"), timestamp.encode("ascii") + b"." + body, hashlib.sha256).hexdigest()


def email_problem(secret: str, timestamp: str | None, signature: str | None, body: bytes, now: datetime) -> str | None:
    """Why an email webhook request is refused (None when it is signed, fresh and intact)."""
    if not secret:
        return "the email webhook secret is not configured"
    if not timestamp or not signature:
        return f"missing {EMAIL_TIMESTAMP_HEADER} or {EMAIL_SIGNATURE_HEADER}"
    if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 12):
        return f"{EMAIL_TIMESTAMP_HEADER} must be Unix seconds"
    if abs(now.timestamp() - int(timestamp)) > MAX_AGE_SECONDS:
        return f"stale: {EMAIL_TIMESTAMP_HEADER} is more than {MAX_AGE_SECONDS} seconds from now"
    expected = email_signature(secret, timestamp, body)
    if not hmac.compare_digest(expected.encode("ascii"), signature.encode("utf-8", "replace")):
        return "bad signature"
    return None
