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


def operation(r: Route, schemas: dict[str, Any]) -> dict[str, Any]:
    op: dict[str, Any] = {
        "summary": r.summary, "tags": r.tags,
        "operationId": f"{r.method.lower()}_{r.handler.__name__}",
        "parameters": [{"name": p, "in": "path", "required": True, "schema": {"type": "string"}}
                       for p in _PARAM.findall(r.path)],
        "responses": {str(r.status): {"description": "success"},
                      "4XX": {"description": "bad input, refused or not found",
                              "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}},
    }  # fmt: skip
    if r.auth:
        op["security"] = [{"bearer": []}]
    if r.body is not None:
        schema = r.body.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas.update(schema.pop("$defs", {}))
        schemas[r.body.__name__] = schema
        ref = {"$ref": f"#/components/schemas/{r.body.__name__}"}
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": ref}}}
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


@route("GET", "/docs", "A page linking the OpenAPI document", rule=policy.PUBLIC, tag="docs")
async def docs(ctx: Ctx) -> web.Response:
    items = "".join(f"<li><code>{r.method} {r.path}</code> — {r.summary}</li>" for r in ROUTES)
    return web.Response(text=DOCS.format(items=items), content_type="text/html")
