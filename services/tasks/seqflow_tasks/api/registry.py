"""The route registry: each route declares its method, path, body model and permission once.

Routes are plain aiohttp handlers added to faust's own aiohttp application (`app.web.web_app`), not faust
`View`s: one wrapper gives every route the same auth, pydantic body parsing and JSON error shape
(`{"error", "field"}`, never a 500 for bad input), and the same registry feeds `/openapi.json`. faust
views would need that wrapper per class and keep no typed description of bodies for the docs.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ValidationError

from seqflow.clock import Clock
from seqflow.domain.errors import validation_issues
from seqflow.domain.text import depth, storable, unstorable_path
from seqflow.service import SeqflowApp
from seqflow_tasks import policy
from seqflow_tasks.db import Row
from seqflow_tasks.db_access import AccessStore
from seqflow_tasks.errors import ApiError

__all__ = ["ADMIN", "ROUTES", "ApiError", "Ctx", "Deps", "Route", "find_route", "invoke", "reply", "route", "wrap"]

log = logging.getLogger(__name__)
ADMIN = "admin"
MAX_DEPTH = 32


@dataclass
class Deps:
    app: SeqflowApp
    store: AccessStore
    clock: Clock

    @property
    def pool(self) -> Any:
        if self.app.pool is None:
            raise ApiError(503, "the database is not ready yet")
        return self.app.pool


@dataclass
class Ctx:
    request: web.Request
    deps: Deps
    user: Row
    body: Any = None

    def param(self, name: str) -> str:
        return self.request.match_info[name]

    def can(self, permission: str) -> bool:
        perms = self.user.get("permissions") or []
        return ADMIN in perms or permission in perms

    @property
    def is_admin(self) -> bool:
        return policy.is_admin(self)


Handler = Callable[[Ctx], Awaitable[web.StreamResponse]]
Check = Callable[[Ctx], Awaitable[None]]


@dataclass(frozen=True)
class Query:
    """A query-string parameter, for the OpenAPI document (`schema` is its JSON schema)."""

    name: str
    schema: dict[str, Any]
    required: bool = False


@dataclass
class Route:
    method: str
    path: str
    handler: Handler
    summary: str
    body: type[BaseModel] | None = None
    permission: str | None = None
    auth: bool = True
    status: int = 200
    tags: list[str] = field(default_factory=list)
    verify: Check | None = None
    """Runs before the body is parsed and may refuse the request (webhook signatures: 401 first)."""
    form: type[BaseModel] | None = None
    """A form body (application/x-www-form-urlencoded) the handler reads itself, for the OpenAPI document."""
    headers: tuple[str, ...] = ()
    """Request headers the route requires, for the OpenAPI document."""
    query: tuple[Query, ...] = ()
    produces: str | None = "application/json"
    """The media type of a successful answer (None: no body, e.g. a redirect)."""
    rule: policy.Rule | None = None
    """The rule admitting callers; None (undeclared) refuses everyone and fails the route-table test."""


ROUTES: list[Route] = []


def route(
    method: str,
    path: str,
    summary: str,
    *,
    body: type[BaseModel] | None = None,
    permission: str | None = None,
    rule: policy.Rule | None = None,
    auth: bool = True,
    status: int = 200,
    tag: str = "api",
    verify: Check | None = None,
    form: type[BaseModel] | None = None,
    headers: tuple[str, ...] = (),
    query: tuple[Query, ...] = (),
    produces: str | None = "application/json",
) -> Callable[[Handler], Handler]:
    """Register a route. Its rule is declared explicitly: `rule=policy.X`, or `permission="..."` (the
    rule of that permission), or `auth=False` (public: the request is signed or harmless)."""
    if rule is None and permission is not None:
        rule = policy.needs(permission)
    if rule is None and not auth:
        rule = policy.PUBLIC
    public = rule is not None and rule.public

    def register(fn: Handler) -> Handler:
        ROUTES.append(Route(method, path, fn, summary, body, permission, not public, status, [tag], verify=verify,
                            form=form, headers=headers, query=query, produces=produces, rule=rule))  # fmt: skip
        return fn

    return register


def _default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    return str(value)


def reply(data: Any, status: int = 200) -> web.Response:
    return web.json_response(data, status=status, dumps=lambda d: json.dumps(d, default=_default))


def error_response(exc: ApiError) -> web.Response:
    return reply({"error": exc.error, "field": exc.field, **exc.extra}, exc.status)


def validation_error(exc: ValidationError, status: int = 422) -> ApiError:
    issues = validation_issues(exc)
    text = "; ".join(f"{p or '(root)'}: {w}" for p, w in issues)
    return ApiError(status, text, issues[0][0] if issues else None, errors=[list(i) for i in issues])


async def authenticate(request: web.Request, deps: Deps) -> Row:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError(401, "missing bearer token", "Authorization")
    async with deps.pool.acquire() as c:
        user = await deps.store.user_by_token(c, token.strip())
    if user is None:
        raise ApiError(401, "unknown or revoked token", "Authorization")
    return user


def parse_json(raw: bytes) -> Any:
    """Parsed JSON that the database and the models can take: every string storable, every number finite
    (jsonb has no NaN or Infinity), at most MAX_DEPTH deep."""
    try:
        data = json.loads(raw or b"null", parse_constant=_no_constant, parse_float=_finite)
    except RecursionError:
        raise ApiError(400, f"body nests deeper than {MAX_DEPTH} levels", "(body)") from None
    except ValueError as exc:
        raise ApiError(400, f"body is not valid JSON: {exc}", "(body)") from None
    if depth(data) > MAX_DEPTH:
        raise ApiError(400, f"body nests deeper than {MAX_DEPTH} levels", "(body)")
    if (where := unstorable_path(data)) is not None:
        raise ApiError(422, f"{where}: must not contain NUL characters or unpaired surrogates", where)
    return data


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _finite(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise ValueError(f"{text[:20]} is too large a number")
    return value


def check_request_text(request: web.Request) -> None:
    """Path parameters and query values go into SQL as text, which cannot hold NUL: refuse it up front."""
    for name, value in [*request.match_info.items(), *request.query.items()]:
        if not (storable(name) and storable(value)):
            raise ApiError(400, f"{name}: must not contain NUL characters or unpaired surrogates", name)


async def parse_body(request: web.Request, model: type[BaseModel]) -> Any:
    if request.content_type != "application/json" and request.can_read_body:
        raise ApiError(415, f"send the body as application/json, not {request.content_type}", "Content-Type")
    data = parse_json(await request.read())
    if not isinstance(data, dict):
        raise ApiError(400, "body must be a JSON object", "(body)")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise validation_error(exc) from None


async def invoke(r: Route, ctx: Ctx) -> web.StreamResponse:
    """Run one route for an already identified caller: its permission rule, then its handler.

    The JSON API (`wrap`, bearer token) and the web pages (session cookie, form bodies already parsed
    into `ctx.body`) both go through here, so a page can never do what the API would refuse."""
    if r.rule is None:
        raise ApiError(403, f"{r.method} {r.path} declares no permission rule", "Authorization")
    if not r.rule.allows(ctx.user):
        raise ApiError(403, f"not allowed: {r.rule.doc}", "Authorization")
    if r.verify is not None:
        await r.verify(ctx)
    if r.body is not None and ctx.body is None:
        ctx.body = await parse_body(ctx.request, r.body)
    return await r.handler(ctx)


def find_route(method: str, path: str) -> Route:
    """The registered route with this method and path template (e.g. `/tasks/{id}`)."""
    for r in ROUTES:
        if r.method == method and r.path == path:
            return r
    raise KeyError(f"{method} {path}")


def wrap(r: Route, deps: Deps) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def handler(request: web.Request) -> web.StreamResponse:
        try:
            check_request_text(request)
            user = await authenticate(request, deps) if r.auth else {}
            return await invoke(r, Ctx(request, deps, user))
        except ApiError as exc:
            return error_response(exc)
        except ValidationError as exc:
            return error_response(validation_error(exc))
        except web.HTTPRequestEntityTooLarge:
            return error_response(ApiError(413, "the body is too large", "(body)"))
        except web.HTTPException:
            raise
        except Exception:
            log.exception("unhandled error in %s %s", r.method, r.path)
            return error_response(ApiError(500, "internal error"))

    return handler


def allow(path: str) -> str:
    """The methods registered on a path template, as an `Allow` header says them."""
    return ", ".join(sorted({r.method for r in ROUTES if r.path == path} | {"OPTIONS"}))


def options(path: str) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def handler(request: web.Request) -> web.StreamResponse:
        return web.Response(status=204, headers={"Allow": allow(path)})

    return handler


def install(app: SeqflowApp, deps: Deps) -> None:
    router = app.web.web_app.router
    for r in ROUTES:
        router.add_route(r.method, r.path, wrap(r, deps))
    for path in dict.fromkeys(r.path for r in ROUTES):
        router.add_route("OPTIONS", path, options(path))
