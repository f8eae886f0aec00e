"""Asking the API's own routes whether the caller may have an object the request names in its body.

The owner's routes take a template or a rollup by id from a form, not from their path; they reuse the
template and rollup routes' checks (existence, and whatever access rule those routes apply) instead of
repeating them, so the two can never disagree.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Any, TypeVar

from aiohttp import web

from seqflow_tasks.api.registry import ApiError, Ctx, find_route, invoke
from seqflow_tasks.api.rollups import known_rollup

T = TypeVar("T")


@dataclass
class Named(Ctx):
    """A route's context whose `{id}` is the object the caller names (not a part of our own path)."""

    named: str = ""

    def param(self, name: str) -> str:
        return self.named if name == "id" else super().param(name)


def naming(ctx: Ctx, the_id: str) -> Named:
    return Named(ctx.request, ctx.deps, ctx.user, None, the_id)


async def checked(check: Awaitable[T], field: str) -> T:
    """A refusal of the route we asked, said about the caller's field."""
    try:
        return await check
    except ApiError as exc:
        raise ApiError(exc.status, f"{field}: {exc.error}", field) from None


async def may_use_rollup(ctx: Ctx, rid: str) -> bool:
    try:
        await known_rollup(naming(ctx, rid))
    except ApiError:
        return False
    return True


async def answer(ctx: Ctx, method: str, path: str) -> Any:
    """Another route's JSON answer for this caller and context (its permission rule and handler run)."""
    response = await invoke(find_route(method, path), ctx)
    body = response.body if isinstance(response, web.Response) else None
    return json.loads(body) if isinstance(body, bytes) else None
