"""A local fake of the Twilio Messages API for tests and the demo (SPEC §6).

Run: `python -m seqflow.channels.sms_stub --port 8099`. `GET /_stub/messages` lists what it received.
With `--webhook-url URL`, `POST /_stub/inbound` (form `From`, `Body`) plays a person's reply: the stub posts
it to URL as Twilio would, signed with `X-Twilio-Signature` under its auth token.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import binascii
import contextlib
import hmac
import re
import secrets
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any

import aiohttp
from aiohttp import web

from seqflow.channels.sms import IDEMPOTENCY_HEADER
from seqflow.channels.webhook_signing import TWILIO_HEADER, twilio_signature

DEFAULT_ACCOUNT_SID = "AC" + "0" * 32
DEFAULT_AUTH_TOKEN = "stub-auth-token"  # noqa: S105 - a fixed credential for a local fake
_E164 = re.compile(r"^\+[1-9]\d{1,14}$")
_REQUIRED = (
    ("To", 21604, "A 'To' phone number is required."),
    ("From", 21603, "A 'From' phone number is required."),
    ("Body", 21602, "Message body is required."),
)


@dataclass
class SmsStubState:
    """What the stub has accepted, in order, plus its idempotency index."""

    account_sid: str
    auth_token: str
    messages: list[dict[str, Any]] = field(default_factory=list)
    by_token: dict[str, dict[str, Any]] = field(default_factory=dict)
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    webhook_url: str | None = None


STATE_KEY = web.AppKey("sms_stub_state", SmsStubState)


def _error(status: int, code: int, message: str) -> web.Response:
    body = {"code": code, "message": message, "more_info": f"https://www.twilio.com/docs/errors/{code}"}
    return web.json_response({**body, "status": status}, status=status)


def _authorized(request: web.Request, state: SmsStubState) -> bool:
    scheme, _, encoded = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return False
    try:
        user, _, password = base64.b64decode(encoded, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return False
    expected = f"{state.account_sid}:{state.auth_token}"
    return hmac.compare_digest(f"{user}:{password}", expected)


def _validate(form: dict[str, str]) -> web.Response | None:
    for name, code, message in _REQUIRED:
        if not form.get(name, "").strip():
            return _error(400, code, message)
    for name in ("To", "From"):
        if not _E164.match(form[name]):
            return _error(400, 21211, f"The '{name}' number {form[name]} is not a valid phone number.")
    return None


def _new_message(state: SmsStubState, form: dict[str, str]) -> dict[str, Any]:
    return {
        "sid": "SM" + secrets.token_hex(16),
        "account_sid": state.account_sid,
        "to": form["To"],
        "from": form["From"],
        "body": form["Body"],
        "status": "queued",
        "direction": "outbound-api",
        "num_segments": "1",
        "date_created": format_datetime(state.clock(), usegmt=True),
        "received_at": time.time(),  # wall time of arrival: what rate-limit and latency checks measure
    }


async def create_message(request: web.Request) -> web.Response:
    """POST /2010-04-01/Accounts/{sid}/Messages.json."""
    state = request.app[STATE_KEY]
    if not _authorized(request, state):
        return _error(401, 20003, "Authenticate")
    if request.match_info["sid"] != state.account_sid:
        return _error(404, 20404, "The requested resource was not found")
    form = {k: str(v) for k, v in (await request.post()).items()}
    invalid = _validate(form)
    if invalid is not None:
        return invalid
    return web.json_response(_store(state, form, request.headers.get(IDEMPOTENCY_HEADER)), status=201)


def _store(state: SmsStubState, form: dict[str, str], token: str | None) -> dict[str, Any]:
    if token and token in state.by_token:
        return state.by_token[token]
    message = _new_message(state, form)
    state.messages.append(message)
    if token:
        state.by_token[token] = message
    return message


async def inbound(request: web.Request) -> web.Response:
    """POST /_stub/inbound: deliver a reply (`From`, `Body`, optional `To`) to the webhook, signed like Twilio.

    Answers with the webhook's status and body, so a test sees what the service said."""
    state = request.app[STATE_KEY]
    if not state.webhook_url:
        return _error(409, 21620, "The stub was started without --webhook-url.")
    form = {k: str(v) for k, v in (await request.post()).items()}
    params = {"AccountSid": state.account_sid, "MessageSid": "SM" + secrets.token_hex(16), "NumMedia": "0",
              "To": form.get("To", "+15550000000"), "From": form.get("From", ""),
              "Body": form.get("Body", "")}  # fmt: skip
    signature = twilio_signature(state.auth_token, state.webhook_url, params.items())
    async with aiohttp.ClientSession() as http, http.post(state.webhook_url, data=params,
                                                         headers={TWILIO_HEADER: signature}) as r:  # fmt: skip
        return web.json_response({"status": r.status, "body": await r.text()})


async def list_messages(request: web.Request) -> web.Response:
    """GET /_stub/messages: every accepted message, oldest first."""
    return web.json_response(request.app[STATE_KEY].messages)


async def clear_messages(request: web.Request) -> web.Response:
    """DELETE /_stub/messages: forget everything (between demo runs)."""
    state = request.app[STATE_KEY]
    state.messages.clear()
    state.by_token.clear()
    return web.Response(status=204)


def build_app(account_sid: str, auth_token: str, webhook_url: str | None = None) -> web.Application:
    """The stub's aiohttp application; its state is `app[STATE_KEY]`."""
    app = web.Application()
    app[STATE_KEY] = SmsStubState(account_sid=account_sid, auth_token=auth_token, webhook_url=webhook_url)
    app.router.add_post("/_stub/inbound", inbound)
    app.router.add_post("/2010-04-01/Accounts/{sid}/Messages.json", create_message)
    app.router.add_get("/_stub/messages", list_messages)
    app.router.add_delete("/_stub/messages", clear_messages)
    return app


async def start_sms_stub(
    host: str = "127.0.0.1",
    port: int = 0,
    account_sid: str = DEFAULT_ACCOUNT_SID,
    auth_token: str = DEFAULT_AUTH_TOKEN,
    webhook_url: str | None = None,
) -> tuple[web.AppRunner, str]:
    """Serve the stub; port 0 picks a free port. Returns the runner (call `cleanup()`) and base URL."""
    runner = web.AppRunner(build_app(account_sid, auth_token, webhook_url))
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    bound_host, bound_port = runner.addresses[0][:2]
    return runner, f"http://{bound_host}:{bound_port}"


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m seqflow.channels.sms_stub", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8099)
    parser.add_argument("--account-sid", default=DEFAULT_ACCOUNT_SID)
    parser.add_argument("--auth-token", default=DEFAULT_AUTH_TOKEN)
    parser.add_argument("--webhook-url", default=None, help="where POST /_stub/inbound delivers replies (signed)")
    return parser.parse_args(argv)


async def _serve(args: argparse.Namespace) -> None:
    runner, url = await start_sms_stub(args.host, args.port, args.account_sid, args.auth_token, args.webhook_url)
    print(f"sms stub listening on {url}", flush=True)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()


def main(argv: list[str] | None = None) -> None:
    """Entry point of `python -m seqflow.channels.sms_stub`."""
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(_parse_args(argv)))


if __name__ == "__main__":
    main()
