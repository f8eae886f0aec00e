"""No input gives a 500 (issue 10): each case the testers found answers a 4xx naming the field, and changes nothing."""

from __future__ import annotations

import json
from typing import Any

from support.tasks_service import NOW, Api
from support.webhooks import signed_email, signed_email_raw
from support.world import World, build_world, template

DEEP = "[" * 1000 + "]" * 1000


def raw_json(text: str) -> dict[str, Any]:
    return {"data": text.encode(), "headers": {"Content-Type": "application/json"}}


def with_custom(custom_json: str) -> dict[str, Any]:
    return raw_json('{"contacts": [{"id": "deep", "custom": {"x": ' + custom_json + "}}]}")


def cases(world: World) -> list[tuple[str, str, str, dict[str, Any], int, str]]:
    """(caller, method, path, request arguments, status, field) — every case of the issue, and a few more."""
    a = world.objects["alice"]
    act = world.activation("alice", "bad")
    return [
        ("alice", "POST", "/templates", {"json": {**template("alice"), "name": "a\x00b"}}, 422, "name"),
        ("alice", "POST", "/rollups", {"json": {"name": "a\x00b"}}, 422, "name"),
        ("admin", "POST", "/users", {"json": {"id": "x", "name": "a\x00", "email": "x@y.z"}}, 422, "name"),
        ("alice", "GET", "/contacts/a%00b/activities", {}, 400, "id"),
        ("alice", "POST", f"/rollups/{a['rollup']}/members", {"json": {"contacts": [
            {"id": "n1", "first_name": "a\x00"}]}}, 422, "contacts[0].first_name"),  # fmt: skip
        ("alice", "POST", f"/rollups/{a['rollup']}/members", {"json": {"contacts": [{"id": "n\x00"}]}}, 422,
         "contacts[0].id"),  # fmt: skip
        ("alice", "POST", f"/contacts/{a['contact']}/notes", {"json": {"text": "a\x00"}}, 422, "text"),
        ("alice", "POST", f"/contacts/{a['contact']}/notes", raw_json('{"text": "\\ud800"}'), 422, "text"),
        ("alice", "GET", "/tasks?sequence=%00", {}, 400, "sequence"),
        ("alice", "GET", "/tasks?priority=a%00", {}, 400, "priority"),
        ("alice", "GET", "/tasks?due_from=9999-12-31T23:59:59-12:00", {}, 422, "due_from"),
        ("", "POST", "/webhooks/email", {"json": {"type": "replied", "message_id": "<a\x00>"}}, 401,
         "X-Seqflow-Signature"),  # fmt: skip
        ("", "POST", "/webhooks/email", signed_email({"type": "replied", "message_id": "<a\x00>"}, NOW), 422,
         "message_id"),  # fmt: skip
        ("alice", "POST", "/templates/validate", raw_json(DEEP), 400, "(body)"),
        ("alice", "POST", f"/rollups/{a['rollup']}/members", with_custom(DEEP), 400, "(body)"),
        ("alice", "POST", f"/rollups/{a['rollup']}/members", with_custom("NaN"), 400, "(body)"),
        ("alice", "POST", f"/rollups/{a['rollup']}/members", with_custom("1e400"), 400, "(body)"),
        ("", "POST", "/webhooks/email", {**signed_email({}, NOW), "data": DEEP.encode()}, 401, "X-Seqflow-Signature"),
        ("", "POST", "/webhooks/email", signed_email_raw(DEEP.encode(), NOW), 400, "(body)"),
        ("", "POST", "/webhooks/sms", {"data": b"From=x", "headers": {"Content-Type": "multipart/form-data"}}, 415,
         "Content-Type"),  # fmt: skip
        ("alice", "GET", f"/tasks/{2**63}", {}, 404, "id"),
        ("alice", "POST", f"/tasks/{2**64}/mark", {"json": {"outcome": "Connected"}}, 404, "id"),
        ("alice", "POST", "/sequences", {"json": {**act, "end": "9999-12-31T23:59", "timezone": "Etc/GMT+12"}}, 422,
         "end"),  # fmt: skip
        ("alice", "POST", "/sequences", {"json": {**act, "begin": "0001-01-01"}}, 422, "begin"),
        ("alice", "POST", "/sequences", {"json": {**act, "timezone": "localtime"}}, 422, "timezone"),
        ("alice", "POST", "/sequences", {"json": {**act, "rate_limits": {"email": {"count": 2**63, "per": "PT1H"}}}},
         422, "rate_limits.email.count"),  # fmt: skip
        ("alice", "POST", "/sequences", {"json": {**act, "rate_limits": {"sms": {"count": 5, "per": "P400D"}}}},
         422, "rate_limits.sms.per"),  # fmt: skip
        ("alice", "POST", "/templates", {"json": _with_delay("P99999W")}, 422, "branches[0].steps[0].delay"),
        ("alice", "POST", "/sequences", {"json": {**act, "name": "n" * 5000}}, 422, "name"),
        ("alice", "POST", f"/rollups/{a['rollup']}/members", {"json": {"contacts": [{"id": "c" * 5000}]}}, 422,
         "contacts[0].id"),  # fmt: skip
        ("alice", "POST", "/templates", {"data": b"{}", "headers": {"Content-Type": "text/plain"}}, 415,
         "Content-Type"),  # fmt: skip
    ]


def _with_delay(delay: str) -> dict[str, Any]:
    body = template("alice")
    body["branches"][0]["steps"][0]["delay"] = delay
    return body


async def snapshot(world: World) -> str:
    """What the refused requests must not have changed, as alice and the admin see it."""
    seen = []
    for user, path in (("alice", "/templates"), ("alice", "/sequences"), ("admin", "/overview"),
                       ("alice", f"/rollups/{world.objects['alice']['rollup']}"), ("admin", "/users")):  # fmt: skip
        status, body = await world.call(user, "GET", path)
        assert status == 200, (path, body)
        seen.append(body)
    return json.dumps(seen, sort_keys=True)


async def test_every_bad_input_the_testers_found_gets_a_4xx_naming_the_field_and_changes_nothing(api: Api) -> None:
    world = await build_world(api)
    before = await snapshot(world)
    wrong = []
    for caller, method, path, request, status, field in cases(world):
        token = world.tokens[caller] if caller else ""
        got, body = await api.call(method, path, token, **request)
        if (got, body.get("field") if isinstance(body, dict) else body) != (status, field):
            wrong.append(f"{method} {path}: wanted {status} {field!r}, got {got} {body}")
    assert not wrong, "\n".join(wrong)
    assert await snapshot(world) == before


async def test_a_non_ascii_bearer_token_is_refused_with_401(api: Api) -> None:
    async with api.session.get(api.base + "/users/me", headers={"Authorization": "Bearer tökén"}) as r:
        assert (r.status, (await r.json())["field"]) == (401, "Authorization")
