"""Open pixel, click redirect, unsubscribe and the inbound email/SMS webhooks (SPEC §6)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from urllib.parse import parse_qsl

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from seqflow.channels.errors import InvalidToken
from seqflow.channels.tracking import KIND_CLICK, KIND_OPEN, KIND_UNSUBSCRIBE, PIXEL_GIF, verify
from seqflow.channels.webhook_signing import (
    EMAIL_SIGNATURE_HEADER,
    EMAIL_TIMESTAMP_HEADER,
    TWILIO_HEADER,
    email_problem,
    twilio_valid,
)
from seqflow.domain.bounds import Instant
from seqflow.messaging.engagement import Engagement, Unsubscribed
from seqflow.messaging.envelope import Envelope
from seqflow_tasks import policy
from seqflow_tasks.api.registry import ApiError, Ctx, reply, route
from seqflow_tasks.db import Row


def token_payload(ctx: Ctx, kind: str) -> dict[str, Any]:
    secret = ctx.deps.app.settings.tracking_secret.encode("utf-8")
    try:
        return verify(secret, ctx.param("token"), kind)
    except InvalidToken as exc:
        raise ApiError(403, f"invalid tracking token: {exc}", "token") from None


async def send_of(ctx: Ctx, message_id: str) -> Row:
    async with ctx.deps.pool.acquire() as c:
        send = await ctx.deps.store.send_by_message_id(c, message_id)
    if send is None:
        raise ApiError(404, f"no send with message id {message_id!r}", "message_id")
    return send


async def publish_engagement(ctx: Ctx, send: Row, kind: str, at: datetime) -> None:
    p = Engagement(sequence_id=send["sequence_id"], contact_id=send["contact_id"], step=send["step"],
                   kind=kind, message_id=send["message_id"], at=at)  # type: ignore[arg-type]  # fmt: skip
    env = Envelope.wrap("engagement", f"{p.sequence_id}:{p.contact_id}", p, at)
    await ctx.deps.app.publisher.send_all(ctx.deps.app.topic_names.engagement_events, [env])


async def publish_unsubscribed(ctx: Ctx, address: str, send: Row | None, at: datetime) -> None:
    sid, cid = (send["sequence_id"], send["contact_id"]) if send else (None, None)
    p = Unsubscribed(address=address, sequence_id=sid, contact_id=cid, at=at)
    key = f"{sid}:{cid}" if send else address
    env = Envelope.wrap("unsubscribed", key, p, at)
    await ctx.deps.app.publisher.send_all(ctx.deps.app.topic_names.engagement_events, [env])


@route("GET", "/t/o/{token}.gif", "Open pixel (signed)", rule=policy.PUBLIC, produces="image/gif",
       tag="tracking")  # fmt: skip
async def open_pixel(ctx: Ctx) -> web.Response:
    payload = token_payload(ctx, KIND_OPEN)
    await publish_engagement(ctx, await send_of(ctx, str(payload.get("m"))), "opened", ctx.deps.clock.now())
    return web.Response(body=PIXEL_GIF, content_type="image/gif", headers={"Cache-Control": "no-store"})


@route("GET", "/t/c/{token}", "Click redirect (signed)", rule=policy.PUBLIC, status=302, produces=None,
       tag="tracking")  # fmt: skip
async def click(ctx: Ctx) -> web.Response:
    payload = token_payload(ctx, KIND_CLICK)
    await publish_engagement(ctx, await send_of(ctx, str(payload.get("m"))), "clicked", ctx.deps.clock.now())
    raise web.HTTPFound(str(payload.get("u")))


async def _unsubscribe(ctx: Ctx) -> web.Response:
    payload = token_payload(ctx, KIND_UNSUBSCRIBE)
    async with ctx.deps.pool.acquire() as c:
        send = await ctx.deps.store.send_by_message_id(c, str(payload.get("m")))
    await publish_unsubscribed(ctx, str(payload.get("a")), send, ctx.deps.clock.now())
    return web.Response(text="You are unsubscribed.", content_type="text/plain")


@route("GET", "/t/u/{token}", "Unsubscribe link (signed)", rule=policy.PUBLIC, produces="text/plain",
       tag="tracking")  # fmt: skip
async def unsubscribe_get(ctx: Ctx) -> web.Response:
    return await _unsubscribe(ctx)


@route("POST", "/t/u/{token}", "Unsubscribe (one-click, signed)", rule=policy.PUBLIC,
       produces="text/plain", tag="tracking")  # fmt: skip
async def unsubscribe_post(ctx: Ctx) -> web.Response:
    return await _unsubscribe(ctx)


class EmailEvent(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: Literal["replied", "bounced"]
    message_id: str = Field(min_length=3, max_length=300, pattern=r"^<[^<>\x00]+>$")
    at: Instant | None = None


async def signed_email(ctx: Ctx) -> None:
    """SPEC §6: HMAC-SHA256 of `<timestamp>.<raw body>` with the shared secret, at most 5 minutes old."""
    h, raw = ctx.request.headers, await ctx.request.read()
    secret = ctx.deps.app.settings.email_webhook_secret
    problem = email_problem(secret, h.get(EMAIL_TIMESTAMP_HEADER), h.get(EMAIL_SIGNATURE_HEADER), raw,
                            ctx.deps.clock.now())  # fmt: skip
    if problem is not None:
        raise ApiError(401, problem, EMAIL_SIGNATURE_HEADER)


@route("POST", "/webhooks/email", "Inbound reply or bounce, matched by Message-ID (signed)", body=EmailEvent,
       rule=policy.PUBLIC, verify=signed_email, headers=(EMAIL_TIMESTAMP_HEADER, EMAIL_SIGNATURE_HEADER),
       status=202, tag="webhooks")  # fmt: skip
async def email_webhook(ctx: Ctx) -> web.Response:
    send = await send_of(ctx, ctx.body.message_id)
    await publish_engagement(ctx, send, ctx.body.type, ctx.body.at or ctx.deps.clock.now())
    return reply({"accepted": True}, 202)


class SmsInbound(BaseModel):
    """The fields of Twilio's inbound message form that seqflow reads; the others are signed but ignored."""

    From: str = Field(min_length=2, max_length=16, pattern=r"^\+[1-9][0-9]{1,14}$")
    Body: str = Field(default="", max_length=1600, pattern=r"^[^\x00]*$")


FORM = "application/x-www-form-urlencoded"


async def signed_sms(ctx: Ctx) -> None:
    """Twilio's X-Twilio-Signature over SEQFLOW_PUBLIC_URL + path + query and the sorted form fields."""
    if ctx.request.content_type != FORM:
        raise ApiError(415, f"send the inbound SMS as {FORM}", "Content-Type")
    try:
        pairs = parse_qsl((await ctx.request.read()).decode("utf-8"), keep_blank_values=True, max_num_fields=200)
    except (UnicodeDecodeError, ValueError) as exc:
        raise ApiError(400, f"not a URL-encoded form: {exc}", "(body)") from None
    settings = ctx.deps.app.settings
    url = settings.public_url.rstrip("/") + ctx.request.raw_path
    if not twilio_valid(settings.sms_auth_token, url, pairs, ctx.request.headers.get(TWILIO_HEADER, "")):
        raise ApiError(401, "missing or bad X-Twilio-Signature", TWILIO_HEADER)
    ctx.body = SmsInbound.model_validate(dict(pairs))


@route("POST", "/webhooks/sms", "Inbound SMS (Twilio form, signed): STOP unsubscribes, else a reply",
       rule=policy.PUBLIC, verify=signed_sms, form=SmsInbound, headers=(TWILIO_HEADER,), status=202,
       tag="webhooks")  # fmt: skip
async def sms_webhook(ctx: Ctx) -> web.Response:
    form: SmsInbound = ctx.body
    now = ctx.deps.clock.now()
    async with ctx.deps.pool.acquire() as c:
        send = await ctx.deps.store.latest_sms_to(c, form.From)
    if form.Body.strip().upper() in {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT"}:
        await publish_unsubscribed(ctx, form.From, send, now)
        return reply({"accepted": True, "unsubscribed": True}, 202)
    if send is None:
        raise ApiError(404, f"no SMS was sent to {form.From}", "From")
    await publish_engagement(ctx, send, "replied", now)
    return reply({"accepted": True}, 202)
