"""Every registered web page, as plain HTTP: signed out it sends the visitor to sign in and shows nothing;
signed in without permissions (dave) or as another owner (carol) it shows none of alice's data.

Pages act through the API's routes (`web/bridge.py`), so their object rules are the routes' own; this test
makes sure no page shows or does more than those routes allow, whatever its `{id}` names.
"""

from __future__ import annotations

import html
import re

import aiohttp
from support.tasks_service import Api
from support.world import World, build_world

from seqflow_tasks.web import load_pages
from seqflow_tasks.web.pages import PAGES, SIGNIN, Page
from seqflow_tasks.web.sessions import COOKIE, SIGNIN_COOKIE

# Which of alice's objects a page's `{id}` names, by the path's first segment after /ui.
ID_OF = {"contacts": "contact", "templates": "template", "sequences": "sequence", "rollups": "rollup",
         "tasks": "task"}  # fmt: skip
CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def guarded_pages() -> list[Page]:
    load_pages()
    return [p for p in PAGES if p.rule != "public"]


def concrete(world: World, p: Page) -> str:
    """The page's path acting on alice's objects (a GET also names her sequence in the query)."""
    o = world.objects["alice"]
    section, path = p.path.split("/")[2], p.path
    if "{id}" in p.path:
        path = p.path.replace("{id}", "alice" if section == "users" else o[ID_OF[section]])
    path = path.replace("{contact}", o["contact"]).replace("{action:pause|resume|end|archive}", "pause")
    return path + (f"?sequence={o['sequence']}" if p.method == "GET" else "")


def alices_data(world: World) -> list[str]:
    """What only someone who may see alice's objects may read: her contact, sequence, rollup, user email."""
    raw = ["alice-contact@x.example", "alice's sequence", "alice's list", "alice@agency.example"]
    return sorted({form for text in raw for form in (text, html.escape(text))})


class Browser:
    """A cookie-holding HTTP client for the tasks service (no redirects followed, same-origin POSTs)."""

    def __init__(self, api: Api, session: aiohttp.ClientSession) -> None:
        self.api, self.session, self.csrf = api, session, ""
        self.cookies: dict[str, str] = {}

    async def send(self, method: str, path: str, form: dict[str, str] | None = None) -> tuple[int, str, str]:
        headers = {"Origin": self.api.base, "Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())}
        data = {"csrf": self.csrf, **(form or {})} if method == "POST" else None
        async with self.session.request(method, self.api.base + path, headers=headers, data=data,
                                        allow_redirects=False) as r:  # fmt: skip
            self.cookies.update({k: m.value for k, m in r.cookies.items()})
            return r.status, r.headers.get("Location", ""), await r.text()

    async def sign_in(self, token: str) -> None:
        _, _, form = await self.send("GET", SIGNIN)
        self.csrf = self.cookies[SIGNIN_COOKIE]
        status, where, _ = await self.send("POST", SIGNIN, {"token": token})
        assert (status, where) == (303, "/ui/tasks") and COOKIE in self.cookies, form
        self.csrf = CSRF.search((await self.send("GET", "/ui/patterns"))[2]).group(1)  # type: ignore[union-attr]


async def walk(world: World, browser: Browser, methods: tuple[str, ...]) -> list[tuple[Page, int, str, str]]:
    pages = [p for p in guarded_pages() if p.method in methods and p.path != "/ui/signout"]
    return [(p, *await browser.send(p.method, concrete(world, p))) for p in pages]


def leaks(answers: list[tuple[Page, int, str, str]], markers: list[str]) -> list[str]:
    """Each (page, marker) the page's answer shows, and every server error."""
    shown = [f"{p.method} {p.path} → {status}: shows {m!r}"
             for p, status, _, body in answers for m in markers if m in body]  # fmt: skip
    return shown + [f"{p.method} {p.path} → {status}" for p, status, _, _ in answers if status >= 500]


async def test_every_page_sends_a_signed_out_visitor_to_sign_in_and_shows_nothing(api: Api) -> None:
    world = await build_world(api)
    async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as session:
        answers = await walk(world, Browser(api, session), ("GET", "POST"))
    assert len(answers) == len(guarded_pages()) - 1  # all but sign-out, which needs a session to end
    wrong = [f"{p.method} {p.path} → {status} {where}" for p, status, where, _ in answers
             if (status, where) != (303, SIGNIN)]  # fmt: skip
    assert not wrong + leaks(answers, alices_data(world)), "\n".join(wrong)


async def test_no_page_shows_alices_data_to_a_user_without_permissions_or_to_another_owner(api: Api) -> None:
    world = await build_world(api)
    problems: list[str] = []
    async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as session:
        for user, methods in (("dave", ("GET", "POST")), ("carol", ("GET",)), ("alice", ("GET",))):
            browser = Browser(api, session)
            await browser.sign_in(world.tokens[user])
            answers = await walk(world, browser, methods)
            problems += [f"{user}: {x}" for x in leaks(answers, alices_data(world))]
    shown_to_alice = [x for x in problems if x.startswith("alice: ") and "→ 200: shows" in x]
    assert shown_to_alice, "the walk as alice shows her own data, so the markers mean something"
    assert not [x for x in problems if not x.startswith("alice: ")], "\n".join(problems)
    _, seq = await world.call("alice", "GET", f"/sequences/{world.objects['alice']['sequence']}")
    _, detail = await world.call("alice", "GET", f"/tasks/{world.objects['alice']['task']}")
    assert seq["state"] == "active" and detail["state"] == "open"  # dave's posts changed nothing of hers
