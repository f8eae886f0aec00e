"""Open pixel, click redirect, unsubscribe and the inbound email/SMS webhooks (SPEC §6)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from aiohttp import web
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from seqflow.channels.errors import InvalidToken
from seqflow.channels.tracking import KIND_CLICK, KIND_OPEN, KIND_UNSUBSCRIBE, PIXEL_GIF, verify
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


@route("GET", "/t/o/{token}.gif", "Open pixel (signed)", rule=policy.PUBLIC, tag="tracking")
async def open_pixel(ctx: Ctx) -> web.Response:
    payload = token_payload(ctx, KIND_OPEN)
    await publish_engagement(ctx, await send_of(ctx, str(payload.get("m"))), "opened", ctx.deps.clock.now())
    return web.Response(body=PIXEL_GIF, content_type="image/gif", headers={"Cache-Control": "no-store"})


@route("GET", "/t/c/{token}", "Click redirect (signed)", rule=policy.PUBLIC, tag="tracking")
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


@route("GET", "/t/u/{token}", "Unsubscribe link (signed)", rule=policy.PUBLIC, tag="tracking")
async def unsubscribe_get(ctx: Ctx) -> web.Response:
    return await _unsubscribe(ctx)


@route("POST", "/t/u/{token}", "Unsubscribe (one-click, signed)", rule=policy.PUBLIC, tag="tracking")
async def unsubscribe_post(ctx: Ctx) -> web.Response:
    return await _unsubscribe(ctx)


class EmailEvent(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: Literal["replied", "bounced"]
    message_id: str = Field(min_length=1)
    at: AwareDatetime | None = None


@route("POST", "/webhooks/email", "Inbound reply or bounce, matched by Message-ID", body=EmailEvent,
       rule=policy.PUBLIC, status=202, tag="webhooks")  # fmt: skip
async def email_webhook(ctx: Ctx) -> web.Response:
    send = await send_of(ctx, ctx.body.message_id)
    await publish_engagement(ctx, send, ctx.body.type, ctx.body.at or ctx.deps.clock.now())
    return reply({"accepted": True}, 202)


class SmsInbound(BaseModel):
    From: str = Field(min_length=1)
    Body: str = ""


@route("POST", "/webhooks/sms", "Inbound SMS (Twilio form): STOP unsubscribes, else a reply", rule=policy.PUBLIC,
       status=202, tag="webhooks")  # fmt: skip
async def sms_webhook(ctx: Ctx) -> web.Response:
    form = SmsInbound.model_validate(dict(await ctx.request.post()))
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
