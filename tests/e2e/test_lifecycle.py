"""A sequence's life through the API on the live services: pause, edit while paused, resume, end, archive."""

from __future__ import annotations

from typing import Any

import aiohttp
from support.api import Api, eventually, make_user
from support.observe import sms_received

from seqflow.stack import Stack

BRANCHES: list[dict[str, Any]] = [{"key": "main", "steps": [
    {"key": "first", "type": "call"},
    {"key": "second", "type": "linkedin"},
    {"key": "last", "type": "auto_sms", "sms": {"body": "Hi {{first_name}}"}}]}]  # fmt: skip
ADA = {"id": "ada", "first_name": "Ada", "email": "ada@x.example", "phone": "+15550001"}


async def start(api: Api) -> tuple[Api, str]:
    alice = await make_user(api, "alice")
    template = await alice.ok("POST", "/templates", {"name": "life", "owner": "alice", "branches": BRANCHES})
    rollup = await alice.ok("POST", "/rollups", {"name": "life"})
    await alice.ok("POST", f"/rollups/{rollup['id']}/members", {"contacts": [ADA]})
    seq = await alice.ok("POST", "/sequences", {"name": "Life", "template_id": template["id"],
                                                "rollup_id": rollup["id"], "begin": "2026-12-01",
                                                "timezone": "America/New_York", "primary_user": "alice"})  # fmt: skip
    return alice, str(seq["id"])


async def open_tasks(alice: Api, sid: str) -> list[dict[str, Any]]:
    return list((await alice.ok("GET", f"/tasks?sequence={sid}"))["tasks"])


async def test_a_step_deleted_while_paused_moves_its_enrollments_on_at_the_resume(stack: Stack) -> None:
    await stack.wait_ready()
    async with aiohttp.ClientSession() as http:
        alice, sid = await start(Api(http, stack.api))
        first = await eventually(
            lambda: open_tasks(alice, sid), lambda t: [x for x in t if x["step"] == "first"], "first"
        )
        await alice.ok("POST", f"/tasks/{first[0]['id']}/mark", {"outcome": "Done"})
        await eventually(lambda: open_tasks(alice, sid), lambda t: [x for x in t if x["step"] == "second"], "second")

        edit = {"branches": [{"key": "main", "steps": [BRANCHES[0]["steps"][0], BRANCHES[0]["steps"][2]]}]}
        assert (await alice.request("PUT", f"/sequences/{sid}/branches", edit))[0] == 409  # only while paused
        await alice.ok("POST", f"/sequences/{sid}/pause")
        assert await open_tasks(alice, sid) == []  # hidden while paused
        await alice.ok("PUT", f"/sequences/{sid}/branches", edit)
        assert await sms_received(http, stack) == []
        await alice.ok("POST", f"/sequences/{sid}/resume")

        sent = await eventually(
            lambda: sms_received(http, stack), lambda m: len(m) == 1, "the SMS of the surviving step"
        )
        assert sent[0]["to"] == "+15550001"
        overview = await eventually(lambda: alice.ok("GET", "/overview"),
                                    lambda d: d["sequences"][0]["completed"] == 1, "completed")  # fmt: skip
        assert overview["sequences"][0]["tasks_todo"] == 0
        activities = (await alice.ok("GET", "/contacts/ada/activities"))["activities"]
        assert "relocated" in [a.get("action") for a in activities]


async def test_an_ended_sequence_cancels_its_tasks_and_can_be_archived(stack: Stack) -> None:
    await stack.wait_ready()
    async with aiohttp.ClientSession() as http:
        alice, sid = await start(Api(http, stack.api))
        await eventually(lambda: open_tasks(alice, sid), lambda t: len(t) == 1, "first task")
        assert (await alice.request("POST", f"/sequences/{sid}/archive"))[0] == 409  # not ended yet
        await alice.ok("POST", f"/sequences/{sid}/end")
        assert (await alice.request("POST", f"/sequences/{sid}/resume"))[0] == 409  # irreversible
        await eventually(lambda: open_tasks(alice, sid), lambda t: t == [], "tasks cancelled")
        await alice.ok("POST", f"/sequences/{sid}/archive")
        assert (await alice.ok("GET", "/overview"))["sequences"] == []
        archived = (await alice.ok("GET", "/overview?archived=true"))["sequences"]
        assert [s["state"] for s in archived] == ["archived"]
