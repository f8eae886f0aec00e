"""The overview (SPEC §5) and comparable metrics side by side."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from seqflow.domain.template import Template
from seqflow_tasks import policy
from seqflow_tasks.api.registry import ApiError, Ctx, Query, reply, route
from seqflow_tasks.api.sequences import display_state
from seqflow_tasks.db import Conn, Row


def pct(part: int, whole: int) -> float:
    return round(100.0 * part / whole, 1) if whole else 0.0


async def figures(ctx: Ctx, c: Conn, seq: Row) -> dict[str, Any]:
    store, sid = ctx.deps.store, seq["id"]
    enr, tasks = await store.enrollment_counts(c, sid), await store.task_counts(c, sid)
    sends, eng = await store.send_counts(c, sid), await store.engagement_counts(c, sid)
    emails = sends.get("emails") or 0
    return {
        "id": sid, "name": seq["name"], "state": display_state(seq, ctx.deps.clock.now()),
        "active": enr.get("active") or 0, "completed": enr.get("completed") or 0,
        "exited": enr.get("exited") or 0, "tasks_todo": tasks.get("todo") or 0,
        "tasks_completed": tasks.get("done") or 0, "emails_sent": emails,
        "open_pct": pct(eng.get("opened", 0), emails), "click_pct": pct(eng.get("clicked", 0), emails),
        "reply_pct": pct(eng.get("replied", 0), emails),
        "bounce_pct": pct(eng.get("bounced", 0), sends.get("reached") or 0),  # refused sends count in the base
        "sms_sent": sends.get("sms") or 0,
    }  # fmt: skip


def mine(ctx: Ctx, seqs: list[Row]) -> list[Row]:
    return [s for s in seqs if policy.on_sequence(ctx, s)]


@route(
    "GET",
    "/overview",
    "Per sequence: state, names, tasks, sends and engagement rates",
    rule=policy.WORKER,
    query=(Query("archived", {"type": "string", "enum": ["true", "false"]}),),
    tag="overview",
)
async def overview(ctx: Ctx) -> web.Response:
    archived = ctx.request.query.get("archived") == "true"
    async with ctx.deps.pool.acquire() as c:
        seqs = [s for s in mine(ctx, await ctx.deps.store.sequences(c)) if archived or not s["archived"]]
        out = [await figures(ctx, c, s) for s in seqs]
    return reply({"sequences": out})


async def conversion(ctx: Ctx, c: Conn, seq: Row) -> list[dict[str, Any]]:
    """Per step: how many enrollments got past it, as a count and a share of those who entered."""
    reach = await ctx.deps.store.step_reach(c, seq["id"])
    entered = await ctx.deps.store.entered_count(c, seq["id"])
    template = Template.model_validate(seq["template"])
    return [
        {"step": s.key, "finished": reach.get(s.key, 0), "pct_of_entered": pct(reach.get(s.key, 0), entered)}
        for s in template.steps()
    ]


@route("GET", "/metrics/compare", "Overview figures side by side, median entry→completion, conversion per step",
       rule=policy.WORKER, query=(Query("sequence", {"type": "array", "items": {"type": "string"}, "minItems": 1},
                                        required=True),), tag="overview")  # fmt: skip
async def compare(ctx: Ctx) -> web.Response:
    ids = ctx.request.query.getall("sequence", [])
    if not ids:
        raise ApiError(422, "give at least one sequence", "sequence")
    async with ctx.deps.pool.acquire() as c:
        seqs = {s["id"]: s for s in mine(ctx, await ctx.deps.store.sequences(c, ids))}
        missing = [i for i in ids if i not in seqs]
        if missing:
            raise ApiError(404, f"no such sequences: {', '.join(missing)}", "sequence")
        out = []
        for sid in ids:
            row = await figures(ctx, c, seqs[sid])
            enr = await ctx.deps.store.enrollment_counts(c, sid)
            row["median_completion_seconds"] = enr.get("median_seconds")
            row["conversion"] = await conversion(ctx, c, seqs[sid])
            out.append(row)
    return reply({"sequences": out})
