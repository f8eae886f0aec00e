"""Sign-in with an API token (posted in a form, never in a URL) and sign-out."""

from __future__ import annotations

import secrets

from aiohttp import web

from seqflow_tasks.web import sessions
from seqflow_tasks.web.bridge import deps_of
from seqflow_tasks.web.pages import SIGNIN, View, page

HOME = "/ui/tasks"


def _form(view: View, status: int = 200, error: str | None = None) -> web.Response:
    """The form, with a fresh sign-in CSRF token in a cookie and the hidden field."""
    token = secrets.token_urlsafe(24)
    response = view.render("signin.html", status, signin_csrf=token, error=error)
    sessions.set_cookie(response, sessions.SIGNIN_COOKIE, token, view.request)
    return response


@page("GET", SIGNIN, rule="public")
async def signin_form(view: View) -> web.StreamResponse:
    if view.session is not None:
        return view.redirect(HOME)
    return _form(view)


@page("POST", SIGNIN, rule="public")
async def signin(view: View) -> web.StreamResponse:
    opened = await sessions.open_session(deps_of(view.request), view.form.get("token", ""))
    if opened is None:
        return _form(view, 401, "That token does not belong to any user.")
    sid, _ = opened
    response = view.redirect(HOME)
    sessions.set_cookie(response, sessions.COOKIE, sid, view.request)
    response.del_cookie(sessions.SIGNIN_COOKIE, path="/")
    return response


@page("POST", "/ui/signout")
async def signout(view: View) -> web.StreamResponse:
    assert view.session is not None
    deps = deps_of(view.request)
    await sessions.close_session(deps, view.session, deps.clock.now())
    response = view.redirect(SIGNIN)
    response.del_cookie(sessions.COOKIE, path="/")
    return response
