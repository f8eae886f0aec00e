"""Sign-in, sessions, CSRF, visibility and escaping of the web UI, in Chromium against the real services."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import asyncpg
from playwright.async_api import Browser, Page, expect
from support.api import Api, eventually, make_user
from support.ui import UI, call_template, look, new_page, signed_in, start_sequence

from seqflow.devseed import seed
from seqflow.stack import Stack

pytestmark = UI
XSS = "<img src=x onerror=alert(1)>"
DOCS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


async def sessions_table(stack: Stack, sql: str) -> list[str]:
    """Run `sql` on the tasks service's sessions table ({t}); the first column of any rows."""
    conn = await asyncpg.connect(stack.dsn)
    try:
        found = await conn.fetch(sql.format(t=f'"{stack.schema_prefix}tasks".sessions'))
        return [r[0] for r in found]
    finally:
        await conn.close()


async def test_signing_in_keeps_the_token_out_of_urls_and_signing_out_ends_the_session(
    ui_stack: Stack, admin: Api, browser: Browser, pages: list[Page]
) -> None:
    user = await make_user(admin, "signin")
    page = await new_page(browser, ui_stack, pages)
    await page.goto("/")
    await expect(page).to_have_url(f"{ui_stack.api}/ui/signin")
    await look(page, "signin")
    await page.get_by_label("API token").fill("not-a-token")
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("alert")).to_contain_text("does not belong to any user")

    await page.get_by_label("API token").fill(user.token)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("heading", name="Tasks")).to_be_visible()
    assert user.token not in page.url
    cookie = next(c for c in await page.context.cookies() if c["name"] == "seqflow_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and user.token not in cookie["value"]
    stored = await sessions_table(ui_stack, "SELECT id_hash FROM {t}")
    assert hashlib.sha256(cookie["value"].encode()).hexdigest() in stored and cookie["value"] not in stored

    await page.get_by_role("button", name="Sign out").click()
    await expect(page).to_have_url(f"{ui_stack.api}/ui/signin")
    await page.context.add_cookies([{**cookie}])  # the old cookie no longer opens a session
    await page.goto("/ui/tasks")
    await expect(page).to_have_url(f"{ui_stack.api}/ui/signin")


async def test_an_expired_session_sends_the_user_back_to_sign_in(
    ui_stack: Stack, admin: Api, browser: Browser, pages: list[Page]
) -> None:
    user = await make_user(admin, "expiry")
    page = await signed_in(browser, ui_stack, user.token, pages)
    await sessions_table(ui_stack, "UPDATE {t} SET expires_at = now() - interval '1 second' WHERE user_id = 'expiry'")
    await page.goto("/ui/queue")
    await expect(page).to_have_url(f"{ui_stack.api}/ui/signin")


async def test_a_form_posted_from_another_origin_is_refused_and_changes_nothing(
    ui_stack: Stack, admin: Api, browser: Browser, pages: list[Page]
) -> None:
    victim = await make_user(admin, "victim")
    await start_sequence(victim, "victim", call_template("victim"), [{"id": "csrf-1", "first_name": "Cara"}])
    listing = await eventually(lambda: victim.ok("GET", "/tasks"), lambda d: d["tasks"], "a task for victim")
    task_id = listing["tasks"][0]["id"]
    page = await signed_in(browser, ui_stack, victim.token, pages)
    evil = f"""<form id=f method=post action="{ui_stack.api}/ui/tasks/{task_id}/note">
      <input name=text value=pwned><input name=csrf value=guess></form><script>f.submit()</script>"""
    await page.route("http://evil.example/**", lambda route: route.fulfill(content_type="text/html", body=evil))
    await page.goto("http://evil.example/attack")
    await expect(page.get_by_text("Cross-site request refused")).to_be_visible()

    forged = await page.request.post(f"/ui/tasks/{task_id}/note", form={"text": "pwned", "csrf": "guess"},
                                     headers={"Origin": ui_stack.api})  # fmt: skip
    assert forged.status == 403  # our own origin, but without the session's CSRF token
    acts = await victim.ok("GET", "/contacts/csrf-1/activities")
    assert not [a for a in acts["activities"] if a["text"] == "pwned"]


async def test_a_user_sees_only_the_tasks_of_sequences_they_work_on(
    ui_stack: Stack, admin: Api, browser: Browser, pages: list[Page]
) -> None:
    owner = await make_user(admin, "owner")
    outsider = await make_user(admin, "outsider")
    await start_sequence(owner, "owner", call_template("owner"), [{"id": "vis-1", "first_name": "Vera"}])
    listing = await eventually(lambda: owner.ok("GET", "/tasks"), lambda d: d["tasks"], "a task for owner")
    task_id = listing["tasks"][0]["id"]

    page = await signed_in(browser, ui_stack, outsider.token, pages)
    await expect(page.get_by_text("No open tasks")).to_be_visible()
    await expect(page.get_by_text("Vera")).to_have_count(0)
    await page.goto(f"/ui/tasks?task={task_id}")
    await expect(page.get_by_role("heading", name="Not found")).to_be_visible()
    await expect(page.get_by_text("Vera")).to_have_count(0)


async def test_a_contact_named_like_html_is_shown_as_text(
    ui_stack: Stack, admin: Api, browser: Browser, pages: list[Page]
) -> None:
    xss = await make_user(admin, "xss")
    contact = {"id": "xss-1", "first_name": XSS, "title": "<b>bold</b>", "company": "\"quoted\" & co"}
    await start_sequence(xss, "xss", call_template("xss"), [contact])
    listing = await eventually(lambda: xss.ok("GET", "/tasks"), lambda d: d["tasks"], "a task for xss")
    dialogs: list[str] = []
    page = await signed_in(browser, ui_stack, xss.token, pages)
    page.on("dialog", lambda d: dialogs.append(d.message))
    await page.goto(f"/ui/tasks?task={listing['tasks'][0]['id']}")
    await expect(page.get_by_role("link", name=XSS).first).to_be_visible()
    await expect(page.get_by_text("<b>bold</b>", exact=False)).to_be_visible()
    assert await page.locator("img[src=x]").count() == 0 and await page.locator("main b").count() == 0
    assert dialogs == []


async def test_the_demo_seed_puts_its_call_tasks_on_the_demo_users_tasks_screen(
    ui_stack: Stack, admin: Api, browser: Browser, pages: list[Page]
) -> None:
    seeded = await seed(ui_stack.api, admin.token)
    page = await signed_in(browser, ui_stack, seeded.token, pages)
    await expect(page.locator("tr.task-row")).to_have_count(seeded.contacts)
    await expect(page.get_by_role("link", name=f"Call {seeded.contacts}")).to_be_visible()
    await page.get_by_role("link", name="Ada Lovelace").click()
    await expect(page.locator("#script")).to_contain_text("Hi Ada, this is Alice Recruiter from the agency.")
    await page.evaluate("document.activeElement.blur()")
    if os.environ.get("SEQFLOW_SCREENSHOTS"):  # refresh the README's picture: SEQFLOW_SCREENSHOTS=1
        await page.screenshot(path=str(DOCS / "tasks.png"))
    await page.goto("/ui/tasks")
    await look(page, "tasks-list")
    await page.goto("/ui/patterns")  # the living style guide renders every pattern
    await expect(page.locator("ol.branch [aria-current=step]")).to_contain_text("call")
    await look(page, "patterns")


async def test_bad_input_in_a_pages_address_or_form_gets_a_4xx_naming_the_field(
    ui_stack: Stack, admin: Api, browser: Browser, pages: list[Page]
) -> None:
    user = await make_user(admin, "badinput")
    await start_sequence(user, "badinput", call_template("badinput"), [{"id": "bad-1", "first_name": "Bea"}])
    (task,) = (await eventually(lambda: user.ok("GET", "/tasks"), lambda d: d["tasks"], "Bea's task"))["tasks"]
    page = await signed_in(browser, ui_stack, user.token, pages)
    csrf = await page.locator("input[name=csrf]").first.input_value()
    answers = [
        await page.request.get("/ui/tasks?due_from=someday"),
        await page.request.get("/ui/tasks?sequence=%00"),
        await page.request.get("/ui/tasks?task=999999"),
        await page.request.post(f"/ui/tasks/{task['id']}/mark", form={"csrf": csrf},
                                headers={"Origin": ui_stack.api}),  # fmt: skip
        await page.request.post(f"/ui/tasks/{task['id']}/note", form={"csrf": csrf, "text": "a\x00b"},
                                headers={"Origin": ui_stack.api}),  # fmt: skip
    ]
    assert [r.status for r in answers] == [422, 400, 404, 422, 400]
    texts = [await r.text() for r in answers]
    for field, text in zip(["due_from", "sequence", "task", "outcome", "text"], texts, strict=True):
        assert field in text or "no such task" in text, text
    assert (await user.ok("GET", "/tasks"))["tasks"][0]["id"] == task["id"]  # nothing was marked
