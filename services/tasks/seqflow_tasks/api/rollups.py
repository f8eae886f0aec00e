"""Rollup lists: create, add and remove members (published to rollup-sync), read the local copy."""

from __future__ import annotations

import uuid

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, field_validator

from seqflow.domain.errors import DomainError
from seqflow.domain.text import MAX_ID, Id, Name
from seqflow.messaging.base import ContactData
from seqflow.messaging.envelope import Envelope
from seqflow.messaging.rollup import AddMember, ContactUpserted, RemoveMember, RollupCreated
from seqflow_tasks import policy
from seqflow_tasks.api.registry import ApiError, Ctx, reply, route
from seqflow_tasks.db import Conn

MAX_BATCH = 1000


class RollupIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Name


class MembersIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    contacts: list[ContactData] = Field(default_factory=list, max_length=MAX_BATCH)
    contact_ids: list[Id] = Field(default_factory=list, max_length=MAX_BATCH)

    @field_validator("contacts")
    @classmethod
    def _ids_fit(cls, contacts: list[ContactData]) -> list[ContactData]:
        """Contact ids are primary keys: bounded like `contact_ids` (an index cannot hold a huge value)."""
        for i, contact in enumerate(contacts):
            if len(contact.id) > MAX_ID:
                raise DomainError([(f"[{i}].id", f"must be at most {MAX_ID} characters")])
        return contacts


async def publish_commands(ctx: Ctx, envs: list[Envelope]) -> None:
    await ctx.deps.app.publisher.send_all(ctx.deps.app.topic_names.rollup_commands, envs)


@route("POST", "/rollups", "Create a rollup list (its owner is you)", body=RollupIn, rule=policy.OWNER,
       status=201, tag="rollups")  # fmt: skip
async def create_rollup(ctx: Ctx) -> web.Response:
    rid, now = uuid.uuid4().hex, ctx.deps.clock.now()
    async with ctx.deps.pool.acquire() as c:
        await ctx.deps.store.insert_rollup(c, rid, ctx.body.name, policy.me(ctx), now)
    env = Envelope.wrap("rollup_created", rid, RollupCreated(rollup_id=rid, name=ctx.body.name), now)
    await publish_commands(ctx, [env])
    return reply({"id": rid, "name": ctx.body.name, "owner": policy.me(ctx)}, 201)


async def known_rollup(ctx: Ctx) -> str:
    async with ctx.deps.pool.acquire() as c:
        return str((await policy.own_rollup(ctx, c, ctx.param("id")))["id"])


async def _check_contacts(ctx: Ctx, c: Conn, body: MembersIn) -> None:
    """Existing contacts join only if the caller may see them, and an upsert never rewrites someone else's
    contact: an id the caller cannot see is answered as unknown (its existence is not disclosed)."""
    given = [x.id for x in body.contacts]
    existing = await ctx.deps.store.existing_contacts(c, [*body.contact_ids, *given])
    visible = await policy.visible_contacts(ctx, c, existing)
    missing = sorted(set(body.contact_ids) - visible)
    if missing:
        raise ApiError(404, f"unknown contacts: {', '.join(missing)}", "contact_ids")
    taken = sorted((set(given) & existing) - visible)
    if taken:
        raise ApiError(409, f"contact ids already in use: {', '.join(taken)}", "contacts")


@route("POST", "/rollups/{id}/members", "Upsert contacts and add them (or existing contacts) to your rollup",
       body=MembersIn, rule=policy.OWNER, status=202, tag="rollups")  # fmt: skip
async def add_members(ctx: Ctx) -> web.Response:
    rid, body, now = await known_rollup(ctx), ctx.body, ctx.deps.clock.now()
    async with ctx.deps.pool.acquire() as c:
        await _check_contacts(ctx, c, body)
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


@route("DELETE", "/rollups/{id}/members/{contact_id}", "Remove a contact from your rollup", status=202,
       rule=policy.OWNER, tag="rollups")  # fmt: skip
async def remove_member(ctx: Ctx) -> web.Response:
    rid, cid, now = await known_rollup(ctx), ctx.param("contact_id"), ctx.deps.clock.now()
    payload = RemoveMember(rollup_id=rid, contact_id=cid, at=now, how="member_removed")
    async with ctx.deps.pool.acquire() as c:
        await ctx.deps.store.set_roster(c, rid, [cid], False)
    await publish_commands(ctx, [Envelope.wrap("remove_member", cid, payload, now)])
    return reply({"accepted": 1}, 202)


@route("GET", "/rollups/{id}", "One of your rollups and its members (read copy)", rule=policy.OWNER,
       tag="rollups")  # fmt: skip
async def get_rollup(ctx: Ctx) -> web.Response:
    async with ctx.deps.pool.acquire() as c:
        rec = await policy.own_rollup(ctx, c, ctx.param("id"))
        members = await ctx.deps.store.members(c, rec["id"])
    out = [{"contact_id": m["contact_id"], "active": m["active"], "how": m["how"], "contact": m["data"]}
           for m in members]  # fmt: skip
    return reply({"id": rec["id"], "name": rec["name"], "owner": rec["owner"], "members": out})
