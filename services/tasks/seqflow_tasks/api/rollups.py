"""Rollup lists: create, add and remove members (published to rollup-sync), read the local copy."""

from __future__ import annotations

import uuid

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from seqflow.messaging.base import ContactData
from seqflow.messaging.envelope import Envelope
from seqflow.messaging.rollup import AddMember, ContactUpserted, RemoveMember, RollupCreated
from seqflow_tasks.api.registry import ApiError, Ctx, reply, route


class RollupIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1)


class MembersIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    contacts: list[ContactData] = Field(default_factory=list)
    contact_ids: list[str] = Field(default_factory=list)


async def publish_commands(ctx: Ctx, envs: list[Envelope]) -> None:
    await ctx.deps.app.publisher.send_all(ctx.deps.app.topic_names.rollup_commands, envs)


@route("POST", "/rollups", "Create a rollup list", body=RollupIn, status=201, tag="rollups")
async def create_rollup(ctx: Ctx) -> web.Response:
    rid, now = uuid.uuid4().hex, ctx.deps.clock.now()
    async with ctx.deps.pool.acquire() as c:
        await ctx.deps.store.insert_rollup(c, rid, ctx.body.name, now)
    env = Envelope.wrap("rollup_created", rid, RollupCreated(rollup_id=rid, name=ctx.body.name), now)
    await publish_commands(ctx, [env])
    return reply({"id": rid, "name": ctx.body.name}, 201)


async def known_rollup(ctx: Ctx) -> str:
    rid = ctx.param("id")
    async with ctx.deps.pool.acquire() as c:
        if await ctx.deps.store.rollup(c, rid) is None:
            raise ApiError(404, "no such rollup", "id")
    return rid


@route("POST", "/rollups/{id}/members", "Upsert contacts and add them (or existing contacts) to the rollup",
       body=MembersIn, status=202, tag="rollups")  # fmt: skip
async def add_members(ctx: Ctx) -> web.Response:
    rid, body, now = await known_rollup(ctx), ctx.body, ctx.deps.clock.now()
    async with ctx.deps.pool.acquire() as c:
        missing = set(body.contact_ids) - await ctx.deps.store.existing_contacts(c, body.contact_ids)
        if missing:
            raise ApiError(404, f"unknown contacts: {', '.join(sorted(missing))}", "contact_ids")
        for contact in body.contacts:
            await ctx.deps.store.upsert_contact(c, contact.model_dump(), now)
        await ctx.deps.store.set_roster(c, rid, [x.id for x in body.contacts] + body.contact_ids, True)
    envs: list[Envelope] = []
    for contact in body.contacts:
        envs.append(Envelope.wrap("contact_upserted", contact.id, ContactUpserted(contact=contact), now))
    for cid in [c.id for c in body.contacts] + body.contact_ids:
        envs.append(Envelope.wrap("add_member", cid, AddMember(rollup_id=rid, contact_id=cid, at=now), now))
    await publish_commands(ctx, envs)
    return reply({"accepted": len(body.contacts) + len(body.contact_ids)}, 202)


@route("DELETE", "/rollups/{id}/members/{contact_id}", "Remove a contact from the rollup", status=202,
       tag="rollups")  # fmt: skip
async def remove_member(ctx: Ctx) -> web.Response:
    rid, cid, now = await known_rollup(ctx), ctx.param("contact_id"), ctx.deps.clock.now()
    payload = RemoveMember(rollup_id=rid, contact_id=cid, at=now, how="member_removed")
    async with ctx.deps.pool.acquire() as c:
        await ctx.deps.store.set_roster(c, rid, [cid], False)
    await publish_commands(ctx, [Envelope.wrap("remove_member", cid, payload, now)])
    return reply({"accepted": 1}, 202)


@route("GET", "/rollups/{id}", "A rollup and its members (read copy)", tag="rollups")
async def get_rollup(ctx: Ctx) -> web.Response:
    async with ctx.deps.pool.acquire() as c:
        rec = await ctx.deps.store.rollup(c, ctx.param("id"))
        if rec is None:
            raise ApiError(404, "no such rollup", "id")
        members = await ctx.deps.store.members(c, rec["id"])
    out = [{"contact_id": m["contact_id"], "active": m["active"], "how": m["how"], "contact": m["data"]}
           for m in members]  # fmt: skip
    return reply({"id": rec["id"], "name": rec["name"], "members": out})
