"""Unsubscribe acts at once on the live services (SPEC §6, issue 11 item 5).

A contact waiting on a call task unsubscribes — by the link of the email it got, outside the send window, or by
a `STOP` SMS while the sequence is paused — and at that very instant (the file clock) its enrollment exits with
reason `unsubscribed`, and so does that of another contact with the same address; their tasks are gone,
nothing more is sent to them and the overview counts the exits.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email import message_from_string, policy
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from support.api import Api, eventually, make_user
from support.kafka import wait_for
from support.observe import sms_received
from support.webhooks import signed_sms
from test_path import TEMPLATE  # auto_email → call (Connected: next) → auto_sms

from seqflow.clock import parse_instant, set_file_clock
from seqflow.settings import Settings
from seqflow.stack import SMS_TOKEN, Stack

T0 = datetime(2026, 12, 1, 14, 0, tzinfo=UTC)  # the stack's file clock starts here (conftest): 09:00 in New York

LINK, STOP, KEPT, TWIN = "c-link", "c-stop", "c-kept", "c-twin"
CONTACTS = [{"id": cid, "first_name": cid, "email": f"{cid}@x.example", "phone": f"+1555000{n}"}
            for n, cid in enumerate((LINK, STOP, KEPT), 1)]  # fmt: skip
CONTACTS.append({"id": TWIN, "first_name": TWIN, "email": " C-Link@X.example", "phone": "+15550009"})  # same inbox
AFTER_HOURS = T0 + timedelta(hours=9, minutes=7, seconds=3)  # 18:07:03 in New York: the window (08–17) is shut
WHILE_PAUSED = AFTER_HOURS + timedelta(minutes=30, seconds=11)
NEXT_MORNING = T0 + timedelta(days=1)  # Wednesday 09:00 in New York, in the window again


SEQUENCE = {
    "name": "Unsub Q4",
    "begin": "2026-12-01",
    "timezone": "America/New_York",
    "primary_user": "alice",
    "send_days": ["mon", "tue", "wed", "thu", "fri"],
    "send_window": {"start": "08:00", "stop": "17:00"},
}


async def activate(alice: Api) -> str:
    """The three contacts on a rollup, the sequence (weekdays 08–17 in New York) running on it."""
    ids = {"template_id": (await alice.ok("POST", "/templates", TEMPLATE))["id"],
           "rollup_id": (await alice.ok("POST", "/rollups", {"name": "Unsubscribers"}))["id"]}  # fmt: skip
    await alice.ok("POST", f"/rollups/{ids['rollup_id']}/members", {"contacts": CONTACTS})
    return str((await alice.ok("POST", "/sequences", SEQUENCE | ids))["id"])


def unsubscribe_path(stack: Stack, first_name: str) -> str:
    """The path of the List-Unsubscribe link of the email sent to this contact (the host is the public URL)."""
    [mail] = [m for m in stack.sent_mail() if m["subject"] == f"Hi {first_name}"]
    return urlsplit(message_from_string(mail["raw"], policy=policy.default)["List-Unsubscribe"].strip("<>")).path


async def send_stop(http: aiohttp.ClientSession, stack: Stack, phone: str) -> None:
    public = Settings().public_url.rstrip("/")  # what the tasks service signs against (the stack keeps the default)
    signed = signed_sms(f"{public}/webhooks/sms", {"From": phone, "Body": "STOP"}, SMS_TOKEN)
    async with http.post(f"{stack.api}/webhooks/sms", **signed) as r:
        assert r.status == 202, await r.text()


async def exit_of(alice: Api, contact_id: str) -> dict[str, Any] | None:
    activities = (await alice.ok("GET", f"/contacts/{contact_id}/activities"))["activities"]
    return next((a for a in activities if a.get("action") == "exited"), None)


async def open_task_contacts(alice: Api, sid: str) -> list[str]:
    return sorted(t["contact_id"] for t in (await alice.ok("GET", f"/tasks?sequence={sid}"))["tasks"])


async def assert_exits_at(alice: Api, contact_id: str, at: datetime) -> None:
    exited = await eventually(lambda: exit_of(alice, contact_id), bool, f"{contact_id} exited")
    assert (exited["outcome"], parse_instant(str(exited["at"]))) == ("unsubscribed", at)


async def test_an_unsubscribe_exits_the_contact_at_that_instant_outside_the_window_and_while_paused(
    stack: Stack, clock_file: Path
) -> None:
    await stack.wait_ready()
    async with aiohttp.ClientSession() as http:
        alice = await make_user(Api(http, stack.api), "alice")
        sid = await activate(alice)
        await wait_for(lambda: len(stack.sent_mail()) == 4, 60, "the four emails")
        await eventually(lambda: open_task_contacts(alice, sid), lambda c: c == [KEPT, LINK, STOP, TWIN], "call tasks")

        set_file_clock(clock_file, AFTER_HOURS)
        async with http.get(stack.api + unsubscribe_path(stack, LINK)) as r:
            assert r.status == 200, await r.text()
        await assert_exits_at(alice, LINK, AFTER_HOURS)
        await assert_exits_at(alice, TWIN, AFTER_HOURS)  # every contact with the address, found by it
        assert await open_task_contacts(alice, sid) == [KEPT, STOP]

        await alice.ok("POST", f"/sequences/{sid}/pause")
        set_file_clock(clock_file, WHILE_PAUSED)
        await send_stop(http, stack, CONTACTS[1]["phone"])  # no SMS was sent to it: found by its phone
        await assert_exits_at(alice, STOP, WHILE_PAUSED)
        await alice.ok("POST", f"/sequences/{sid}/resume")
        assert await open_task_contacts(alice, sid) == [KEPT]
        # The resume and the Mark As below travel on two topics: if the Mark As reaches the scheduler first, it
        # keeps it until the resume arrives (no wait for the scheduler here).

        set_file_clock(clock_file, NEXT_MORNING)  # the kept contact goes on to the SMS step; nobody else does
        [task] = (await alice.ok("GET", f"/tasks?sequence={sid}"))["tasks"]
        await alice.ok("POST", f"/tasks/{task['id']}/mark", {"outcome": "Connected"})
        overview = await eventually(
            lambda: alice.ok("GET", "/overview"),
            lambda d: d["sequences"][0]["completed"] == 1,
            "the kept contact completes",
        )
        row = overview["sequences"][0]
        assert (row["active"], row["exited"], row["completed"], row["tasks_todo"]) == (0, 3, 1, 0)
        # the engine completes the kept contact when its SMS is granted; delivery at the stub follows
        sms = await eventually(lambda: sms_received(http, stack), lambda m: len(m) >= 1, "the kept contact's SMS")
        assert [m["to"] for m in sms] == [CONTACTS[2]["phone"]]
        assert len(stack.sent_mail()) == 4
