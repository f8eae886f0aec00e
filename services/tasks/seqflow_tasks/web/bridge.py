"""The one bridge from web pages to the JSON API: pages read and act only through the API's routes.

A page never queries the store or checks a permission itself. It names an API route by method and path
template, and `call` runs that route's permission rule and handler (`registry.invoke`) for the signed-in
user, exactly as the JSON API would for the same user's bearer token::

    status, data = await call(request, user, "GET", "/tasks", query={"type": "call"})
    status, data = await call(request, user, "GET", "/tasks/{id}", match={"id": "42"})
    status, data = await call(request, user, "POST", "/tasks/{id}/mark", match={"id": "42"},
                              body={"outcome": "Connected"})
    if status >= 400:
        ...  # data == {"error": "...", "field": "..."}, the API's own answer

`body` is a dict (form fields already picked out); it is validated by the route's pydantic model, so a bad
field comes back as the API's 422 naming it. Inside a page handler use `view.call(...)` / `view.fetch(...)`
(see `pages.View`), which pass the request and user for you.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

from aiohttp import web
from multidict import MultiDict, MultiDictProxy
from pydantic import ValidationError

from seqflow_tasks.api.registry import ApiError, Ctx, Deps, find_route, invoke, validation_error
from seqflow_tasks.db import Row

log = logging.getLogger(__name__)
Query = Mapping[str, str | list[str]]


class RouteRequest:
    """The page's request as the API handler should see it: the route's path parameters and query.

    Everything else (headers, app, remote, …) is the page request's own."""

    def __init__(self, request: web.Request, method: str, match: Mapping[str, str], query: Query) -> None:
        self._request, self.method = request, method
        self.match_info = dict(match)
        pairs = MultiDict[str]()
        for key, value in query.items():
            for v in value if isinstance(value, list) else [value]:
                pairs.add(key, v)
        self.query = MultiDictProxy(pairs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._request, name)


DEPS = web.AppKey("seqflow_web_deps", Deps)


def deps_of(request: web.Request) -> Deps:
    return request.app[DEPS]


async def call(
    request: web.Request,
    user: Row,
    method: str,
    path_template: str,
    *,
    match: Mapping[str, str] | None = None,
    query: Query | None = None,
    body: Mapping[str, Any] | None = None,
) -> tuple[int, Any]:
    """Run the API route `method path_template` for `user`; returns (status, decoded JSON answer)."""
    route = find_route(method, path_template)
    fake = RouteRequest(request, method, match or {}, query or {})
    ctx = Ctx(fake, deps_of(request), user)  # type: ignore[arg-type] - duck-typed request, see RouteRequest
    try:
        if route.body is not None:
            ctx.body = route.body.model_validate(dict(body or {}))
        response = await invoke(route, ctx)
    except ApiError as exc:
        return exc.status, {"error": exc.error, "field": exc.field, **exc.extra}
    except ValidationError as exc:
        err = validation_error(exc)
        return err.status, {"error": err.error, "field": err.field}
    return response.status, _decode(response)


def _decode(response: web.StreamResponse) -> Any:
    """The JSON answer; None for an empty or non-JSON one (a page has no use for a pixel or a redirect)."""
    body = getattr(response, "body", None)
    try:
        return json.loads(body) if isinstance(body, bytes) and body else None
    except ValueError:
        return None
