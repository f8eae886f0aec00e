"""Templates (SPEC §2): validate, store, read, replace."""

from __future__ import annotations

import uuid
from typing import Any

from aiohttp import web

from seqflow.domain.template import Template
from seqflow_tasks.api.registry import ApiError, Ctx, reply, route


def template_out(rec: dict[str, Any]) -> dict[str, Any]:
    return {"id": rec["id"], "name": rec["name"], "owner": rec["owner"], "template": rec["body"],
            "created_at": rec["created_at"], "updated_at": rec["updated_at"]}  # fmt: skip


@route("POST", "/templates", "Validate and store a template", body=Template, status=201, tag="templates")
async def create_template(ctx: Ctx) -> web.Response:
    body: Template = ctx.body
    async with ctx.deps.pool.acquire() as c:
        rec = await ctx.deps.store.insert_template(c, uuid.uuid4().hex, body.to_json(), ctx.deps.clock.now())
    return reply(template_out(rec), 201)


@route("POST", "/templates/validate", "Validate a template without storing it", body=Template,
       tag="templates")  # fmt: skip
async def validate_template(ctx: Ctx) -> web.Response:
    return reply({"ok": True, "steps": [s.key for s in ctx.body.steps()]})


@route("GET", "/templates", "List templates", tag="templates")
async def list_templates(ctx: Ctx) -> web.Response:
    async with ctx.deps.pool.acquire() as c:
        recs = await ctx.deps.store.templates(c)
    return reply({"templates": [template_out(r) for r in recs]})


@route("GET", "/templates/{id}", "One template", tag="templates")
async def get_template(ctx: Ctx) -> web.Response:
    async with ctx.deps.pool.acquire() as c:
        rec = await ctx.deps.store.template(c, ctx.param("id"))
    if rec is None:
        raise ApiError(404, "no such template", "id")
    return reply(template_out(rec))


@route("PUT", "/templates/{id}", "Replace a template (sequences keep their own copy)", body=Template,
       tag="templates")  # fmt: skip
async def put_template(ctx: Ctx) -> web.Response:
    async with ctx.deps.pool.acquire() as c:
        rec = await ctx.deps.store.update_template(c, ctx.param("id"), ctx.body.to_json(), ctx.deps.clock.now())
    if rec is None:
        raise ApiError(404, "no such template", "id")
    return reply(template_out(rec))
