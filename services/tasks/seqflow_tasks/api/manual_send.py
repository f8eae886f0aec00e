"""Manual email and SMS steps: the rendered draft, Send (through the dispatcher) and Mark as sent.

Send publishes a `send_requested` to `scheduler.due-sends` with the task's idempotency key (sequence, contact,
step, attempt), so the dispatcher sends it exactly once even if the request is repeated. Both Send and
Mark as sent record an activity and complete the task through the Mark As handler, with the outcome that
`Sent` stands for on this step (see `sent_outcome`).
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from seqflow.channels.message_id import idempotency_key
from seqflow.channels.render import render
from seqflow.domain.template import DONE, Template
from seqflow.messaging.envelope import Envelope
from seqflow.messaging.work import SendRequested
from seqflow_tasks.api.registry import ApiError, Ctx, reply, route
from seqflow_tasks.api.tasks import MarkIn, mark, visible_task
from seqflow_tasks.db import Row
from seqflow_tasks.handlers import local_time

SENT = "Sent"
# The permission of the task-working routes: the access policy maps it to its "worker" rule (tasks:mine or
# sequences:activate); which tasks and contacts a worker sees is checked on the object (visible_task).
WORKER = "tasks:mine"
CHANNELS = {"manual_email": "email", "manual_sms": "sms"}


class SendIn(BaseModel):
    """The draft as the user edited it; a missing subject keeps the step's own."""

    model_config = ConfigDict(extra="forbid")
    subject: str | None = Field(default=None, max_length=998)
    body: str = Field(min_length=1, max_length=100_000)


class MarkSentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")


def sent_outcome(menu: list[str]) -> str:
    """The Mark As outcome that `Sent` means on a step: `Sent` when the step has that outcome; else `Done`
    (a step without conditions, whose only move is next); else the step's first outcome, the one its Mark As
    menu lists first."""
    if SENT in menu:
        return SENT
    return DONE if DONE in menu else menu[0]


async def manual_task(ctx: Ctx) -> tuple[Row, str]:
    """The visible, open, non-error manual email / SMS task and its channel."""
    t = await visible_task(ctx)
    channel = CHANNELS.get(t["type"])
    if channel is None or t["kind"] == "error":
        raise ApiError(409, f"a {t['type']} task has nothing to send", "id")
    return t, channel


async def draft_of(ctx: Ctx, t: Row, channel: str) -> dict[str, Any]:
    """The step's subject and body with the contact's (and primary user's) merge fields filled in."""
    async with ctx.deps.pool.acquire() as c:
        contact_rec = await ctx.deps.store.contact(c, t["contact_id"])
        user_rec = await ctx.deps.store.user(c, t["primary_user"]) or {"id": t["primary_user"]}
    contact = (contact_rec or {}).get("data") or {"id": t["contact_id"]}
    user = {k: user_rec.get(k) for k in ("id", "name", "email")}
    try:
        step = Template.model_validate(t["template"]).step(t["step"])
    except KeyError:  # Edit Branches removed the step while the task was open
        raise ApiError(409, f"step {t['step']!r} is no longer in the sequence", "step") from None
    content = step.email if channel == "email" else step.sms
    subject = render(step.email.subject, contact, user) if channel == "email" and step.email else ""
    sender = step.email.from_alias if step.email else user.get("email") or ""
    return {
        "task_id": t["id"], "channel": channel, "to": str(contact.get("email" if channel == "email" else "phone")
        or "").strip(), "from": sender if channel == "email" else ctx.deps.app.settings.sms_from,
        "subject": subject if channel == "email" else None,
        "body": render(content.body, contact, user) if content else "",
    }  # fmt: skip


@route("GET", "/tasks/{id}/draft", "A manual email / SMS step rendered for its contact", permission=WORKER,
       tag="tasks")  # fmt: skip
async def draft(ctx: Ctx) -> web.Response:
    t, channel = await manual_task(ctx)
    return reply(await draft_of(ctx, t, channel))


async def complete(ctx: Ctx, t: Row, text: str) -> dict[str, Any]:
    """Record the activity and complete the task via Mark As; returns Mark As's answer (incl. `next`)."""
    ctx.body = MarkIn(outcome=sent_outcome(list(t["outcomes"])))
    answer = json.loads((await mark(ctx)).body)  # type: ignore[arg-type] - a json_response has bytes
    now = ctx.deps.clock.now()
    act = {"contact_id": t["contact_id"], "sequence_id": t["sequence_id"], "kind": t["type"].split("_")[1].upper(),
           "step": t["step"], "outcome": SENT, "text": text, "user_id": ctx.user["id"], "at": now,
           "local_time": local_time(now, None)}  # fmt: skip
    async with ctx.deps.pool.acquire() as c:
        await ctx.deps.store.insert_activity(c, act)
    return {**answer, "sent": True}


@route("POST", "/tasks/{id}/send", "Send a manual email / SMS step (exactly once) and complete it as Sent",
       body=SendIn, permission=WORKER, tag="tasks")  # fmt: skip
async def send(ctx: Ctx) -> web.Response:
    t, channel = await manual_task(ctx)
    edited: SendIn = ctx.body
    d = await draft_of(ctx, t, channel)
    if not d["to"]:
        raise ApiError(422, f"the contact has no {'email address' if channel == 'email' else 'phone number'}", "to")
    key = idempotency_key(t["sequence_id"], t["contact_id"], t["step"], t["attempt"])
    subject = (edited.subject if edited.subject is not None else d["subject"]) if channel == "email" else None
    request = SendRequested(
        sequence_id=t["sequence_id"], contact_id=t["contact_id"], step=t["step"], attempt=t["attempt"],
        channel=channel, idempotency_key=key, to=d["to"], from_=d["from"], subject=subject, body=edited.body,
        at=ctx.deps.clock.now(),
    )  # type: ignore[arg-type]  # fmt: skip
    answer = await complete(ctx, t, f"Sent {channel} to {d['to']}" + (f": {subject}" if subject else ""))
    env = Envelope.wrap("send_requested", f"{t['sequence_id']}:{t['contact_id']}", request, request.at)
    await ctx.deps.app.publisher.send_all(ctx.deps.app.topic_names.due_sends, [env])
    return reply({**answer, "idempotency_key": key})


@route("POST", "/tasks/{id}/mark-sent", "Mark a manual email / SMS step as sent outside seqflow", body=MarkSentIn,
       permission=WORKER, tag="tasks")  # fmt: skip
async def mark_sent(ctx: Ctx) -> web.Response:
    t, channel = await manual_task(ctx)
    return reply(await complete(ctx, t, f"Marked {channel} as sent (sent outside seqflow)"))
