"""Sequences: activation (SPEC §3) and the lifecycle commands (pause, resume, end, archive, edit)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import asyncpg
from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from seqflow.domain.activation import Activation, RateLimits, SendWindow, Weekday, check_aliases
from seqflow.domain.template import Template
from seqflow.messaging.base import UserRef
from seqflow.messaging.envelope import Envelope
from seqflow.messaging.lifecycle import SequenceActivated, SequenceChanged
from seqflow_tasks import policy
from seqflow_tasks.api.registry import ApiError, Ctx, reply, route
from seqflow_tasks.api.templates import template_out
from seqflow_tasks.db import Conn, Row


def display_state(seq: Row, now: datetime) -> str:
    """scheduled / active / paused / error / ended / archived, as the overview shows it."""
    if seq["archived"]:
        return "archived"
    if seq["state"] == "ended":
        return "ended"
    if seq.get("quarantined_at") is not None:
        return "error"  # the scheduler set it aside (sequence_quarantined)
    if seq["begin_at"] > now and (seq["state"] == "active" or seq["resumed_at"] is None):
        return "scheduled"
    return str(seq["state"])


def sequence_out(seq: Row, now: datetime) -> dict[str, Any]:
    return {"id": seq["id"], "name": seq["name"], "rollup_id": seq["rollup_id"],
            "template_id": seq["template_id"], "state": display_state(seq, now),
            "primary_user": seq["primary_user"], "team_members": seq["team"],
            "activation": seq["activation"], "template": seq["template"],
            "activated_at": seq["activated_at"]}  # fmt: skip


async def publish_lifecycle(ctx: Ctx, sid: str, type_: str, payload: BaseModel, at: datetime) -> None:
    topic = ctx.deps.app.topic_names.sequence_lifecycle
    await ctx.deps.app.publisher.send_all(topic, [Envelope.wrap(type_, sid, payload, at)])


@route("POST", "/sequences", "Activate one of your templates on one of your rollup lists (SPEC §3)",
       body=Activation, rule=policy.OWNER, status=201, tag="sequences")  # fmt: skip
async def activate(ctx: Ctx) -> web.Response:
    act: Activation = ctx.body
    for name in ("template_id", "rollup_id"):
        if not getattr(act, name):
            raise ApiError(422, f"{name}: field required", name)
    async with ctx.deps.pool.acquire() as c:
        tpl_rec, primary = await _check_activation(ctx, c, act)
        template = _aliases(Template.model_validate(tpl_rec["body"]), act, primary)
        seq = _new_sequence(act, template, ctx.deps.clock.now())
        roster = await ctx.deps.store.roster(c, seq["rollup_id"])
        try:
            await ctx.deps.store.insert_sequence(c, seq)
        except asyncpg.UniqueViolationError:
            raise ApiError(409, f"a sequence named {act.name!r} already exists", "name") from None
    user = UserRef(id=primary["id"], name=primary["name"], email=primary["email"])
    payload = SequenceActivated(
        sequence_id=seq["id"], name=act.name, rollup_id=seq["rollup_id"], template=seq["template"],
        activation=seq["activation"], primary_user=user, activated_at=seq["activated_at"], roster=roster,
    )  # fmt: skip
    await publish_lifecycle(ctx, seq["id"], "sequence_activated", payload, seq["activated_at"])
    return reply(sequence_out({**seq, "archived": False, "resumed_at": None}, seq["activated_at"]), 201)


async def _check_activation(ctx: Ctx, c: Conn, act: Activation) -> tuple[Row, Row]:
    store = ctx.deps.store
    policy.check_primary_user(ctx, act.primary_user)
    tpl = await policy.own_template(ctx, c, act.template_id or "", "template_id")
    await policy.own_rollup(ctx, c, act.rollup_id or "", "rollup_id")
    if await store.sequence_named(c, act.name) is not None:
        raise ApiError(409, f"a sequence named {act.name!r} already exists", "name")
    holder = await store.sequence_on_rollup(c, act.rollup_id or "")
    if holder is not None:
        msg = f"rollup is in use by sequence {holder['name']!r} ({holder['id']}), which has not ended"
        raise ApiError(409, msg, "rollup_id", sequence=holder["name"])
    users = {u["id"]: u for u in await store.users(c, [act.primary_user, *act.team_members])}
    if act.primary_user not in users:
        raise ApiError(422, f"unknown user {act.primary_user!r}", "primary_user")
    unknown = [u for u in act.team_members if u not in users]
    if unknown:
        raise ApiError(422, f"unknown users: {', '.join(unknown)}", "team_members")
    return tpl, users[act.primary_user]


def _aliases(template: Template, act: Activation, primary: Row) -> Template:
    kept, changed = check_aliases(template, primary["email"], primary["id"], act.rewrite_aliases)
    if act.rewrite_aliases is None and changed:
        msg = (f"primary user {primary['id']!r} is not the template owner {template.owner!r}: the from_alias"
               f" of steps {', '.join(changed)} would change; set rewrite_aliases to true or false")  # fmt: skip
        raise ApiError(409, msg, "rewrite_aliases", steps=changed)
    return kept


def _new_sequence(act: Activation, template: Template, now: datetime) -> Row:
    begin = act.begin_instant()
    return {
        "id": uuid.uuid4().hex, "name": act.name, "rollup_id": act.rollup_id, "template_id": act.template_id,
        "template": template.to_json(), "activation": act.model_dump(mode="json", exclude_none=True),
        "primary_user": act.primary_user, "team": list(act.team_members), "timezone": act.timezone,
        "begin_at": begin, "state": "active" if begin <= now else "paused", "activated_at": now,
    }  # fmt: skip


async def visible_sequence(ctx: Ctx, c: Conn) -> Row:
    seq = await ctx.deps.store.sequence(c, ctx.param("id"))
    if seq is None or not policy.on_sequence(ctx, seq):
        raise ApiError(404, "no such sequence", "id")
    return seq


async def managed_sequence(ctx: Ctx, c: Conn) -> Row:
    seq = await visible_sequence(ctx, c)
    policy.require_manager(ctx, seq)
    return seq


@route("GET", "/sequences", "Sequences the caller is on (an admin sees all)", rule=policy.WORKER, tag="sequences")
async def list_sequences(ctx: Ctx) -> web.Response:
    now = ctx.deps.clock.now()
    async with ctx.deps.pool.acquire() as c:
        seqs = await ctx.deps.store.sequences(c)
    mine = [s for s in seqs if policy.on_sequence(ctx, s)]
    return reply({"sequences": [sequence_out(s, now) for s in mine]})


@route("GET", "/sequences/{id}", "One sequence", rule=policy.WORKER, tag="sequences")
async def get_sequence(ctx: Ctx) -> web.Response:
    async with ctx.deps.pool.acquire() as c:
        seq = await visible_sequence(ctx, c)
    return reply(sequence_out(seq, ctx.deps.clock.now()))


async def _change(ctx: Ctx, action: str, allowed: set[str], new_state: str) -> web.Response:
    now = ctx.deps.clock.now()
    async with ctx.deps.pool.acquire() as c, c.transaction():
        seq = await managed_sequence(ctx, c)
        if seq["state"] not in allowed:
            raise ApiError(409, f"cannot {action} a sequence that is {seq['state']}", "state")
        await ctx.deps.store.set_sequence_state(c, seq["id"], new_state, now)
        if new_state == "ended":
            await ctx.deps.store.cancel_sequence_tasks(c, seq["id"], now)
    payload = SequenceChanged(sequence_id=seq["id"], action=action, at=now)  # type: ignore[arg-type]
    await publish_lifecycle(ctx, seq["id"], "sequence_changed", payload, now)
    return reply({"id": seq["id"], "state": new_state, "at": now})


@route("POST", "/sequences/{id}/pause", "Pause an active sequence", rule=policy.OWNER,
       tag="sequences")  # fmt: skip
async def pause(ctx: Ctx) -> web.Response:
    return await _change(ctx, "pause", {"active"}, "paused")


@route("POST", "/sequences/{id}/resume", "Resume a paused sequence", rule=policy.OWNER,
       tag="sequences")  # fmt: skip
async def resume(ctx: Ctx) -> web.Response:
    return await _change(ctx, "resume", {"paused"}, "active")


@route("POST", "/sequences/{id}/end", "End a sequence (irreversible)", rule=policy.OWNER,
       tag="sequences")  # fmt: skip
async def end(ctx: Ctx) -> web.Response:
    return await _change(ctx, "end", {"active", "paused"}, "ended")


@route("POST", "/sequences/{id}/archive", "Archive an ended sequence", rule=policy.OWNER,
       tag="sequences")  # fmt: skip
async def archive(ctx: Ctx) -> web.Response:
    async with ctx.deps.pool.acquire() as c:
        seq = await managed_sequence(ctx, c)
        if seq["state"] != "ended":
            raise ApiError(409, f"only an ended sequence can be archived (this one is {seq['state']})", "state")
        await ctx.deps.store.archive_sequence(c, seq["id"])
    return reply({"id": seq["id"], "state": "archived"})


class SettingsEdit(BaseModel):
    """Edit Sequence: the settings that may change while paused (SPEC §4)."""

    model_config = ConfigDict(extra="forbid")
    send_days: list[Weekday] | None = None
    send_window: SendWindow | None = None
    rate_limits: RateLimits | None = None
    end: str | None = None
    team_members: list[str] | None = None


class BranchesEdit(BaseModel):
    model_config = ConfigDict(extra="forbid")
    branches: list[dict[str, Any]] = Field(min_length=1)


async def _paused_sequence(ctx: Ctx, c: Conn) -> Row:
    seq = await managed_sequence(ctx, c)
    if seq["state"] != "paused":
        raise ApiError(409, f"a sequence can be edited only while paused (this one is {seq['state']})", "state")
    return seq


@route("PATCH", "/sequences/{id}", "Edit settings (paused only)", body=SettingsEdit,
       rule=policy.OWNER, tag="sequences")  # fmt: skip
async def edit_settings(ctx: Ctx) -> web.Response:
    now, edit = ctx.deps.clock.now(), ctx.body.model_dump(mode="json", exclude_unset=True)
    async with ctx.deps.pool.acquire() as c, c.transaction():
        seq = await _paused_sequence(ctx, c)
        team = edit.pop("team_members", None)
        merged = {**seq["activation"], **edit, **({"team_members": team} if team is not None else {})}
        act = Activation.model_validate({k: v for k, v in merged.items() if v is not None})
        if team is not None and len(await ctx.deps.store.users(c, team)) != len(set(team)):
            raise ApiError(422, "unknown user in team_members", "team_members")
        activation = act.model_dump(mode="json", exclude_none=True)
        await ctx.deps.store.update_sequence_settings(c, seq["id"], activation, list(act.team_members))
    payload = SequenceChanged(sequence_id=seq["id"], action="edit", at=now, activation=activation)
    await publish_lifecycle(ctx, seq["id"], "sequence_changed", payload, now)
    return reply({"id": seq["id"], "activation": activation})


@route("PUT", "/sequences/{id}/branches", "Edit the sequence's branches (paused only)", body=BranchesEdit,
       rule=policy.OWNER, tag="sequences")  # fmt: skip
async def edit_branches(ctx: Ctx) -> web.Response:
    now = ctx.deps.clock.now()
    async with ctx.deps.pool.acquire() as c, c.transaction():
        seq = await _paused_sequence(ctx, c)
        tpl = Template.model_validate({**seq["template"], "branches": ctx.body.branches}).to_json()
        await ctx.deps.store.update_sequence_template(c, seq["id"], tpl)
    payload = SequenceChanged(sequence_id=seq["id"], action="edit", at=now, template=tpl)
    await publish_lifecycle(ctx, seq["id"], "sequence_changed", payload, now)
    return reply({"id": seq["id"], "template": tpl})


@route("POST", "/sequences/{id}/use-as-template", "A new template of yours from the sequence's copy",
       rule=policy.OWNER, status=201, tag="sequences")  # fmt: skip
async def use_as_template(ctx: Ctx) -> web.Response:
    async with ctx.deps.pool.acquire() as c:
        seq = await managed_sequence(ctx, c)
        name = f"{seq['template']['name']} (from {seq['name']})"
        body = {**seq["template"], "name": name, "owner": policy.me(ctx)}
        rec = await ctx.deps.store.insert_template(c, uuid.uuid4().hex, body, ctx.deps.clock.now())
    return reply(template_out(rec), 201)
