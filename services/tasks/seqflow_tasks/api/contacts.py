"""Contacts: activities, notes, manual activities and About fields (published to rollup-sync)."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from seqflow.domain.text import Text
from seqflow.messaging.base import ContactData, ContactFields
from seqflow.messaging.envelope import Envelope
from seqflow.messaging.rollup import ContactUpserted
from seqflow_tasks import policy
from seqflow_tasks.api.registry import ApiError, Ctx, reply, route
from seqflow_tasks.api.tasks import activity_out
from seqflow_tasks.handlers import local_time


class NoteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: Text


class ActivityIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: str = Field(default="MANUAL", min_length=1, max_length=40, pattern=r"^[A-Za-z][A-Za-z0-9_ -]*$")
    text: Text


class AboutIn(ContactFields):
    """Only the fields sent are changed (the save of the About panel)."""


async def known_contact(ctx: Ctx) -> dict[str, Any]:
    async with ctx.deps.pool.acquire() as c:
        await policy.require_contact(ctx, c, ctx.param("id"))
        rec = await ctx.deps.store.contact(c, ctx.param("id"))
    if rec is None:
        raise ApiError(404, "no such contact", "id")
    return rec


@route("GET", "/contacts/{id}/activities", "A contact's activities, newest first", rule=policy.WORKER,
       tag="contacts")  # fmt: skip
async def activities(ctx: Ctx) -> web.Response:
    """Known to the read copy or not: a contact's SEQUENCE activities may arrive before its data."""
    async with ctx.deps.pool.acquire() as c:
        await policy.require_contact(ctx, c, ctx.param("id"))
        rec = await ctx.deps.store.contact(c, ctx.param("id"))
        acts = await ctx.deps.store.activities(c, ctx.param("id"), 200)
    if rec is None and not acts:
        raise ApiError(404, "no such contact", "id")
    contact = rec["data"] if rec else {"id": ctx.param("id")}
    return reply({"contact": contact, "activities": [activity_out(a) for a in acts]})


async def _add(ctx: Ctx, kind: str, text: str) -> web.Response:
    rec, now = await known_contact(ctx), ctx.deps.clock.now()
    act = {"contact_id": rec["id"], "kind": kind, "text": text, "user_id": ctx.user["id"], "at": now,
           "local_time": local_time(now, None)}  # fmt: skip
    async with ctx.deps.pool.acquire() as c:
        await ctx.deps.store.insert_activity(c, act)
    return reply(act, 201)


@route("POST", "/contacts/{id}/notes", "Add a note", body=NoteIn, rule=policy.WORKER, status=201, tag="contacts")
async def add_note(ctx: Ctx) -> web.Response:
    return await _add(ctx, "NOTE", ctx.body.text)


@route("POST", "/contacts/{id}/activities", "Add a manual activity", body=ActivityIn, rule=policy.WORKER,
       status=201, tag="contacts")  # fmt: skip
async def add_activity(ctx: Ctx) -> web.Response:
    return await _add(ctx, ctx.body.kind.upper(), ctx.body.text)


@route("PATCH", "/contacts/{id}", "Edit About fields (published as contact_upserted)", body=AboutIn,
       rule=policy.WORKER, tag="contacts")  # fmt: skip
async def edit_contact(ctx: Ctx) -> web.Response:
    rec, now = await known_contact(ctx), ctx.deps.clock.now()
    contact = ContactData.model_validate({**rec["data"], **ctx.body.model_dump(exclude_unset=True)})
    async with ctx.deps.pool.acquire() as c:
        await ctx.deps.store.upsert_contact(c, contact.model_dump(), now)
    env = Envelope.wrap("contact_upserted", contact.id, ContactUpserted(contact=contact), now)
    await ctx.deps.app.publisher.send_all(ctx.deps.app.topic_names.rollup_commands, [env])
    return reply(contact.model_dump())
