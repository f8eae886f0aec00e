"""The task list, task detail, Mark As, the queue and the per-enrollment commands (SPEC §5)."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from seqflow.domain.bounds import parse_id, parse_instant_text
from seqflow.domain.template import RETRY, Template
from seqflow.messaging.envelope import Envelope
from seqflow.messaging.outcomes import TaskAction
from seqflow.messaging.rollup import RemoveMember
from seqflow_tasks import policy
from seqflow_tasks.api.registry import ApiError, Ctx, Query, reply, route
from seqflow_tasks.api.sequences import visible_sequence
from seqflow_tasks.db import Row

FILTERS = ("sequence", "user", "priority", "type", "due_from", "due_to")
_INSTANT = {"type": "string", "format": "date-time"}
LIST_QUERY = tuple(Query(n, _INSTANT if n.startswith("due_") else {"type": "string"}) for n in FILTERS)


class MarkIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    outcome: str = Field(min_length=1)


def _instant(ctx: Ctx, name: str) -> datetime:
    try:
        return parse_instant_text(ctx.request.query[name])
    except ValueError as exc:
        raise ApiError(422, f"{name}: must be an ISO-8601 instant with a timezone ({exc})", name) from None


def list_filter(ctx: Ctx, alias: str = "t") -> tuple[str, list[Any]]:
    """The WHERE clause of the caller's list: visibility plus the query-string filters."""
    q, clauses, args = ctx.request.query, list[str](), list[Any]()

    def add(sql: str, value: Any) -> None:
        args.append(value)
        clauses.append(sql.replace("?", f"${len(args)}"))

    if not policy.is_admin(ctx):
        add(policy.MEMBER_SQL, ctx.user["id"])
    if "sequence" in q:
        add(f"{alias}.sequence_id = ?", q["sequence"])
    if "user" in q:
        add(policy.MEMBER_SQL, q["user"])
    if "priority" in q and alias == "t":
        add("t.priority = ?", q["priority"])
    if "type" in q and alias == "t":
        add("t.type = ?", q["type"])
    for name, op in (("due_from", ">="), ("due_to", "<")):
        if name in q:
            add(f"{'t.due_at' if alias == 't' else 'e.next_at'} {op} ?", _instant(ctx, name))
    return (" AND ".join(clauses) or "true"), args


def task_out(t: Row) -> dict[str, Any]:
    contact = t.get("contact") or {}
    name = " ".join(p for p in (contact.get("first_name"), contact.get("last_name")) if p)
    return {
        "id": t["id"], "sequence_id": t["sequence_id"], "sequence": t.get("sequence_name"),
        "contact_id": t["contact_id"], "contact_name": name or t["contact_id"], "step": t["step"],
        "type": t["type"], "priority": t["priority"], "due_at": t["due_at"], "error": t["kind"] == "error",
        "reason": t["reason"], "state": t["state"], "outcome": t.get("outcome"),
    }  # fmt: skip


async def open_list(ctx: Ctx) -> list[Row]:
    where, args = list_filter(ctx)
    async with ctx.deps.pool.acquire() as c:
        return await ctx.deps.store.open_tasks(c, where, args)


@route("GET", "/tasks", "The caller's open tasks with counts per step type", rule=policy.WORKER, query=LIST_QUERY,
       tag="tasks")  # fmt: skip
async def list_tasks(ctx: Ctx) -> web.Response:
    tasks = await open_list(ctx)
    counts = dict(Counter(t["type"] for t in tasks))
    return reply({"tasks": [task_out(t) for t in tasks], "counts": {"ALL": len(tasks), **counts}})


async def visible_task(ctx: Ctx) -> Row:
    task_id = parse_id(ctx.param("id"))
    if task_id is None:
        raise ApiError(404, "no such task", "id")
    async with ctx.deps.pool.acquire() as c:
        t = await ctx.deps.store.task(c, task_id)
    if t is None or not policy.on_sequence(ctx, t):
        raise ApiError(404, "no such task", "id")
    return t


def menu(t: Row) -> list[str]:
    return [RETRY] if t["kind"] == "error" else list(t["outcomes"])


@route("GET", "/tasks/{id}", "Task detail: contact card, location, activities, script, Mark As menu",
       rule=policy.WORKER, tag="tasks")  # fmt: skip
async def task_detail(ctx: Ctx) -> web.Response:
    t = await visible_task(ctx)
    async with ctx.deps.pool.acquire() as c:
        contact = await ctx.deps.store.contact(c, t["contact_id"])
        acts = await ctx.deps.store.activities(c, t["contact_id"], 20)
    data = (contact or {}).get("data") or {"id": t["contact_id"]}
    about = {k: data.get(k) for k in ("first_name", "last_name", "email", "phone", "title", "company")}
    notes = [a for a in acts if a["kind"] == "NOTE"]
    return reply({
        **task_out({**t, "contact": data}), "contact": {**about, "custom": data.get("custom", {})}, "about": about,
        "resume": data.get("resume"),
        "location": {"branch": t["branch"], "step_index": t["step_index"], "step": t["step"]},
        "activities": [activity_out(a) for a in acts], "notes": [activity_out(a) for a in notes],
        "instructions": t["instructions"], "script": t["script"], "mark_as": menu(t),
    })  # fmt: skip


def activity_out(a: Row) -> dict[str, Any]:
    keys = ("id", "kind", "sequence_id", "action", "step", "outcome", "text", "local_time", "user_id", "at")
    return {k: a.get(k) for k in keys}


def _refuse_when_paused(t: Row) -> None:
    if t["sequence_state"] != "active":
        raise ApiError(409, f"the sequence is {t['sequence_state']}", "sequence")
    if t["enrollment_paused"]:
        raise ApiError(409, "the enrollment is paused", "contact_id")


async def publish_action(ctx: Ctx, payload: TaskAction) -> None:
    key = f"{payload.sequence_id}:{payload.contact_id}"
    env = Envelope.wrap("task_action", key, payload, payload.at)
    await ctx.deps.app.publisher.send_all(ctx.deps.app.topic_names.tasks_outcomes, [env])


@route("POST", "/tasks/{id}/mark", "Mark As an outcome; returns the next task of the same list",
       body=MarkIn, rule=policy.WORKER, tag="tasks")  # fmt: skip
async def mark(ctx: Ctx) -> web.Response:
    t, outcome, now = await visible_task(ctx), ctx.body.outcome, ctx.deps.clock.now()
    if t["state"] != "open":
        raise ApiError(409, f"the task is {t['state']}", "id")
    _refuse_when_paused(t)
    if outcome not in menu(t):
        raise ApiError(422, f"unknown outcome {outcome!r} (expected one of {', '.join(menu(t))})", "outcome")
    async with ctx.deps.pool.acquire() as c:
        if not await ctx.deps.store.mark_task(c, t["id"], outcome, ctx.user["id"], now):
            raise ApiError(409, "the task is no longer open", "id")
    action = "retry" if t["kind"] == "error" else "outcome"
    await publish_action(ctx, TaskAction(
        sequence_id=t["sequence_id"], contact_id=t["contact_id"], step=t["step"], action=action,
        outcome=None if action == "retry" else outcome, user=ctx.user["id"], at=now,
    ))  # fmt: skip
    rest = [x for x in await open_list(ctx) if x["id"] != t["id"]]
    after = [x for x in rest if (x["due_at"], x["id"]) > (t["due_at"], t["id"])] or rest
    marked = {**task_out(t), "state": "done", "outcome": outcome}
    return reply({"task": marked, "next": task_out(after[0]) if after else None})


async def _enrollment_command(ctx: Ctx, action: str) -> web.Response:
    now, cid = ctx.deps.clock.now(), ctx.param("contact_id")
    async with ctx.deps.pool.acquire() as c:
        seq = await visible_sequence(ctx, c)
        enr = await ctx.deps.store.enrollment(c, seq["id"], cid)
    if enr is None:
        raise ApiError(404, "no such enrollment", "contact_id")
    if seq["state"] != "active" or enr["paused"]:
        raise ApiError(409, "the sequence or the enrollment is paused", "state")
    if action == "move_next" and enr["phase"] != "waiting":
        raise ApiError(409, "Move to Next Task Now applies only to a Waiting automatic step", "phase")
    if action == "retry" and enr["phase"] != "failed":
        raise ApiError(409, "Retry applies only to a failed step", "phase")
    payload = TaskAction(sequence_id=seq["id"], contact_id=cid, step=enr["step"] or "", action=action,  # type: ignore[arg-type]
                         user=ctx.user["id"], at=now)  # fmt: skip
    await publish_action(ctx, payload)
    return reply({"accepted": True, "action": action}, 202)


@route("POST", "/sequences/{id}/enrollments/{contact_id}/move-next", "Move to Next Task Now", status=202,
       rule=policy.WORKER, tag="tasks")  # fmt: skip
async def move_next(ctx: Ctx) -> web.Response:
    return await _enrollment_command(ctx, "move_next")


@route("POST", "/sequences/{id}/enrollments/{contact_id}/retry", "Retry a failed send", status=202,
       rule=policy.WORKER, tag="tasks")  # fmt: skip
async def retry(ctx: Ctx) -> web.Response:
    return await _enrollment_command(ctx, "retry")


@route("POST", "/sequences/{id}/enrollments/{contact_id}/remove-from-sequence",
       "Remove from Sequence: pause in place and leave the rollup", status=202, rule=policy.WORKER,
       tag="tasks")  # fmt: skip
async def remove_from_sequence(ctx: Ctx) -> web.Response:
    now, cid = ctx.deps.clock.now(), ctx.param("contact_id")
    async with ctx.deps.pool.acquire() as c:
        seq = await visible_sequence(ctx, c)
        await ctx.deps.store.set_roster(c, seq["rollup_id"], [cid], False)
    payload = RemoveMember(rollup_id=seq["rollup_id"], contact_id=cid, at=now, how="remove_from_sequence")
    env = Envelope.wrap("remove_member", cid, payload, now)
    await ctx.deps.app.publisher.send_all(ctx.deps.app.topic_names.rollup_commands, [env])
    return reply({"accepted": True}, 202)


def queue_row(e: Row) -> dict[str, Any]:
    template = Template.model_validate(e["template"])
    step = template.step(e["step"]) if e["step"] else None
    waiting = e["phase"] == "waiting"
    return {
        "sequence_id": e["sequence_id"], "sequence": e["sequence_name"], "contact_id": e["contact_id"],
        "last_task": e["last_step"], "last_outcome": e["last_outcome"],
        "next_task": "Waiting…" if waiting else e["step"], "next_step": e["step"],
        "next_type": step.type if step else None, "scheduled_at": e["next_at"], "paused": e["paused"],
    }  # fmt: skip


@route("GET", "/queue", "Enrollments past step one with a pending next step", rule=policy.WORKER, query=LIST_QUERY,
       tag="tasks")  # fmt: skip
async def queue(ctx: Ctx) -> web.Response:
    where, args = list_filter(ctx, alias="e")
    async with ctx.deps.pool.acquire() as c:
        found = await ctx.deps.store.queue(c, where, args)
    out = [queue_row(e) for e in found]
    q = ctx.request.query
    out = [r for r in out if "type" not in q or r["next_type"] == q["type"]]
    return reply({"queue": out, "count": len(out)})
