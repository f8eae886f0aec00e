"""The page registry: each page declares its method, path and rule once; one wrapper enforces them.

Rules: `public` (the sign-in form) or `signed_in` (a session is required). What a signed-in user may see
or do is not decided here: every page reads and acts through `bridge.call`, i.e. the API's own permission
checks. Every POST is refused unless it comes from our own origin (Origin / Referer) and carries the
session's CSRF token in the form field `csrf`.

A page module (`web/page_*.py`, imported automatically) looks like::

    @page("GET", "/ui/example")
    async def example(view: View) -> web.StreamResponse:
        data = await view.fetch("GET", "/tasks", query={"type": "call"})
        return view.render("example.html", tasks=data["tasks"])
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import urlsplit

from aiohttp import web
from multidict import MultiDict, MultiDictProxy

from seqflow_tasks.api.registry import ApiError
from seqflow_tasks.db import Row
from seqflow_tasks.web import sessions
from seqflow_tasks.web.bridge import call, deps_of
from seqflow_tasks.web.sessions import Session
from seqflow_tasks.web.templating import render_page

log = logging.getLogger(__name__)
Rule = Literal["public", "signed_in"]
SIGNIN = "/ui/signin"
HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


@dataclass
class View:
    """What a page handler gets: the request, the session (None on public pages) and the parsed form."""

    request: web.Request
    session: Session | None
    form: MultiDictProxy[str] = field(default_factory=lambda: MultiDictProxy(MultiDict()))

    @property
    def user(self) -> Row:
        assert self.session is not None, "only signed_in pages have a user"
        return self.session.user

    async def call(self, method: str, path: str, **kw: Any) -> tuple[int, Any]:
        """`bridge.call` for the signed-in user: (status, JSON answer)."""
        return await call(self.request, self.user, method, path, **kw)

    async def fetch(self, method: str, path: str, **kw: Any) -> Any:
        """Like `call`, but an API refusal becomes the error page with the API's status and message."""
        status, data = await self.call(method, path, **kw)
        if status >= 400:
            raise ApiError(status, data.get("error", "refused"), data.get("field"))
        return data

    def render(self, template: str, code: int = 200, **context: Any) -> web.Response:
        base = {"user": self.session.user if self.session else None,
                "csrf": self.session.csrf if self.session else "", "path": self.request.path}  # fmt: skip
        html = render_page(template, {**base, **context})
        return web.Response(text=html, status=code, content_type="text/html", headers=HEADERS)

    def error(self, code: int, message: str) -> web.Response:
        return self.render("error.html", code, status=code, message=message)

    def redirect(self, url: str) -> web.Response:
        return see_other(url)


def see_other(url: str) -> web.Response:
    """A 303 answer (a POST's result is fetched with GET); returned, not raised, so cookies can be set."""
    return web.Response(status=303, headers={**HEADERS, "Location": url})


PageHandler = Callable[[View], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class Page:
    method: str
    path: str
    handler: PageHandler
    rule: Rule


PAGES: list[Page] = []


def page(method: str, path: str, *, rule: Rule = "signed_in") -> Callable[[PageHandler], PageHandler]:
    def register(fn: PageHandler) -> PageHandler:
        PAGES.append(Page(method, path, fn, rule))
        return fn

    return register


def same_origin(request: web.Request) -> bool:
    """The POST came from a page of ours: Origin (or, failing that, Referer) names this very host.

    Hosts are compared, not schemes: behind a TLS-terminating proxy the service sees http while the
    browser says https, and another site can never send this host as its origin."""
    origin = request.headers.get("Origin")
    source = origin if origin and origin != "null" else request.headers.get("Referer", "")
    return bool(request.host) and urlsplit(source).netloc == request.host


def csrf_ok(request: web.Request, p: Page, session: Session | None, form: Mapping[str, str]) -> bool:
    """Signed-in pages check the session's token; the sign-in form its own cookie (no session yet)."""
    own = p.rule == "signed_in" and session is not None
    expected = session.csrf if own and session else request.cookies.get(sessions.SIGNIN_COOKIE, "")
    return bool(expected) and sessions.same(form.get("csrf", ""), expected)


def unstorable(request: web.Request, form: Mapping[str, str]) -> str | None:
    """The first URL or form field holding a NUL character (PostgreSQL text cannot store one), if any."""
    fields = [*request.match_info.items(), *request.query.items(), *form.items()]
    return next((name for name, value in fields if "\x00" in str(value)), None)


def wrap(p: Page) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def handler(request: web.Request) -> web.StreamResponse:
        session = await sessions.find_session(deps_of(request), request)
        view = View(request, session)
        try:
            posted = request.method == "POST"
            if posted:
                view.form = await request.post()  # type: ignore[assignment] - text fields only
                if not same_origin(request):
                    return view.error(403, "Cross-site request refused.")
            if (bad := unstorable(request, view.form)) is not None:
                return view.error(400, f"{bad}: must not contain NUL characters")
            if p.rule == "signed_in" and session is None:
                return see_other(SIGNIN)  # e.g. the session expired: nothing was done, sign in again
            if posted and not csrf_ok(request, p, session, view.form):
                return view.error(403, "This form is out of date or not ours (CSRF check): reload and try again.")
            return await p.handler(view)
        except ApiError as exc:
            return view.error(exc.status, exc.error)
        except web.HTTPException:
            raise
        except Exception:
            log.exception("unhandled error in page %s %s", p.method, p.path)
            return view.error(500, "Something went wrong on our side.")

    return handler
