"""OpenAPI 3.1 built from the route registry and its pydantic body models; `/openapi.json` and `/docs`."""

from __future__ import annotations

import re
from typing import Any

from aiohttp import web

from seqflow_tasks import policy
from seqflow_tasks.api.registry import ROUTES, Ctx, Route, reply, route

_PARAM = re.compile(r"\{(\w+)\}")
ERROR = {"type": "object", "properties": {"error": {"type": "string"}, "field": {"type": ["string", "null"]}},
         "required": ["error"]}  # fmt: skip


_REASONS = {400: "malformed input (not JSON, too deep, NUL in a path or query value)",
            401: "no valid token, or an unsigned, badly signed or stale webhook", 403: "not allowed",
            404: "no such object, or not one the caller may see", 409: "conflicts with the object's state",
            413: "body too large", 415: "wrong Content-Type", 422: "a field is invalid (named in `field`)",
            503: "not ready yet"}  # fmt: skip


def error_statuses(r: Route) -> list[int]:
    """Every error status the route can answer, each with the `Error` body."""
    if r.tags == ["docs"]:
        return [400]
    codes = {400, 403, 404, 409, 422, 503}
    if r.auth or r.verify is not None:
        codes.add(401)
    if r.body is not None or r.form is not None:
        codes |= {413, 415}
    return sorted(codes)


def parameters(r: Route) -> list[dict[str, Any]]:
    path = [{"name": p, "in": "path", "required": True, "schema": {"type": "string", "minLength": 1}}
            for p in _PARAM.findall(r.path)]  # fmt: skip
    query = [{"name": q.name, "in": "query", "required": q.required, "schema": q.schema,
              **({"style": "form", "explode": True} if q.schema.get("type") == "array" else {})}
             for q in r.query]  # fmt: skip
    headers = [{"name": h, "in": "header", "required": True, "schema": {"type": "string"}} for h in r.headers]
    return path + query + headers


def request_body(r: Route, schemas: dict[str, Any]) -> dict[str, Any] | None:
    model = r.body or r.form
    if model is None:
        return None
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    schemas.update(schema.pop("$defs", {}))
    schemas[model.__name__] = schema
    media = "application/json" if r.body is not None else "application/x-www-form-urlencoded"
    return {"required": True, "content": {media: {"schema": {"$ref": f"#/components/schemas/{model.__name__}"}}}}


def operation(r: Route, schemas: dict[str, Any]) -> dict[str, Any]:
    success: dict[str, Any] = {"description": "success"}
    if r.produces is not None:
        success["content"] = {r.produces: {"schema": {"type": "string"} if r.produces != "application/json" else {}}}
    error = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    responses = {str(r.status): success} | {str(c): {"description": _REASONS[c], "content": error}
                                            for c in error_statuses(r)}  # fmt: skip
    op: dict[str, Any] = {"summary": r.summary, "tags": r.tags, "parameters": parameters(r), "responses": responses,
                          "operationId": f"{r.method.lower()}_{r.handler.__name__}"}  # fmt: skip
    if r.rule is not None:
        op["description"] = f"Who may call it: {r.rule.doc}."
    if r.auth:
        op["security"] = [{"bearer": []}]
    if (body := request_body(r, schemas)) is not None:
        op["requestBody"] = body
    return op


def build_spec() -> dict[str, Any]:
    schemas: dict[str, Any] = {"Error": ERROR}
    paths: dict[str, dict[str, Any]] = {}
    for r in ROUTES:
        paths.setdefault(r.path, {})[r.method.lower()] = operation(r, schemas)
    return {
        "openapi": "3.1.0",
        "info": {"title": "seqflow API", "version": "0.1.0"},
        "paths": paths,
        "components": {"schemas": schemas,
                       "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
    }  # fmt: skip


@route("GET", "/openapi.json", "This document", rule=policy.PUBLIC, tag="docs")
async def openapi_json(ctx: Ctx) -> web.Response:
    return reply(build_spec())


DOCS = """<!doctype html><html><head><title>seqflow API</title></head><body>
<h1>seqflow API</h1><p>The OpenAPI 3.1 document: <a href="/openapi.json">/openapi.json</a>.</p>
<p>Authenticate with <code>Authorization: Bearer &lt;token&gt;</code>.</p><ul>{items}</ul></body></html>"""


@route("GET", "/docs", "A page linking the OpenAPI document", rule=policy.PUBLIC, produces="text/html",
       tag="docs")  # fmt: skip
async def docs(ctx: Ctx) -> web.Response:
    items = "".join(f"<li><code>{r.method} {r.path}</code> — {r.summary}</li>" for r in ROUTES)
    return web.Response(text=DOCS.format(items=items), content_type="text/html")
