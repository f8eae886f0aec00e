"""A recruiter's day in Chromium against the real services: the Tasks screen, the panel, Send, the queue,
error rows and the contact page."""

from __future__ import annotations

import re
from typing import Any

import aiohttp
import asyncpg
from playwright.async_api import Browser, Dialog, Page, expect
from support.api import Api, eventually, make_user
from support.ui import PHONE, UI, call_template, look, signed_in, start_sequence

from seqflow.stack import Stack

pytestmark = UI


def people(prefix: str, n: int) -> list[dict[str, Any]]:
    names = ["Ada", "Boris", "Chiara", "Dmitri"]
    return [{"id": f"{prefix}-{i}", "first_name": names[i], "last_name": "Lovelace" if i == 0 else "Smith",
             "email": f"{names[i].lower()}@candidates.example", "phone": f"+1555000{i:04d}", "title": "Engineer",
             "company": "Analytical Engines", "custom": {"linkedin": f"https://www.linkedin.com/in/{prefix}{i}"},
             "resume": f"{names[i]} has built engines for ten years."} for i in range(n)]  # fmt: skip


async def sends_of(stack: Stack, sid: str) -> tuple[str, str]:
    """The one send of a sequence as the tasks service recorded the dispatcher's result: (key, Message-ID)."""
    conn = await asyncpg.connect(stack.dsn)
    try:
        sql = f'SELECT idempotency_key, message_id FROM "{stack.schema_prefix}tasks".sends WHERE sequence_id = $1'
        found = await eventually(lambda: conn.fetch(sql, sid), bool, "the send result recorded")
    finally:
        await conn.close()
    assert len(found) == 1, found
    return found[0]["idempotency_key"], found[0]["message_id"]


async def open_tasks(api: Api, n: int) -> list[dict[str, Any]]:
    listing = await eventually(lambda: api.ok("GET", "/tasks"), lambda d: len(d["tasks"]) >= n, f"{n} tasks")
    return list(listing["tasks"])


async def test_tasks_appear_without_a_reload_and_the_type_buttons_filter_and_count(
    ui_stack: Stack, admin: Api, browser: Browser, pages: list[Page]
) -> None:
    live = await make_user(admin, "live")
    page = await signed_in(browser, ui_stack, live.token, pages)
    await expect(page.get_by_text("No open tasks")).to_be_visible()
    email = {"key": "write", "type": "manual_email", "email": {"from_alias": "live@agency.example",
             "subject": "Hello {{first_name}}", "body": "Hi {{first_name}}"}}  # fmt: skip
    await start_sequence(live, "live", call_template("live"), people("live", 2))
    await start_sequence(live, "live", call_template("live", email), people("livemail", 1))

    rows = page.locator("tr.task-row")
    await expect(rows).to_have_count(3)  # arrived by polling, no reload
    await expect(page.get_by_role("link", name="All 3")).to_be_visible()
    await page.get_by_role("link", name="Call 2").click()
    await expect(rows).to_have_count(2)
    await expect(page).to_have_url(re.compile(r"type=call"))
    await expect(page.get_by_role("link", name="Manual email 1")).to_be_visible()
    await page.get_by_role("link", name="Clear").click()
    await page.get_by_label("Priority").select_option("normal")
    await page.get_by_role("button", name="Apply").click()
    await expect(rows).to_have_count(1)  # the manual email step's default priority; the calls are high
    await expect(rows.first).to_contain_text("manual email")


async def test_working_a_call_task_in_the_panel_ends_on_the_next_task_of_the_list(
    ui_stack: Stack, admin: Api, browser: Browser, pages: list[Page]
) -> None:
    rec = await make_user(admin, "rec")
    await start_sequence(rec, "rec", call_template("rec"), people("day", 2))
    tasks = await open_tasks(rec, 2)
    other = next(t for t in tasks if t["contact_id"] == "day-1")  # the list's next task, whatever the order
    page = await signed_in(browser, ui_stack, rec.token, pages)
    await page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=ui_stack.api)
    await page.get_by_role("link", name="Ada Lovelace").click()
    panel = page.get_by_role("complementary", name="Task panel")
    await expect(panel.get_by_role("link", name="Email ada@candidates.example")).to_have_attribute(
        "href", "mailto:ada@candidates.example")  # fmt: skip
    await expect(panel.get_by_role("link", name="LinkedIn")).to_have_attribute("href", "https://www.linkedin.com/in/day0")
    await expect(panel.locator("[aria-current=step]")).to_contain_text("call")
    await expect(panel.locator("#script")).to_have_text("Hi Ada, this is Rec from the agency.")

    await panel.get_by_label("Title").fill("Staff Engineer")
    await panel.get_by_role("button", name="Save").click()
    await expect(page.get_by_role("status")).to_have_text("About saved.")
    await panel.get_by_label("Add Note").fill("Prefers mornings")
    await panel.get_by_role("button", name="Add Note").click()
    await expect(panel.get_by_text("Prefers mornings").first).to_be_visible()
    await panel.get_by_label("Activity kind").select_option("MEETING")
    await panel.get_by_label("Activity text").fill("Coffee at the conference")
    await panel.get_by_role("button", name="Add Activity").click()
    await expect(panel.locator("li.activity").first).to_contain_text("MEETING Coffee at the conference")
    await panel.get_by_role("button", name="Copy script").click()
    assert await page.evaluate("navigator.clipboard.readText()") == "Hi Ada, this is Rec from the agency."

    await panel.get_by_role("button", name="Connected").click()
    await expect(page.get_by_role("status")).to_contain_text("Marked")
    await expect(page).to_have_url(re.compile(f"task={other['id']}"))
    next_panel = page.get_by_role("complementary", name="Task panel")
    await expect(next_panel.get_by_role("heading", level=2)).to_have_text("Boris Smith")
    contact = (await rec.ok("GET", "/contacts/day-0/activities"))["contact"]
    assert contact["title"] == "Staff Engineer"


async def test_the_panel_opens_the_record_with_enter_closes_with_escape_and_fits_a_phone_screen(
    ui_stack: Stack, admin: Api, browser: Browser, pages: list[Page]
) -> None:
    phone = await make_user(admin, "phone")
    await start_sequence(phone, "phone", call_template("phone"), people("ph", 1))
    (task,) = await open_tasks(phone, 1)
    page = await signed_in(browser, ui_stack, phone.token, pages, viewport=PHONE)
    await page.goto(f"/ui/tasks?task={task['id']}")
    panel = page.get_by_role("complementary", name="Task panel")
    await expect(panel).to_be_visible()
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"the page scrolls sideways on a phone ({width}px)"
    await look(page, "phone-panel")
    await panel.focus()
    await page.keyboard.press("Enter")  # Enter on the panel opens the contact's full record
    await expect(page).to_have_url(re.compile("/ui/contacts/ph-0$"))
    await page.go_back()
    await panel.focus()
    await page.keyboard.press("Escape")
    await expect(panel).to_have_count(0)
    await expect(page.get_by_role("link", name="Ada Lovelace")).to_be_visible()


async def test_sending_a_manual_email_delivers_it_and_completes_the_task(
    ui_stack: Stack, admin: Api, browser: Browser, pages: list[Page]
) -> None:
    mailer = await make_user(admin, "mailer")
    step = {"key": "write", "type": "manual_email", "email": {"from_alias": "mailer@agency.example",
            "subject": "Role for {{first_name}}", "body": "Hi {{first_name}}, a role at {{company}}?"}}  # fmt: skip
    sid = await start_sequence(mailer, "mailer", call_template("mailer", step), people("mail", 1))
    (task,) = await open_tasks(mailer, 1)
    page = await signed_in(browser, ui_stack, mailer.token, pages)
    await page.goto(f"/ui/tasks?task={task['id']}")
    await expect(page.get_by_label("Subject")).to_have_value("Role for Ada")
    await expect(page.get_by_label("Message")).to_have_value("Hi Ada, a role at Analytical Engines?")
    await look(page, "manual-email")
    await page.get_by_label("Message").fill("Hi Ada, are you free on Friday?")
    await page.get_by_role("button", name="Send", exact=True).click()
    await expect(page.get_by_role("status")).to_have_text("Sent.")

    async def sent() -> list[dict[str, Any]]:
        return [m for m in ui_stack.sent_mail() if m["subject"] == "Role for Ada"]

    (mail,) = await eventually(sent, bool, "the email at the SMTP server")
    assert mail["rcpt_tos"] == ["ada@candidates.example"]
    assert mail["from"] == "mailer@agency.example" and "are you free on Friday?" in mail["raw"]
    (key, message_id) = await sends_of(ui_stack, sid)  # the send the dispatcher reported back
    assert re.fullmatch(f"{sid}:mail-0:write:[0-9]+", key) and message_id == mail["message_id"]
    assert (await mailer.ok("GET", "/tasks"))["tasks"] == []
    again = await mailer.request("POST", f"/tasks/{task['id']}/send", {"body": "twice?"})
    assert again[0] == 409 and len(await sent()) == 1
    acts = (await mailer.ok("GET", "/contacts/mail-0/activities"))["activities"]
    assert any(a["kind"] == "EMAIL" and a["outcome"] == "Sent" for a in acts)



async def test_a_manual_sms_is_sent_to_the_provider_and_mark_as_sent_completes_without_sending(
    ui_stack: Stack, admin: Api, browser: Browser, pages: list[Page]
) -> None:
    texter = await make_user(admin, "texter")
    step = {"key": "text", "type": "manual_sms", "sms": {"body": "Hi {{first_name}}, call me back?"}}
    await start_sequence(texter, "texter", call_template("texter", step), people("sms", 2))
    tasks = {t["contact_id"]: t for t in await open_tasks(texter, 2)}
    page = await signed_in(browser, ui_stack, texter.token, pages)
    await page.goto(f"/ui/tasks?task={tasks['sms-0']['id']}")
    await expect(page.get_by_label("Message")).to_have_value("Hi Ada, call me back?")
    await page.get_by_role("button", name="Send", exact=True).click()
    await expect(page.get_by_role("status")).to_have_text("Sent.")
    await page.goto(f"/ui/tasks?task={tasks['sms-1']['id']}")
    await page.get_by_role("button", name="Mark as sent").click()
    await expect(page.get_by_role("status")).to_have_text("Marked as sent.")

    async def texts(to: str = "+15550000000") -> list[dict[str, Any]]:
        async with aiohttp.ClientSession() as http, http.get(f"{ui_stack.sms_url}/_stub/messages") as r:
            return [m for m in await r.json() if m["to"] == to]

    assert [m["body"] for m in await eventually(texts, bool, "Ada's SMS at the provider")] == ["Hi Ada, call me back?"]
    assert (await texter.ok("GET", "/tasks"))["tasks"] == []
    acts = (await texter.ok("GET", "/contacts/sms-1/activities"))["activities"]
    assert any(a["kind"] == "SMS" and "outside seqflow" in a["text"] for a in acts)
    assert await texts("+15550000001") == []  # Boris's was marked as sent: seqflow sent nothing


INTRO = {"key": "intro", "type": "auto_email",
         "email": {"from_alias": "q@agency.example", "subject": "Hi {{first_name}}", "body": "Interested?"},
         "conditions": [{"when": "replied", "then": {"complete": True}},
                        {"when": "no_condition_met", "within": "P3D", "then": {"next": True}}]}  # fmt: skip
CALL = {"key": "call", "type": "call", "conditions": [{"when": "Connected", "then": {"next": True}}]}


async def scheduler_inputs(stack: Stack, sid: str) -> int:
    """How many inputs the scheduler has applied to the sequence: proof it has seen a contact edit."""
    conn = await asyncpg.connect(stack.dsn)
    try:
        sql = f'SELECT inputs_applied FROM "{stack.schema_prefix}scheduler".sequences WHERE id = $1'
        return int(await conn.fetchval(sql, sid) or 0)
    finally:
        await conn.close()


def accept(dialog: Dialog) -> Any:
    return dialog.accept()


async def test_the_queue_shows_a_waiting_email_and_move_to_next_task_now_brings_its_call_task(
    ui_stack: Stack, admin: Api, browser: Browser, pages: list[Page]
) -> None:
    q = await make_user(admin, "queuer")
    await start_sequence(q, "queuer", call_template("queuer", INTRO, CALL), [{"id": "q-1", "first_name": "Quinn",
                                                                     "email": "quinn@candidates.example"}])  # fmt: skip
    await eventually(lambda: q.ok("GET", "/queue"), lambda d: d["count"] == 1, "Quinn waiting in the queue")
    page = await signed_in(browser, ui_stack, q.token, pages)
    await page.get_by_role("link", name="View Queue").click()
    row = page.locator("tr.queue-row", has_text="q-1")
    await expect(row.get_by_text("Waiting…")).to_be_visible()
    await expect(row).to_contain_text("intro: for replied, until")
    await look(page, "queue")
    await row.get_by_role("button", name="Move to Next Task Now").click()
    await expect(page.get_by_role("status")).to_contain_text("Moved on")
    await page.get_by_role("link", name="Back to Tasks").click()
    await expect(page.get_by_role("link", name="Quinn")).to_be_visible()


async def test_an_error_row_is_retried_after_the_address_is_fixed_and_the_email_goes_out(
    ui_stack: Stack, admin: Api, browser: Browser, pages: list[Page]
) -> None:
    err = await make_user(admin, "err")
    plain = {**INTRO, "conditions": []}
    sid = await start_sequence(err, "err", call_template("err", plain, CALL), [{"id": "e-1", "first_name": "Erin"}])
    page = await signed_in(browser, ui_stack, err.token, pages)
    row = page.locator("tr.task-row.is-error", has_text="Erin")
    await expect(row.get_by_text("Error")).to_be_visible()
    await expect(row.get_by_role("button", name="Retry")).to_be_visible()
    await look(page, "error-row")

    await row.get_by_role("link", name="Erin").click()
    panel = page.get_by_role("complementary", name="Task panel")
    await panel.get_by_label("Email").fill("erin@candidates.example")
    seen = await scheduler_inputs(ui_stack, sid)
    await panel.get_by_role("button", name="Save").click()
    await expect(page.get_by_role("status")).to_have_text("About saved.")
    await eventually(lambda: scheduler_inputs(ui_stack, sid), lambda n: n > seen, "the scheduler has the address")
    await page.get_by_role("complementary", name="Task panel").get_by_role("button", name="Retry").click()
    await expect(page.locator("tr.task-row.is-error")).to_have_count(0)

    async def mail() -> list[dict[str, Any]]:
        return [m for m in ui_stack.sent_mail() if m["rcpt_tos"] == ["erin@candidates.example"]]

    await eventually(mail, bool, "Erin's email at the SMTP server")


async def test_the_contact_page_shows_the_record_and_removes_the_contact_from_the_sequence(
    ui_stack: Stack, admin: Api, browser: Browser, pages: list[Page]
) -> None:
    owner = await make_user(admin, "cp")
    contact = {"id": "cp-1", "first_name": "Cleo", "last_name": "Park", "email": "cleo@candidates.example",
               "custom": {"notice_period": "3 months"}, "resume": "Ten years of Python."}  # fmt: skip
    await start_sequence(owner, "cp", call_template("cp"), [contact])
    await eventually(lambda: owner.ok("GET", "/tasks"), lambda d: d["tasks"], "Cleo's call task")
    page = await signed_in(browser, ui_stack, owner.token, pages)
    page.on("dialog", accept)
    await page.goto("/ui/contacts/cp-1")
    await expect(page.locator("dl.record")).to_contain_text("3 months")
    await expect(page.get_by_text("Ten years of Python.")).to_be_visible()
    await expect(page.locator("table.sequences")).to_contain_text("call")
    await look(page, "contact")
    await page.get_by_role("button", name="Remove from Sequence").click()
    await expect(page.get_by_role("status")).to_contain_text("Removed from the sequence")

    async def paused() -> bool:
        seqs = (await owner.ok("GET", "/contacts/cp-1/sequences"))["sequences"]
        return bool(seqs and seqs[0]["paused"])

    await eventually(paused, bool, "the enrollment paused")
    await page.goto("/ui/tasks")
    await expect(page.get_by_role("link", name=re.compile("Cleo"))).to_have_count(0)
