"""Users and their API tokens (admin only)."""

from __future__ import annotations

from typing import Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from seqflow_tasks.api.registry import ADMIN, ApiError, Ctx, reply, route

Permission = Literal["sequences:activate", "tasks:mine", "admin"]


class UserIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1)
    name: str = Field(min_length=1)
    email: str = Field(min_length=3, pattern=r"^[^@\s]+@[^@\s]+$")
    permissions: list[Permission] = Field(default_factory=list)
    token: str = Field(min_length=8)


def public(user: dict[str, object]) -> dict[str, object]:
    return {k: user[k] for k in ("id", "name", "email", "permissions")}


@route("POST", "/users", "Create a user with an API token", body=UserIn, permission=ADMIN, status=201,
       tag="users")  # fmt: skip
async def create_user(ctx: Ctx) -> web.Response:
    body: UserIn = ctx.body
    async with ctx.deps.pool.acquire() as c:
        if await ctx.deps.store.user(c, body.id) is not None:
            raise ApiError(409, f"user {body.id!r} exists", "id")
        if await ctx.deps.store.user_by_token(c, body.token) is not None:
            raise ApiError(409, "token already in use", "token")
        await ctx.deps.store.insert_user(c, body.model_dump())
    return reply(public(body.model_dump()), 201)


@route("GET", "/users/me", "The calling user", tag="users")
async def me(ctx: Ctx) -> web.Response:
    return reply(public(ctx.user))
