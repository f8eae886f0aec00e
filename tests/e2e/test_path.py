"""One sequence end to end through the four services, driven only through the HTTP API.

A template (auto_email → call → auto_sms) is activated on a rollup of two contacts; the email reaches
the local SMTP server, the call task appears for the primary user and the team member, marking it
moves the enrollment on, the SMS reaches the provider stub and the overview counts it all.
"""

from __future__ import annotations

from typing import Any

import aiohttp
from support.api import Api, eventually, make_user
from support.kafka import wait_for
from support.observe import sms_received

from seqflow.stack import Stack

TEMPLATE: dict[str, Any] = {
    "name": "Path", "owner": "alice", "branches": [{"key": "main", "steps": [
        {"key": "intro", "type": "auto_email",
         "email": {"from_alias": "alice@agency.example", "subject": "Hi {{first_name}}",
                   "body": "Hello {{first_name}}"}},
        {"key": "call", "type": "call", "priority": "high", "script": "Hi {{first_name}}, it's {{user.name}}",
         "conditions": [{"when": "Connected", "then": {"next": True}},
                        {"when": "Left voicemail", "then": {"next": True}}]},
        {"key": "bump", "type": "auto_sms", "sms": {"body": "Hi {{first_name}}"}}]}],
}  # fmt: skip
CONTACTS = [
    {"id": "c1", "first_name": "Ada", "last_name": "Lovelace", "email": "ada@x.example", "phone": "+15550001"},
    {"id": "c2", "first_name": "Alan", "last_name": "Turing", "email": "alan@x.example", "phone": "+15550002"},
]


async def users(admin: Api) -> tuple[Api, Api, Api]:
    return (await make_user(admin, "alice"), await make_user(admin, "bob", ("tasks:mine",)),
            await make_user(admin, "eve", ("tasks:mine",)))  # fmt: skip


async def activate(alice: Api) -> str:
    template = await alice.ok("POST", "/templates", TEMPLATE)
    rollup = await alice.ok("POST", "/rollups", {"name": "Path people"})
    await alice.ok("POST", f"/rollups/{rollup['id']}/members", {"contacts": CONTACTS})
    seq = await alice.ok("POST", "/sequences", {
        "name": "Path Q4", "template_id": template["id"], "rollup_id": rollup["id"], "begin": "2026-12-01",
        "timezone": "America/New_York", "send_days": ["mon", "tue", "wed", "thu", "fri"],
        "send_window": {"start": "08:00", "stop": "17:00"}, "primary_user": "alice",
        "team_members": ["bob"]})  # fmt: skip
    return str(seq["id"])


async def test_one_sequence_goes_through_all_four_services(stack: Stack) -> None:
    await stack.wait_ready()
    async with aiohttp.ClientSession() as http:
        admin = Api(http, stack.api)
        alice, bob, eve = await users(admin)
        sequence_id = await activate(alice)

        mail = await wait_for(lambda: len(stack.sent_mail()) == 2 and stack.sent_mail(), 60, "two emails")
        by_to = {m["to"]: m for m in mail}
        assert set(by_to) == {"ada@x.example", "alan@x.example"}
        assert (
            by_to["ada@x.example"]["subject"] == "Hi Ada" and "alice@agency.example" in by_to["ada@x.example"]["from"]
        )
        assert len({m["message_id"] for m in mail}) == 2

        tasks = await eventually(lambda: alice.ok("GET", f"/tasks?sequence={sequence_id}"),
                           lambda d: d["counts"].get("ALL") == 2, "two call tasks")  # fmt: skip
        assert {t["type"] for t in tasks["tasks"]} == {"call"} and tasks["counts"]["call"] == 2
        assert (await bob.ok("GET", "/tasks"))["counts"]["ALL"] == 2
        assert (await eve.ok("GET", "/tasks"))["counts"]["ALL"] == 0
        first = next(t for t in tasks["tasks"] if t["contact_id"] == "c1")
        detail = await alice.ok("GET", f"/tasks/{first['id']}")
        assert detail["script"] == "Hi Ada, it's Alice" and detail["mark_as"] == ["Connected", "Left voicemail"]
        assert detail["contact_name"] == "Ada Lovelace" and detail["location"]["step"] == "call"

        for t, outcome in zip(sorted(tasks["tasks"], key=lambda t: t["contact_id"]), ["Connected", "Left voicemail"],
                              strict=True):  # fmt: skip
            await alice.ok("POST", f"/tasks/{t['id']}/mark", {"outcome": outcome})

        sms = await eventually(lambda: sms_received(http, stack), lambda m: len(m) == 2, "two SMS")
        assert sorted(m["to"] for m in sms) == ["+15550001", "+15550002"]
        assert {m["body"] for m in sms} == {"Hi Ada", "Hi Alan"}

        overview = await eventually(lambda: alice.ok("GET", "/overview"),
                                    lambda d: d["sequences"] and d["sequences"][0]["completed"] == 2
                                    and d["sequences"][0]["sms_sent"] == 2,
                                    "two completed, two SMS counted")  # fmt: skip
        row = overview["sequences"][0]
        assert (row["emails_sent"], row["sms_sent"], row["tasks_completed"], row["tasks_todo"]) == (2, 2, 2, 0)
        assert (row["active"], row["exited"]) == (0, 0)
        activities = await alice.ok("GET", "/contacts/c1/activities")
        actions = [a.get("action") for a in activities["activities"]]
        assert "completed" in actions, actions
    assert len(stack.sent_mail()) == 2  # nothing was sent twice
