"""A contact's sequences: each enrollment the caller may see, with its sequence's state and current step."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from seqflow_tasks import policy
from seqflow_tasks.api.manual_send import WORKER
from seqflow_tasks.api.registry import Ctx, reply, route
from seqflow_tasks.api.sequences import display_state
from seqflow_tasks.db import Row, rows

# One read-only query for this one route; it lives here rather than in db.Store so this module stays the
# whole of the feature (the contact page of the web UI).
ENROLLMENTS = (
    "SELECT e.*, s.name AS sequence_name, s.state, s.archived, s.begin_at, s.resumed_at, s.primary_user, s.team"
    " FROM {schema}.enrollments e JOIN {schema}.sequences s ON s.id = e.sequence_id"
    " WHERE e.contact_id = $1 ORDER BY s.activated_at, s.id"
)


def enrollment_out(e: Row, ctx: Ctx) -> dict[str, Any]:
    return {
        "sequence_id": e["sequence_id"], "sequence": e["sequence_name"],
        "sequence_state": display_state(e, ctx.deps.clock.now()), "status": e["status"], "phase": e["phase"],
        "step": e["step"], "next_at": e["next_at"], "paused": e["paused"], "last_step": e["last_step"],
        "last_outcome": e["last_outcome"], "steps_done": e["steps_done"],
    }  # fmt: skip


@route("GET", "/contacts/{id}/sequences", "The sequences a contact is in (those the caller can see)",
       permission=WORKER, tag="contacts")  # fmt: skip
async def contact_sequences(ctx: Ctx) -> web.Response:
    async with ctx.deps.pool.acquire() as c:
        await policy.require_contact(ctx, c, ctx.param("id"))  # a contact you cannot see: 404, like its other routes
        found = rows(await c.fetch(ctx.deps.store.q(ENROLLMENTS), ctx.param("id")))
    mine = [e for e in found if policy.on_sequence(ctx, e)]
    return reply({"contact_id": ctx.param("id"), "sequences": [enrollment_out(e, ctx) for e in mine]})
