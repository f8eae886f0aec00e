"""Every route in the registry, called as each kind of user against objects they do and do not own.

The table below names, for each route, who may act on alice's objects; everyone else must be refused
(403, or 404 when the object is hidden) and nothing may change. Every route that is not public must have a
row (and every row a route), and every one answers 401 without a token, so a route added without a rule or
without a row here fails this test.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from support.tasks_service import ADMIN, Api
from support.world import World, build_world, template

from seqflow_tasks import policy
from seqflow_tasks.api.registry import ROUTES, Route

ALL = ("carol", "dave", "bob", "alice", "admin")  # refused users run first, the admin last
OWNER = {"admin", "alice"}
TEAM = {"admin", "alice", "bob"}
ACTIVATORS = {"admin", "alice", "carol"}
SIGNED_IN = set(ALL)
Params = Callable[[World, str, str], tuple[str, Any]]
_seq = itertools.count()


@dataclass(frozen=True)
class Case:
    """`params(world, owner, caller)` → (path, body) acting on `owner`'s objects; `allowed` on alice's.
    `owned`: also call it on carol's objects as alice and bob (refused). `sees`: for a list, whether the
    answer shows alice's object (only the allowed users may see it; the rule's other users get a list)."""

    params: Params
    allowed: set[str]
    owned: bool = True
    rule_users: set[str] | None = None
    sees: Callable[[World, Any], bool] | None = None


def obj(path: str, body: Any = None) -> Params:
    def make(world: World, owner: str, caller: str) -> tuple[str, Any]:
        o = world.objects[owner]
        return path.format(**o), body(world, owner) if callable(body) else body

    return make


def new(body: Callable[[str], Any], path: str) -> Params:
    return lambda world, owner, caller: (path, body(owner))


def listed(key: str, what: str) -> Callable[[World, Any], bool]:
    return lambda world, body: any(world.objects["alice"][what] in (r.get("id"), r.get("sequence_id"))
                                   for r in body[key])  # fmt: skip


def erasing(world: World, owner: str, caller: str) -> tuple[str, Any]:
    """Each allowed eraser (the admin, the owner) erases a spare contact of their own, so both can succeed."""
    o = world.objects[owner]
    return f"/contacts/{o['spare_admin'] if caller == 'admin' else o['spare_owner']}", None


def preview(world: World, owner: str, caller: str) -> tuple[str, Any]:
    return "/sequences/preview", {**world.activation(owner, ""), "horizon_days": 7}


def csv_import(world: World, owner: str) -> dict[str, Any]:
    return {"csv": f"id,first_name,email\n{owner}-imported,Imp,{owner}-imported@x.example\n"}


BRANCHES = {"branches": template("alice")["branches"]}
CASES: dict[tuple[str, str], Case] = {
    ("POST", "/templates"): Case(new(template, "/templates"), OWNER),
    ("POST", "/templates/validate"): Case(new(template, "/templates/validate"), ACTIVATORS, owned=False),
    ("GET", "/templates"): Case(obj("/templates"), OWNER, False, ACTIVATORS, listed("templates", "template")),
    ("GET", "/templates/{id}"): Case(obj("/templates/{template}"), OWNER),
    ("PUT", "/templates/{id}"): Case(obj("/templates/{template}", lambda w, o: template(o)), OWNER),
    ("POST", "/sequences"): Case(lambda w, o, c: ("/sequences", w.activation(o, f"s{next(_seq)}")), OWNER),
    ("GET", "/sequences"): Case(obj("/sequences"), TEAM, False, ACTIVATORS | TEAM, listed("sequences", "sequence")),
    ("GET", "/sequences/{id}"): Case(obj("/sequences/{sequence}"), TEAM),
    ("POST", "/sequences/{id}/pause"): Case(obj("/sequences/{sequence}/pause"), OWNER),
    ("POST", "/sequences/{id}/resume"): Case(obj("/sequences/{sequence}/resume"), OWNER),
    ("PATCH", "/sequences/{id}"): Case(obj("/sequences/{sequence}", {"send_days": ["mon"]}), OWNER),
    ("PUT", "/sequences/{id}/branches"): Case(obj("/sequences/{sequence}/branches", BRANCHES), OWNER),
    ("POST", "/sequences/{id}/use-as-template"): Case(obj("/sequences/{sequence}/use-as-template"), OWNER),
    ("GET", "/tasks"): Case(obj("/tasks"), TEAM, False, ACTIVATORS | TEAM, listed("tasks", "sequence")),
    ("GET", "/tasks/{id}"): Case(obj("/tasks/{task}"), TEAM),
    ("GET", "/queue"): Case(obj("/queue"), TEAM, False, ACTIVATORS | TEAM, listed("queue", "sequence")),
    ("GET", "/overview"): Case(obj("/overview"), TEAM, False, ACTIVATORS | TEAM, listed("sequences", "sequence")),
    ("GET", "/metrics/compare"): Case(obj("/metrics/compare?sequence={sequence}"), TEAM),
    ("GET", "/contacts/{id}/activities"): Case(obj("/contacts/{contact}/activities"), TEAM),
    ("POST", "/contacts/{id}/notes"): Case(obj("/contacts/{contact}/notes", {"text": "hi"}), TEAM),
    ("POST", "/contacts/{id}/activities"): Case(obj("/contacts/{contact}/activities", {"text": "met"}), TEAM),
    ("PATCH", "/contacts/{id}"): Case(obj("/contacts/{contact}", {"title": "CTO"}), TEAM),
    ("POST", "/rollups"): Case(new(lambda o: {"name": "more"}, "/rollups"), ACTIVATORS, owned=False),
    ("GET", "/rollups/{id}"): Case(obj("/rollups/{rollup}"), OWNER),
    ("POST", "/rollups/{id}/members"): Case(obj("/rollups/{rollup}/members", lambda w, o: {
        "contact_ids": [w.objects[o]["contact"]]}), OWNER),  # fmt: skip
    ("POST", "/tasks/{id}/mark"): Case(obj("/tasks/{task}/mark", {"outcome": "Connected"}), TEAM),
    ("POST", "/sequences/{id}/enrollments/{contact_id}/move-next"): Case(
        obj("/sequences/{sequence}/enrollments/{contact}/move-next"), TEAM),
    ("POST", "/sequences/{id}/enrollments/{contact_id}/retry"): Case(
        obj("/sequences/{sequence}/enrollments/{contact}/retry"), TEAM),
    ("GET", "/tasks/{id}/draft"): Case(obj("/tasks/{email_task}/draft"), TEAM),
    ("POST", "/tasks/{id}/send"): Case(obj("/tasks/{email_task}/send", {"body": "Dear Alice"}), TEAM),
    ("POST", "/tasks/{id}/mark-sent"): Case(obj("/tasks/{jot_task}/mark-sent", {}), TEAM),
    ("GET", "/contacts/{id}/sequences"): Case(obj("/contacts/{contact}/sequences"), TEAM),
    ("POST", "/sequences/preview"): Case(preview, OWNER),
    ("GET", "/rollups"): Case(obj("/rollups"), OWNER, False, ACTIVATORS, listed("rollups", "rollup")),
    ("GET", "/rollups/{id}/members"): Case(obj("/rollups/{rollup}/members"), OWNER),
    ("POST", "/rollups/{id}/import"): Case(obj("/rollups/{rollup}/import", lambda w, o: csv_import(w, o)), OWNER),
    ("GET", "/metrics/results"): Case(obj("/metrics/results?sequence={sequence}"), OWNER),
    ("GET", "/metrics/compare.csv"): Case(obj("/metrics/compare.csv?sequence={sequence}"), OWNER),
    ("POST", "/sequences/{id}/end"): Case(obj("/sequences/{sequence}/end"), OWNER),
    ("POST", "/sequences/{id}/archive"): Case(obj("/sequences/{sequence}/archive"), OWNER),
    ("POST", "/sequences/{id}/enrollments/{contact_id}/remove-from-sequence"): Case(
        obj("/sequences/{sequence}/enrollments/{contact}/remove-from-sequence"), TEAM),
    ("DELETE", "/rollups/{id}/members/{contact_id}"): Case(obj("/rollups/{rollup}/members/{contact}"), OWNER),
    ("GET", "/users/me"): Case(obj("/users/me"), SIGNED_IN, owned=False),
    ("GET", "/users"): Case(obj("/users"), {"admin"}, owned=False),
    ("POST", "/users"): Case(lambda w, o, c: ("/users", {"id": f"u{next(_seq)}", "name": "U", "email": "u@x.example"}),
                             {"admin"}, owned=False),  # fmt: skip
    ("POST", "/users/{id}/token"): Case(lambda w, o, c: (f"/users/{o}/token", None), OWNER),
    ("DELETE", "/users/{id}/token"): Case(lambda w, o, c: (f"/users/{o}/token", None), OWNER),
    ("DELETE", "/contacts/{id}"): Case(erasing, OWNER),
}


def refused(status: int) -> bool:
    return status in (403, 404)


async def check_case(world: World, r: Route, case: Case) -> list[str]:
    problems: list[str] = []
    for user in ALL:
        path, body = case.params(world, "alice", user)
        status, answer = await world.call(user, r.method, path, body)
        problems += verdict(world, r, case, user, status, answer)
        if r.path == "/users/{id}/token" and status == 200:
            world.tokens["alice"] = answer.get("token") or (await world.call("admin", "POST", path))[1]["token"]
        if case.owned and user in ("alice", "bob"):
            other, other_body = case.params(world, "carol", user)
            status, answer = await world.call(user, r.method, other, other_body)
            problems += [f"{user} on carol's object: {r.method} {other} → {status}"] * (not refused(status))
    return problems


def verdict(world: World, r: Route, case: Case, user: str, status: int, answer: Any) -> list[str]:
    where = f"{user}: {r.method} {r.path} → {status} {answer}"
    if status >= 500 or status == 401:
        return [where]
    if case.sees is not None and user in (case.rule_users or set()):
        return [] if status == 200 and case.sees(world, answer) == (user in case.allowed) else [f"list {where}"]
    return [] if refused(status) != (user in case.allowed) else [where]


async def without_token(world: World, r: Route) -> list[str]:
    status, _ = await world.api.call(r.method, r.path.replace("{", "").replace("}", ""), "")
    return [] if status == 401 else [f"no token: {r.method} {r.path} → {status}"]


def test_every_route_that_is_not_public_has_a_rule_and_a_row_in_the_table() -> None:
    undeclared = [f"{r.method} {r.path}" for r in ROUTES if r.rule is None]
    assert not undeclared, f"routes without a permission rule: {undeclared}"
    guarded = {(r.method, r.path) for r in ROUTES if r.rule is not policy.PUBLIC}
    assert not guarded - set(CASES), f"routes without a row in CASES: {sorted(guarded - set(CASES))}"
    assert not set(CASES) - guarded, f"rows in CASES for no (or a public) route: {sorted(set(CASES) - guarded)}"


async def test_every_route_refuses_whoever_the_table_does_not_allow(api: Api) -> None:
    world = await build_world(api)
    problems: list[str] = []
    order = list(CASES)  # the table's order: changes that end or archive the sequence, or erase, come last
    for r in sorted((r for r in ROUTES if (r.method, r.path) in CASES), key=lambda r: order.index((r.method, r.path))):
        problems += await without_token(world, r) + await check_case(world, r, CASES[(r.method, r.path)])
    assert not problems, "\n".join(problems)


async def test_refused_calls_change_nothing(api: Api) -> None:
    world = await build_world(api)
    alice = world.objects["alice"]
    for user in ("bob", "carol", "dave"):  # bob is on alice's team: he may edit her contacts, nothing else here
        await world.call(user, "PUT", f"/templates/{alice['template']}", template(user))
        await world.call(user, "POST", f"/sequences/{alice['sequence']}/end")
        if user != "bob":
            await world.call(user, "PATCH", f"/contacts/{alice['contact']}", {"email": "attacker@evil.example"})
    carols = world.objects["carol"]["rollup"]
    await world.call("carol", "POST", f"/rollups/{carols}/members",
                     {"contacts": [{"id": alice["contact"], "email": "attacker@evil.example"}]})  # fmt: skip
    status, imported = await world.call("carol", "POST", f"/rollups/{carols}/import",
                                        {"csv": f"id,email\n{alice['contact']},attacker@evil.example\n"})  # fmt: skip
    assert status in (404, 409) or imported["added"] == 0, imported  # a CSV row is no way round the members rule
    _, tpl = await world.call("alice", "GET", f"/templates/{alice['template']}")
    assert tpl["owner"] == "alice"
    _, seq = await world.call("alice", "GET", f"/sequences/{alice['sequence']}")
    assert seq["state"] == "active"
    _, rollup = await world.call("alice", "GET", f"/rollups/{alice['rollup']}")
    _, detail = await world.call("alice", "GET", f"/tasks/{alice['task']}")
    assert detail["contact"]["email"] == "alice-contact@x.example"
    assert rollup["owner"] == "alice"


async def test_a_rotated_token_replaces_the_old_one_and_a_revoked_one_stops_working(api: Api) -> None:
    world = await build_world(api)
    old = world.tokens["bob"]
    status, rotated = await world.call("bob", "POST", "/users/bob/token")
    assert status == 200 and rotated["token"] != old and len(rotated["token"]) >= 43
    assert (await api.call("GET", "/users/me", old))[0] == 401
    assert (await api.call("GET", "/users/me", rotated["token"]))[1]["id"] == "bob"
    assert (await world.call("admin", "DELETE", "/users/bob/token"))[0] == 200
    assert (await api.call("GET", "/users/me", rotated["token"]))[0] == 401
    _, users = await world.call("admin", "GET", "/users")
    assert {u["id"]: u["has_token"] for u in users["users"]}["bob"] is False
    assert all("token" not in u and "token_hash" not in u for u in users["users"])


async def test_nobody_can_choose_a_token_and_tokens_are_stored_only_as_hashes(api: Api) -> None:
    body = {"id": "erin", "name": "Erin", "email": "erin@x.example", "token": "aaaaaaaa"}
    status, err = await api.call("POST", "/users", json=body)
    assert (status, err["field"]) == (422, "token")
    del body["token"]
    _, created = await api.call("POST", "/users", json=body)
    async with api.app.pool.acquire() as c:  # type: ignore[union-attr]
        rows = await c.fetch(f"SELECT * FROM {api.app.settings.schema_name('tasks')}.users ORDER BY id")
    stored = {r["id"]: dict(r) for r in rows}
    assert created["token"] not in [str(v) for v in stored["erin"].values()]
    assert stored["erin"]["token_hash"] == hashlib.sha256(created["token"].encode()).hexdigest()
    assert stored["admin"]["token_hash"] == hashlib.sha256(ADMIN.encode()).hexdigest()  # the env token, hashed
    assert all("token" not in r for r in stored.values())
    assert (await api.call("GET", "/users/me", created["token"]))[1]["id"] == "erin"
