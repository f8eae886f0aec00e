"""The tasks service in-process on a real broker and PostgreSQL, driven over HTTP; other services faked."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

from support.tasks_service import NOW, Api, add_user, api, wait_for
from support.webhooks import signed_email

from seqflow.messaging.dispatch import SendResult
from seqflow.messaging.work import EnrollmentChanged, TaskDue

__all__ = ["api"]  # the fixture
TEMPLATE: dict[str, Any] = {
    "name": "Outreach",
    "owner": "alice",
    "branches": [{"key": "main", "steps": [
        {"key": "intro", "type": "auto_email",
         "email": {"from_alias": "alice@agency.example", "subject": "Hi", "body": "Hello"}},
        {"key": "call", "type": "call", "instructions": "Ask",
         "conditions": [{"when": "Connected", "then": {"complete": True}},
                        {"when": "Left voicemail", "then": {"next": True}}]},
        {"key": "book", "type": "task"}]}],
}  # fmt: skip


async def setup_world(api: Api) -> dict[str, str]:
    tokens = {u: await add_user(api, u, ["sequences:activate", "tasks:mine"]) for u in ("alice", "bob", "carol")}
    _, tpl = await api.call("POST", "/templates", tokens["alice"], json=TEMPLATE)
    _, rollup = await api.call("POST", "/rollups", tokens["alice"], json={"name": "Q4"})
    return {**tokens, "template": tpl["id"], "rollup": rollup["id"]}


def activation(world: dict[str, str], **over: Any) -> dict[str, Any]:
    base = {"name": "Python Q4", "template_id": world["template"], "rollup_id": world["rollup"],
            "begin": "2026-12-01", "timezone": "America/New_York", "primary_user": "alice",
            "team_members": ["bob"]}  # fmt: skip
    return {**base, **over}


async def test_a_template_is_stored_and_a_bad_one_is_refused_with_the_field_named(api: Api) -> None:
    status, created = await api.call("POST", "/templates", json=TEMPLATE)
    assert status == 201
    assert (await api.call("GET", f"/templates/{created['id']}"))[1]["template"]["name"] == "Outreach"
    bad = json.loads(json.dumps(TEMPLATE))
    bad["branches"][0]["steps"][1]["type"] = "fax"
    status, err = await api.call("POST", "/templates", json=bad)
    assert status == 422
    assert err["field"] == "branches[0].steps[1].type"
    assert "fax" in err["error"]
    assert (await api.call("POST", "/templates/validate", json=bad))[0] == 422
    assert (await api.call("GET", "/templates"))[1]["templates"][0]["id"] == created["id"]


async def test_bad_json_gets_400_and_never_a_500(api: Api) -> None:
    status, err = await api.call("POST", "/templates", data=b"{not json", headers={"Content-Type": "application/json"})
    assert (status, err["field"]) == (400, "(body)")
    status, err = await api.call("POST", "/templates", data=b"{}", headers={"Content-Type": "text/plain"})
    assert (status, err["field"]) == (415, "Content-Type")
    status, err = await api.call("POST", "/templates", data=b"{not json", headers={"Content-Type": "application/json"})
    assert status == 400
    assert err["field"] == "(body)"
    assert (await api.call("POST", "/rollups", json=[1, 2]))[0] == 400
    assert (await api.call("POST", "/users", json={"id": "x"}))[0] == 422


async def test_activation_refuses_what_spec_section_3_forbids(api: Api) -> None:
    world = await setup_world(api)
    nobody = await add_user(api, "dave", ["tasks:mine"])
    assert (await api.call("POST", "/sequences", nobody, json=activation(world)))[0] == 403
    status, err = await api.call("POST", "/sequences", json=activation(world, template_id="nope"))
    assert (status, err["field"]) == (404, "template_id")
    status, err = await api.call("POST", "/sequences", json=activation(world, end="2026-11-01"))
    assert (status, err["field"]) == (422, "end")
    status, err = await api.call("POST", "/sequences", json=activation(world, timezone="Mars/Base"))
    assert (status, err["field"]) == (422, "timezone")
    status, err = await api.call("POST", "/sequences", json=activation(world, primary_user="bob"))
    assert (status, err["steps"]) == (409, ["intro"])


async def test_activation_stores_the_sequence_and_publishes_it_and_refuses_reuse(api: Api) -> None:
    world = await setup_world(api)
    status, seq = await api.call("POST", "/sequences", world["alice"], json=activation(world))
    assert (status, seq["state"]) == (201, "active")
    [env] = await api.published("sequence.lifecycle", "sequence_activated")
    assert env.payload["sequence_id"] == seq["id"]
    assert env.payload["primary_user"]["email"] == "alice@agency.example"
    assert env.payload["activated_at"].startswith("2026-12-01T14:00:00")
    status, err = await api.call("POST", "/sequences", json=activation(world))
    assert (status, err["field"]) == (409, "name")
    status, err = await api.call("POST", "/sequences", json=activation(world, name="Other"))
    assert (status, err["field"]) == (409, "rollup_id")
    assert "Python Q4" in err["error"]


def task_due(sid: str, contact: str, step: str, at: datetime = NOW) -> TaskDue:
    return TaskDue(sequence_id=sid, contact_id=contact, step=step, attempt=1, kind="task", type="call",
                   priority="high", branch="main", step_index=1, instructions="Ask",
                   outcomes=["Connected", "Left voicemail"], at=at)  # fmt: skip


async def active_sequence(api: Api) -> tuple[dict[str, str], str]:
    world = await setup_world(api)
    _, seq = await api.call("POST", "/sequences", json=activation(world))
    return world, seq["id"]


async def test_a_due_task_is_seen_by_the_primary_user_and_team_but_not_by_others(api: Api) -> None:
    world, sid = await active_sequence(api)
    await api.produce("scheduler.due-tasks", "task_due", f"{sid}:c1", task_due(sid, "c1", "call"))

    async def alice_sees() -> Any:
        body = (await api.call("GET", "/tasks", world["alice"]))[1]
        return body if body["counts"]["ALL"] == 1 else None

    listed = await wait_for(alice_sees)
    assert listed["counts"] == {"ALL": 1, "call": 1}
    assert (await api.call("GET", "/tasks", world["bob"]))[1]["counts"]["ALL"] == 1
    assert (await api.call("GET", "/tasks", world["carol"]))[1]["counts"]["ALL"] == 0
    task_id = listed["tasks"][0]["id"]
    assert (await api.call("GET", f"/tasks/{task_id}", world["carol"]))[0] == 404
    detail = (await api.call("GET", f"/tasks/{task_id}", world["bob"]))[1]
    assert detail["mark_as"] == ["Connected", "Left voicemail"]
    assert detail["location"] == {"branch": "main", "step_index": 1, "step": "call"}


async def test_marking_publishes_the_outcome_and_returns_the_next_task(api: Api) -> None:
    world, sid = await active_sequence(api)
    for contact in ("c1", "c2"):
        await api.produce("scheduler.due-tasks", "task_due", f"{sid}:{contact}", task_due(sid, contact, "call"))

    async def two() -> Any:
        tasks = (await api.call("GET", "/tasks", world["alice"]))[1]["tasks"]
        return tasks if len(tasks) == 2 else None

    first, second = await wait_for(two)
    status, err = await api.call("POST", f"/tasks/{first['id']}/mark", world["alice"], json={"outcome": "Maybe"})
    assert (status, err["field"]) == (422, "outcome")
    status, body = await api.call("POST", f"/tasks/{first['id']}/mark", world["alice"], json={"outcome": "Connected"})
    assert status == 200
    assert body["next"]["id"] == second["id"]
    [env] = await api.published("tasks.outcomes", "task_action")
    assert (env.key, env.payload["action"], env.payload["outcome"]) == (
        f"{sid}:{first['contact_id']}",
        "outcome",
        "Connected",
    )
    again = await api.call("POST", f"/tasks/{first['id']}/mark", world["alice"], json={"outcome": "Connected"})
    assert again[0] == 409


async def test_marking_while_the_sequence_is_paused_is_refused(api: Api) -> None:
    world, sid = await active_sequence(api)
    await api.produce("scheduler.due-tasks", "task_due", f"{sid}:c1", task_due(sid, "c1", "call"))

    async def listed() -> Any:
        tasks = (await api.call("GET", "/tasks", world["alice"]))[1]["tasks"]
        return tasks[0] if tasks else None

    task = await wait_for(listed)
    assert (await api.call("POST", f"/sequences/{sid}/pause", world["alice"]))[0] == 200
    assert (await api.call("POST", f"/sequences/{sid}/pause", world["alice"]))[0] == 409
    status, _ = await api.call("POST", f"/tasks/{task['id']}/mark", world["alice"], json={"outcome": "Connected"})
    assert status == 409
    assert (await api.call("GET", "/tasks", world["alice"]))[1]["counts"]["ALL"] == 0
    assert (await api.call("POST", f"/sequences/{sid}/archive", world["alice"]))[0] == 409


def changed(
    sid: str, contact: str, action: str, status: str, steps_done: int, step: str = "intro"
) -> EnrollmentChanged:
    return EnrollmentChanged(sequence_id=sid, contact_id=contact, action=action, step=step, at=NOW,
                             status=status, phase="due", steps_done=steps_done)  # fmt: skip


def sent(sid: str, contact: str) -> SendResult:
    return SendResult(sequence_id=sid, contact_id=contact, step="intro", attempt=1, channel="email",
                      idempotency_key=f"{sid}:{contact}:intro:1", status="sent", message_id=f"<m-{contact}@x>",
                      to=f"{contact}@x.example", at=NOW)  # fmt: skip


async def test_the_overview_counts_names_sends_and_engagement(api: Api) -> None:
    world, sid = await active_sequence(api)
    for contact, action, status, done in (("c1", "moved", "active", 1), ("c2", "completed", "completed", 3),
                                          ("c3", "exited", "exited", 1), ("c4", "entered", "active", 0)):  # fmt: skip
        await api.produce("enrollment.changes", "enrollment_changed", f"{sid}:{contact}",
                          changed(sid, contact, action, status, done))  # fmt: skip
    for contact in ("c1", "c2"):
        await api.produce("dispatch.results", "send_result", f"{sid}:{contact}", sent(sid, contact))

    async def figures(ready: Callable[[dict[str, Any]], bool]) -> Any:
        row = (await api.call("GET", "/overview", world["alice"]))[1]["sequences"][0]
        return row if ready(row) else None

    await wait_for(lambda: figures(lambda r: r["emails_sent"] == 2 and r["exited"] == 1))
    webhook = {"type": "replied", "message_id": "<m-c1@x>"}
    assert (await api.call("POST", "/webhooks/email", "", **signed_email(webhook, NOW)))[0] == 202
    row = await wait_for(lambda: figures(lambda r: r["reply_pct"] > 0))
    assert (row["active"], row["completed"], row["exited"], row["emails_sent"]) == (1, 1, 1, 2)
    assert (row["reply_pct"], row["open_pct"], row["state"]) == (50.0, 0.0, "active")
    acts = (await api.call("GET", "/contacts/c3/activities"))[1]["activities"]
    assert [(a["kind"], a["action"], a["local_time"]) for a in acts] == [("SEQUENCE", "exited", "2026-12-01 09:00 EST")]


async def test_a_forged_tracking_token_is_refused(api: Api) -> None:
    status, err = await api.call("GET", "/t/o/eyJrIjoibyIsIm0iOiJ4In0.Zm9yZ2Vk.gif", "")
    assert (status, err["field"]) == (403, "token")
    assert (await api.call("GET", "/t/c/garbage", ""))[0] == 403


async def test_the_openapi_document_lists_every_route(api: Api) -> None:
    status, spec = await api.call("GET", "/openapi.json", "")
    assert (status, spec["openapi"]) == (200, "3.1.0")
    assert "requestBody" in spec["paths"]["/sequences"]["post"]
    assert (await api.call("GET", "/tasks", "bogus"))[0] == 401
