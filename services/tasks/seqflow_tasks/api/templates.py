"""Templates (SPEC §2): validate, store, read, replace."""

from __future__ import annotations

import uuid
from typing import Any

from aiohttp import web

from seqflow.domain.template import Template
from seqflow_tasks import policy
from seqflow_tasks.api.registry import Ctx, reply, route


def template_out(rec: dict[str, Any]) -> dict[str, Any]:
    return {"id": rec["id"], "name": rec["name"], "owner": rec["owner"], "template": rec["body"],
            "created_at": rec["created_at"], "updated_at": rec["updated_at"]}  # fmt: skip


@route("POST", "/templates", "Validate and store a template (its owner is you)", body=Template,
       rule=policy.OWNER, status=201, tag="templates")  # fmt: skip
async def create_template(ctx: Ctx) -> web.Response:
    body: Template = ctx.body
    policy.check_template_owner(ctx, body.owner)
    async with ctx.deps.pool.acquire() as c:
        rec = await ctx.deps.store.insert_template(c, uuid.uuid4().hex, body.to_json(), ctx.deps.clock.now())
    return reply(template_out(rec), 201)


@route("POST", "/templates/validate", "Validate a template without storing it", body=Template,
       rule=policy.OWNER, tag="templates")  # fmt: skip
async def validate_template(ctx: Ctx) -> web.Response:
    return reply({"ok": True, "steps": [s.key for s in ctx.body.steps()]})


@route("GET", "/templates", "Your templates (an admin sees all)", rule=policy.OWNER, tag="templates")
async def list_templates(ctx: Ctx) -> web.Response:
    async with ctx.deps.pool.acquire() as c:
        recs = await ctx.deps.store.templates_of(c, policy.template_filter(ctx))
    return reply({"templates": [template_out(r) for r in recs]})


@route("GET", "/templates/{id}", "One of your templates", rule=policy.OWNER, tag="templates")
async def get_template(ctx: Ctx) -> web.Response:
    async with ctx.deps.pool.acquire() as c:
        rec = await policy.own_template(ctx, c, ctx.param("id"))
    return reply(template_out(rec))


@route("PUT", "/templates/{id}", "Replace one of your templates (sequences keep their own copy)", body=Template,
       rule=policy.OWNER, tag="templates")  # fmt: skip
async def put_template(ctx: Ctx) -> web.Response:
    policy.check_template_owner(ctx, ctx.body.owner)
    async with ctx.deps.pool.acquire() as c, c.transaction():
        await policy.own_template(ctx, c, ctx.param("id"))
        rec = await ctx.deps.store.update_template(c, ctx.param("id"), ctx.body.to_json(), ctx.deps.clock.now())
    return reply(template_out(rec or {}))
