"""The queue, error rows and the contact page in Chromium against the real services."""

from __future__ import annotations

import re
from typing import Any

import asyncpg
from playwright.async_api import Browser, Dialog, Page, expect
from support.api import Api, eventually, make_user
from support.ui import UI, call_template, look, signed_in, start_sequence

from seqflow.stack import Stack

pytestmark = UI
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
