"""The admin's Users screen in Chromium against the real services: a new user's token is shown once, signs in,
is rotated and revoked from the screen; a non-admin neither sees nor uses it.

Set SEQFLOW_SCREENSHOTS=1 to refresh docs/screenshots/users.png."""

from __future__ import annotations

import os
from pathlib import Path

from playwright.async_api import Browser, Page, expect
from support.api import ADMIN_TOKEN, Api, make_user
from support.ui import UI, look, new_page, signed_in

from seqflow.stack import Stack

pytestmark = UI
DOCS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


async def sign_in_refused(browser: Browser, stack: Stack, token: str, pages: list[Page]) -> None:
    page = await new_page(browser, stack, pages)
    await page.goto("/ui/signin")
    await page.get_by_label("API token").fill(token)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("alert")).to_contain_text("does not belong to any user")


async def shown_token(page: Page, uid: str) -> str:
    card = page.locator(f"[data-token-for='{uid}']")
    await expect(card).to_contain_text("you will not see it again")
    token = (await card.locator("#new-token").inner_text()).strip()
    assert len(token) >= 32, token
    await card.get_by_role("button", name="Copy").click()
    await expect(card.locator("[data-copy]")).to_have_text("Copied")
    return token


async def test_an_admin_creates_a_user_whose_token_is_shown_once_then_rotates_and_revokes_it(
    ui_stack: Stack, admin: Api, browser: Browser, pages: list[Page]
) -> None:
    page = await signed_in(browser, ui_stack, ADMIN_TOKEN, pages)
    await page.get_by_role("link", name="Users").click()
    await page.get_by_label("User id").fill("newbie")
    await page.get_by_label("Name").fill("New Bie")
    await page.get_by_label("Email").fill("newbie@agency.example")
    await page.get_by_label("tasks:mine").check()
    await page.get_by_role("button", name="Create user").click()
    token = await shown_token(page, "newbie")
    assert token not in page.url
    row = page.locator("tr[data-user='newbie']")
    await expect(row).to_contain_text("tasks:mine")
    await expect(row).to_contain_text("active")
    await look(page, "users")
    if os.environ.get("SEQFLOW_SCREENSHOTS"):  # refresh the README's picture: SEQFLOW_SCREENSHOTS=1
        await page.screenshot(path=str(DOCS / "users.png"))
    await page.reload()
    await expect(row).to_be_visible()
    assert token not in await page.content(), "the token must be shown only once"

    newbie = await signed_in(browser, ui_stack, token, pages)
    await expect(newbie.get_by_role("link", name="Users")).to_have_count(0)

    await row.get_by_role("button", name="Rotate token").click()
    fresh = await shown_token(page, "newbie")
    assert fresh != token
    await sign_in_refused(browser, ui_stack, token, pages)
    await newbie.goto("/ui/tasks")  # its session was opened by the old token: it ends
    await expect(newbie).to_have_url(f"{ui_stack.api}/ui/signin")
    newbie = await signed_in(browser, ui_stack, fresh, pages)

    page.once("dialog", lambda dialog: dialog.accept())
    await row.get_by_role("button", name="Revoke token").click()
    await expect(page.get_by_role("status")).to_contain_text("The token of newbie no longer works")
    await expect(row).to_contain_text("revoked")
    await expect(row.get_by_role("button", name="Revoke token")).to_have_count(0)
    await newbie.goto("/ui/queue")
    await expect(newbie).to_have_url(f"{ui_stack.api}/ui/signin")
    await sign_in_refused(browser, ui_stack, fresh, pages)
    status, _ = await admin.as_user(fresh).request("GET", "/users/me")
    assert status == 401


async def test_a_non_admin_sees_no_users_link_and_is_refused_the_screen_and_its_forms(
    ui_stack: Stack, admin: Api, browser: Browser, pages: list[Page]
) -> None:
    plain = await make_user(admin, "plain", ("tasks:mine",))
    page = await signed_in(browser, ui_stack, plain.token, pages)
    await expect(page.get_by_role("link", name="Tasks")).to_be_visible()
    await expect(page.get_by_role("link", name="Users")).to_have_count(0)
    response = await page.goto("/ui/users")
    assert response is not None and response.status == 403
    csrf = await page.locator("input[name=csrf]").first.input_value()
    for action in ("/ui/users", "/ui/users/plain/rotate", "/ui/users/plain/revoke"):
        posted = await page.request.post(action, form={"csrf": csrf, "id": "sneaky", "name": "Sneaky",
                                                       "email": "s@agency.example", "permissions": "admin"},
                                         headers={"Origin": ui_stack.api})  # fmt: skip
        assert posted.status == 403, action
    assert "sneaky" not in [u["id"] for u in (await admin.ok("GET", "/users"))["users"]]
    assert (await plain.request("GET", "/users/me"))[0] == 200  # its own token was neither rotated nor revoked


async def test_an_admin_rotating_their_own_token_sees_the_new_one_before_their_session_ends(
    ui_stack: Stack, admin: Api, browser: Browser, pages: list[Page]
) -> None:
    boss = await make_user(admin, "boss", ("admin",))
    page = await signed_in(browser, ui_stack, boss.token, pages)
    await page.goto("/ui/users")
    own = page.locator("tr[data-user='boss']")
    await expect(own.get_by_role("button", name="Revoke token")).to_have_count(0)  # no locking oneself out
    await own.get_by_role("button", name="Rotate token").click()
    fresh = await shown_token(page, "boss")
    await expect(page.get_by_role("alert")).to_contain_text("this session has ended")
    await page.goto("/ui/users")
    await expect(page).to_have_url(f"{ui_stack.api}/ui/signin")
    again = await signed_in(browser, ui_stack, fresh, pages)
    await again.goto("/ui/users")
    await expect(again.locator("tr[data-user='boss']")).to_contain_text("active")


async def test_a_refused_new_user_is_explained_next_to_the_field_and_the_form_keeps_its_values(
    ui_stack: Stack, admin: Api, browser: Browser, pages: list[Page]
) -> None:
    page = await signed_in(browser, ui_stack, ADMIN_TOKEN, pages)
    await page.goto("/ui/users")
    await page.get_by_label("User id").fill("admin")  # taken
    await page.get_by_label("Name").fill("Second Admin")
    await page.get_by_label("Email").fill("second@agency.example")
    await page.get_by_label("sequences:activate").check()
    async with page.expect_response(lambda r: r.url.endswith("/ui/users") and r.request.method == "POST") as sent:
        await page.get_by_role("button", name="Create user").click()
    assert (await sent.value).status == 409
    await expect(page.locator("[data-error-for='id']")).to_contain_text("exists")
    await expect(page.get_by_label("Name")).to_have_value("Second Admin")
    await expect(page.get_by_label("sequences:activate")).to_be_checked()
    await expect(page.locator("[data-token-for]")).to_have_count(0)

    await page.get_by_label("User id").fill("second")
    await page.get_by_label("Email").fill("not an address")
    await page.get_by_role("button", name="Create user").click()
    await expect(page.locator("[data-error-for='email']")).to_be_visible()
    await expect(page.get_by_label("Email")).to_have_attribute("aria-invalid", "true")
    assert "second" not in [u["id"] for u in (await admin.ok("GET", "/users"))["users"]]
