"""Dry-run preview of an activation (issue 9): the simulator's engine on the rollup's contacts; changes nothing."""

from __future__ import annotations

import asyncio

from aiohttp import web
from pydantic import Field

from seqflow.domain.activation import Activation
from seqflow.domain.template import Template
from seqflow.rules.preview import HORIZON_DAYS, preview, scenario_for
from seqflow_tasks import owner_db
from seqflow_tasks.api.owner_access import answer, checked, naming
from seqflow_tasks.api.registry import Ctx, reply, route
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
    template = await _template(ctx, body.template_id)
    await checked(known_rollup(naming(ctx, body.rollup_id)), "rollup_id")
    async with ctx.deps.pool.acquire() as c:
        contacts = await owner_db.roster_contacts(ctx.deps.store, c, body.rollup_id)
    sc = scenario_for(template, body, contacts, ctx.deps.clock.now(), body.horizon_days)
    # A large rollup takes a second or two of CPU: off the event loop, so the service keeps consuming.
    result = await asyncio.to_thread(preview, sc)
    return reply(result.to_json())


async def _template(ctx: Ctx, tid: str) -> Template:
    """The template as `GET /templates/{id}` gives it to this caller: the same existence and access rules."""
    found = await checked(answer(naming(ctx, tid), "GET", "/templates/{id}"), "template_id")
    return Template.model_validate(found["template"])
