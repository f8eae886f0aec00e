"""Users and their API tokens: the server makes every token, shows it once and keeps only its hash."""

from __future__ import annotations

from typing import Any, Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from seqflow.domain.text import Email, Name, UserId
from seqflow_tasks import policy
from seqflow_tasks.api.registry import ApiError, Ctx, reply, route
from seqflow_tasks.tokens import new_token, token_hash

Permission = Literal["sequences:activate", "tasks:mine", "admin"]


class UserIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: UserId
    name: Name
    email: Email
    permissions: list[Permission] = Field(default_factory=list, max_length=3)


class TokenOut(BaseModel):
    token: str


def public(user: dict[str, Any]) -> dict[str, Any]:
    """A user as the API shows it: never the token or its hash."""
    return {k: user.get(k) for k in ("id", "name", "email", "permissions")}


async def _fresh_token(ctx: Ctx, c: Any, user_id: str) -> str:
    token = new_token()
    if not await ctx.deps.store.set_token_hash(c, user_id, token_hash(token), ctx.deps.clock.now()):
        raise ApiError(404, f"no user {user_id!r}", "id")
    return token


@route("POST", "/users", "Create a user; the answer carries its new API token, shown this once", body=UserIn,
       rule=policy.ADMIN_ONLY, status=201, tag="users")  # fmt: skip
async def create_user(ctx: Ctx) -> web.Response:
    body: UserIn = ctx.body
    token = new_token()
    async with ctx.deps.pool.acquire() as c:
        if not await ctx.deps.store.insert_user(c, body.model_dump(), token_hash(token), ctx.deps.clock.now()):
            raise ApiError(409, f"user {body.id!r} exists", "id")
    return reply({**public(body.model_dump()), "token": token}, 201)


@route("GET", "/users", "Every user (never their tokens)", rule=policy.ADMIN_ONLY, tag="users")
async def list_users(ctx: Ctx) -> web.Response:
    async with ctx.deps.pool.acquire() as c:
        users = await ctx.deps.store.all_users(c)
    return reply({"users": [{**public(u), "has_token": u["token_hash"] is not None} for u in users]})


@route("GET", "/users/me", "The calling user", rule=policy.SIGNED_IN, tag="users")
async def me(ctx: Ctx) -> web.Response:
    return reply(public(ctx.user))


def _self_or_admin(ctx: Ctx) -> str:
    uid = ctx.param("id")
    if not policy.is_admin(ctx) and uid != policy.me(ctx):
        raise ApiError(403, "only the user themself or an admin may change a user's token", "id")
    return uid


@route("POST", "/users/{id}/token", "Rotate: a new token replaces the old one at once (shown this once)",
       rule=policy.SIGNED_IN, tag="users")  # fmt: skip
async def rotate_token(ctx: Ctx) -> web.Response:
    uid = _self_or_admin(ctx)
    async with ctx.deps.pool.acquire() as c:
        token = await _fresh_token(ctx, c, uid)
    return reply({"token": token})


@route("DELETE", "/users/{id}/token", "Revoke: the user's token stops working; rotate to get a new one",
       rule=policy.SIGNED_IN, tag="users")  # fmt: skip
async def revoke_token(ctx: Ctx) -> web.Response:
    uid = _self_or_admin(ctx)
    async with ctx.deps.pool.acquire() as c:
        if not await ctx.deps.store.set_token_hash(c, uid, None, ctx.deps.clock.now()):
            raise ApiError(404, f"no user {uid!r}", "id")
    return reply({"id": uid, "revoked": True})
