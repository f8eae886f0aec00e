"""Dry-run preview of an activation (issue 9): the simulator's engine on the rollup's contacts; changes nothing."""

from __future__ import annotations

import asyncio

from aiohttp import web
from pydantic import Field

from seqflow.domain.activation import Activation
from seqflow.domain.template import Template
from seqflow.rules.preview import HORIZON_DAYS, preview, scenario_for
from seqflow_tasks import owner_db
from seqflow_tasks.api.registry import ApiError, Ctx, reply, route
from seqflow_tasks.api.rollups import known_rollup


class PreviewIn(Activation):
    """The activation form's fields; the name may still be blank, and the look-ahead may be chosen."""

    name: str = ""
    template_id: str = Field(min_length=1)
    rollup_id: str = Field(min_length=1)
    horizon_days: int = Field(default=HORIZON_DAYS, ge=1, le=366)


@route("POST", "/sequences/preview", "Dry run of an activation on the rollup's contacts (changes nothing)",
       body=PreviewIn, permission="sequences:activate", tag="sequences")  # fmt: skip
async def preview_activation(ctx: Ctx) -> web.Response:
    body: PreviewIn = ctx.body
    async with ctx.deps.pool.acquire() as c:
        tpl = await ctx.deps.store.template(c, body.template_id)
        if tpl is None:
            raise ApiError(404, f"no template {body.template_id!r}", "template_id")
    await _rollup_check(ctx, body)
    async with ctx.deps.pool.acquire() as c:
        contacts = await owner_db.roster_contacts(ctx.deps.store, c, body.rollup_id)
    sc = scenario_for(Template.model_validate(tpl["body"]), body, contacts, ctx.deps.clock.now(), body.horizon_days)
    # A large rollup takes a second or two of CPU: off the event loop, so the service keeps consuming.
    result = await asyncio.to_thread(preview, sc)
    return reply(result.to_json())


class _RollupInBody(Ctx):
    """The request as `known_rollup` reads it: the rollup is the body's `rollup_id`, not a path part."""

    def param(self, name: str) -> str:
        return str(self.body.rollup_id) if name == "id" else super().param(name)


async def _rollup_check(ctx: Ctx, body: PreviewIn) -> None:
    """The rollups routes' own check (existence, and whatever access rule they apply), named for the form."""
    try:
        await known_rollup(_RollupInBody(ctx.request, ctx.deps, ctx.user, body))
    except ApiError as exc:
        raise ApiError(exc.status, f"rollup {body.rollup_id!r}: {exc.error}", "rollup_id") from None
