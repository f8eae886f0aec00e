"""Users (admin only): create one with permissions, show its new token once, rotate or revoke a token.

Built on the token routes of the security work (`GET /users`, `POST /users` answering `token` once,
`POST|DELETE /users/{id}/token`); until those are on this build the page says so instead of failing."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from seqflow_tasks.api.registry import find_route
from seqflow_tasks.web.pages import View, page

USERS = "/ui/users"
PERMISSIONS = ("sequences:activate", "tasks:mine", "admin")


def token_routes() -> bool:
    try:
        find_route("GET", "/users")
        find_route("POST", "/users/{id}/token")
    except KeyError:
        return False
    return True


async def users_page(view: View, status: int = 200, **extra: Any) -> web.Response:
    if not token_routes():
        return view.render("owner/users.html", 501, users=[], unavailable=True, permissions=PERMISSIONS)
    users = (await view.fetch("GET", "/users"))["users"]
    return view.render("owner/users.html", status, users=users, permissions=PERMISSIONS, **extra)


@page("GET", USERS)
async def users(view: View) -> web.StreamResponse:
    return await users_page(view)


@page("POST", USERS)
async def create_user(view: View) -> web.StreamResponse:
    body: dict[str, Any] = {k: view.form.get(k, "").strip() for k in ("id", "name", "email")}
    body["permissions"] = view.form.getall("permissions", [])
    status, data = await view.call("POST", "/users", body=body)
    if status >= 400:
        return await users_page(view, status, error=data, v=body)
    return await users_page(view, 201, shown={"id": data["id"], "token": data.get("token", "")})


@page("POST", f"{USERS}/{{id}}/rotate")
async def rotate(view: View) -> web.StreamResponse:
    uid = view.request.match_info["id"]
    data = await view.fetch("POST", "/users/{id}/token", match={"id": uid})
    return await users_page(view, shown={"id": uid, "token": data["token"]})


@page("POST", f"{USERS}/{{id}}/revoke")
async def revoke(view: View) -> web.StreamResponse:
    uid = view.request.match_info["id"]
    await view.fetch("DELETE", "/users/{id}/token", match={"id": uid})
    return await users_page(view, revoked=uid)
