"""Signing helpers for the inbound webhooks, so tests go through the real signature checks (SPEC §6)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from seqflow.channels.webhook_signing import (
    EMAIL_SIGNATURE_HEADER,
    EMAIL_TIMESTAMP_HEADER,
    TWILIO_HEADER,
    email_signature,
    twilio_signature,
)

EMAIL_SECRET = "dev-email-webhook-secret"  # noqa: S105 - the dev default the services start with in tests


def signed_email(event: dict[str, Any], at: datetime, secret: str = EMAIL_SECRET) -> dict[str, Any]:
    """`aiohttp` request arguments (data, headers) of an email webhook call signed at instant `at`."""
    return signed_email_raw(json.dumps(event).encode(), at, secret)


def signed_email_raw(raw: bytes, at: datetime, secret: str = EMAIL_SECRET) -> dict[str, Any]:
    """The same for a raw body (which need not even be JSON)."""
    stamp = str(int(at.timestamp()))
    headers = {"Content-Type": "application/json", EMAIL_TIMESTAMP_HEADER: stamp,
               EMAIL_SIGNATURE_HEADER: email_signature(secret, stamp, raw)}  # fmt: skip
    return {"data": raw, "headers": headers}


def signed_sms(url: str, form: dict[str, str], auth_token: str) -> dict[str, Any]:
    """Request arguments of an inbound SMS to `url` (the full public URL) signed like Twilio."""
    headers = {"Content-Type": "application/x-www-form-urlencoded",
               TWILIO_HEADER: twilio_signature(auth_token, url, form.items())}  # fmt: skip
    return {"data": urlencode(form), "headers": headers}
