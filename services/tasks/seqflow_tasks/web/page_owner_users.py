"""Users (admin only): create one with permissions, show its new token once, rotate or revoke a token.

Built on the API's token routes (`GET /users`, `POST /users` answering `token` once, `POST|DELETE
/users/{id}/token`). Every action posts, then redirects (303) to the list, so a reload never posts again
(a reloaded rotate would silently replace the token just copied). The one-time token crosses that redirect in
a short-lived HttpOnly cookie scoped to this page, which the list reads and deletes at once: the token never
appears in a URL and a reload shows it no more."""

from __future__ import annotations

import base64
import json
from typing import Any

from aiohttp import web

from seqflow_tasks.web.pages import View, page

USERS = "/ui/users"
PERMISSIONS = ("sequences:activate", "tasks:mine", "admin")
FLASH = "seqflow_users_flash"
FLASH_SECONDS = 60  # long enough for the redirect, short enough that a lost one does not linger


def _flash(view: View, **what: str) -> web.Response:
    """Redirect to the list, carrying what just happened (and a new token) for its very next view only."""
    response = view.redirect(USERS)
    value = base64.urlsafe_b64encode(json.dumps(what).encode()).decode()
    response.set_cookie(FLASH, value, httponly=True, samesite="Strict", path=USERS, secure=view.request.secure,
                        max_age=FLASH_SECONDS)  # fmt: skip
    return response


def _take_flash(view: View) -> dict[str, str]:
    raw = view.request.cookies.get(FLASH, "")
    try:
        what = json.loads(base64.urlsafe_b64decode(raw.encode())) if raw else {}
    except ValueError:
        return {}
    return {k: str(v) for k, v in what.items()} if isinstance(what, dict) else {}


async def users_page(view: View, status: int = 200, now: dict[str, str] | None = None, **extra: Any) -> web.Response:
    """The list; `now` (or else the flash cookie, consumed here) says what just happened."""
    users = (await view.fetch("GET", "/users"))["users"]
    flash = now or _take_flash(view)
    response = view.render("owner/users.html", status, users=users, permissions=PERMISSIONS, flash=flash,
                           me=view.user["id"], **extra)  # fmt: skip
    if FLASH in view.request.cookies:
        response.del_cookie(FLASH, path=USERS)
    return response


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
    return _flash(view, kind="created", id=data["id"], token=data["token"])


async def _admin_target(view: View) -> str:
    """The user the row's button names. Listing users is the API's admin-only read, so a non-admin is
    refused here (403) before anything changes: this screen is the admin's, not a way to one's own token."""
    await view.fetch("GET", "/users")
    return view.request.match_info["id"]


@page("POST", f"{USERS}/{{id}}/rotate")
async def rotate(view: View) -> web.StreamResponse:
    uid = await _admin_target(view)
    token = (await view.fetch("POST", "/users/{id}/token", match={"id": uid}))["token"]
    if uid == view.user["id"]:
        # rotating one's own token ends this very session: show the token now, the redirect would lose it
        return await users_page(view, now={"kind": "rotated", "id": uid, "token": token}, signed_out=True)
    return _flash(view, kind="rotated", id=uid, token=token)


@page("POST", f"{USERS}/{{id}}/revoke")
async def revoke(view: View) -> web.StreamResponse:
    uid = await _admin_target(view)
    await view.fetch("DELETE", "/users/{id}/token", match={"id": uid})
    return _flash(view, kind="revoked", id=uid)

