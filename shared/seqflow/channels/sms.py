"""Send an SMS through a Twilio-style HTTP API (SPEC §6)."""

from __future__ import annotations

from typing import Any

import aiohttp

from seqflow.channels.errors import BouncedError, PermanentSendError, SendError, TransientSendError

IDEMPOTENCY_HEADER = "I-Twilio-Idempotency-Token"
# Twilio error codes that mean the number itself cannot receive: invalid, not mobile, unreachable, opted out.
INVALID_NUMBER_CODES = frozenset({21211, 21214, 21217, 21401, 21407, 21421, 21610, 21612, 21614})


def messages_url(base_url: str, account_sid: str) -> str:
    """`{base}/2010-04-01/Accounts/{sid}/Messages.json`."""
    return f"{base_url.rstrip('/')}/2010-04-01/Accounts/{account_sid}/Messages.json"


async def send_sms(
    session: aiohttp.ClientSession,
    base_url: str,
    account_sid: str,
    auth_token: str,
    to: str,
    from_: str,
    body: str,
    idempotency_key: str,
) -> str:
    """POST the message and return the provider's message sid; the session's timeout applies.

    4xx -> PermanentSendError (except 429), 429/5xx/connection trouble -> TransientSendError.
    """
    try:
        async with session.post(
            messages_url(base_url, account_sid),
            data={"To": to, "From": from_, "Body": body},
            headers={
                "Authorization": aiohttp.encode_basic_auth(account_sid, auth_token),
                IDEMPOTENCY_HEADER: idempotency_key,
            },
        ) as resp:
            payload = await _json_or_empty(resp)
            return _sid_or_raise(resp.status, payload)
    except (TimeoutError, aiohttp.ClientError) as exc:
        raise TransientSendError(f"SMS provider unreachable: {type(exc).__name__}: {exc}") from exc


async def _json_or_empty(resp: aiohttp.ClientResponse) -> dict[str, Any]:
    try:
        payload = await resp.json(content_type=None)
    except ValueError:
        return {}
    return payload if isinstance(payload, dict) else {}


def _sid_or_raise(status: int, payload: dict[str, Any]) -> str:
    if status < 300 and isinstance(payload.get("sid"), str):
        return str(payload["sid"])
    raise provider_error(status, payload)


def provider_error(status: int, payload: dict[str, Any]) -> SendError:
    """Map a non-success response to a send error carrying the provider's `message` and `code`."""
    code = payload.get("code")
    message = str(payload.get("message") or f"HTTP {status}")
    text = f"SMS provider {status}: {message}" + (f" (code {code})" if code is not None else "")
    retryable = status == 429 or status >= 500 or status < 400
    kind = TransientSendError if retryable else BouncedError if code in INVALID_NUMBER_CODES else PermanentSendError
    return kind(text, code=code if isinstance(code, int) else None, status=status)
