"""Browser-test helpers shared by the web UI tests (`tests/ui/`): pages, sign-in, sequences to work on."""

from __future__ import annotations

import os
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, Page

from seqflow.stack import Stack
from support.api import Api

# Async UI tests share their module's event loop (and so its browser and stack): `pytestmark = UI`.
UI = pytest.mark.asyncio(loop_scope="module")
WIDE, PHONE = {"width": 1280, "height": 800}, {"width": 390, "height": 844}
# Form controls a screen reader could not name: no <label>, no aria-label, and (buttons) no text.
UNLABELLED = """[...document.querySelectorAll('input:not([type=hidden]), select, textarea, button')]
  .filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label') && !el.textContent.trim())
  .map(el => el.outerHTML)"""
SHOTS = Path(__file__).resolve().parents[1] / "ui" / "screenshots"  # gitignored


async def new_page(browser: Browser, stack: Stack, keep: list[Page] | None = None,
                   viewport: dict[str, int] = WIDE) -> Page:  # fmt: skip
    context = await browser.new_context(base_url=stack.api, viewport=viewport)  # type: ignore[arg-type]
    page = await context.new_page()
    if keep is not None:
        keep.append(page)
    return page


async def signed_in(browser: Browser, stack: Stack, token: str, keep: list[Page] | None = None,
                    viewport: dict[str, int] = WIDE) -> Page:  # fmt: skip
    """A page in a fresh browser context, signed in through the form with `token`, on the Tasks screen."""
    page = await new_page(browser, stack, keep, viewport)
    await page.goto("/ui/signin")
    await page.get_by_label("API token").fill(token)
    await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_url("**/ui/tasks**")
    return page


def call_template(owner: str, *steps: dict[str, Any]) -> dict[str, Any]:
    """A one-branch template of the given steps (default: one call step with two outcomes)."""
    call = {"key": "call", "type": "call", "priority": "high", "instructions": "Ask about notice period",
            "script": "Hi {{first_name}}, this is {{user.name}} from the agency.",
            "conditions": [{"when": "Connected", "then": {"next": True}},
                           {"when": "Left voicemail", "then": {"next": True}}]}  # fmt: skip
    return {"name": f"UI {uuid.uuid4().hex[:6]}", "owner": owner,
            "branches": [{"key": "main", "steps": list(steps) or [call]}]}  # fmt: skip


async def start_sequence(owner: Api, uid: str, template: dict[str, Any], contacts: list[dict[str, Any]],
                         team: tuple[str, ...] = ()) -> str:  # fmt: skip
    """Store the template, make a rollup of `contacts` and activate it now for user `uid`; the sequence id."""
    tpl = await owner.ok("POST", "/templates", template)
    rollup = await owner.ok("POST", "/rollups", {"name": f"rollup {uuid.uuid4().hex[:6]}"})
    await owner.ok("POST", f"/rollups/{rollup['id']}/members", {"contacts": contacts})
    seq = await owner.ok("POST", "/sequences", {
        "name": f"Seq {uuid.uuid4().hex[:6]}", "template_id": tpl["id"], "rollup_id": rollup["id"],
        "begin": datetime.now(UTC).date().isoformat(), "timezone": "UTC", "primary_user": uid,
        "team_members": list(team), "rewrite_aliases": False})  # fmt: skip
    return str(seq["id"])


async def look(page: Page, name: str) -> None:
    """Check a screen at phone width: no sideways scrolling, every control labelled. With
    SEQFLOW_SCREENSHOTS=1 it also saves it at desktop and phone width (gitignored) for a person to look at."""
    shots = bool(os.environ.get("SEQFLOW_SCREENSHOTS"))
    if shots:
        SHOTS.mkdir(exist_ok=True)
        await page.screenshot(path=str(SHOTS / f"{name}-wide.png"), full_page=True)
    await page.set_viewport_size(PHONE)  # type: ignore[arg-type]
    if shots:
        await page.screenshot(path=str(SHOTS / f"{name}-phone.png"), full_page=True)
    assert await page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    assert await page.evaluate(UNLABELLED) == [], "controls without a label"
    await page.set_viewport_size(WIDE)  # type: ignore[arg-type]
