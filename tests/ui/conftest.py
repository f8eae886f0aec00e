"""Browser-test fixtures: the real services, Debian's Chromium driven by Playwright, signed-in pages.

One stack per test module (`ui_stack`, system clock), one browser per module (`browser`), a fresh browser
context per signed-in page. A failing test leaves a screenshot in `tests/ui/screenshots/` (gitignored).
Helpers (sign-in, sequences to work on) are in `support/ui.py`.

    pytestmark = UI  # from support.ui

    async def test_x(ui_stack: Stack, admin: Api, browser: Browser, pages: list[Page]) -> None:
        alice = await make_user(admin, "alice")
        page = await signed_in(browser, ui_stack, alice.token, pages)
"""

from __future__ import annotations

import asyncio
import os
import re
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from playwright.async_api import Browser, Page, async_playwright, expect
from support.api import Api
from support.ui import SHOTS

from seqflow.stack import Stack

CHROMIUM = os.environ.get("SEQFLOW_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]  # fmt: skip
expect.set_options(timeout=15_000)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """Remember each phase's report on the test item, so fixtures can tell whether the test failed."""
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


@pytest.fixture(scope="module")
def ui_stack(tmp_path_factory: pytest.TempPathFactory, pg_dsn: str) -> Iterator[Stack]:
    """The four services, broker and SMTP/SMS stubs for one test module; schemas dropped after."""
    work = tmp_path_factory.mktemp("ui-stack")
    stack = Stack(work, database_url=pg_dsn, schema_prefix=f"u{uuid.uuid4().hex[:8]}_", tick_seconds=0.1,
                  drop_schemas_on_close=True)  # fmt: skip
    try:
        stack.start()
        asyncio.run(stack.wait_ready())
        yield stack
    finally:
        stack.close()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def admin(ui_stack: Stack) -> AsyncIterator[Api]:
    async with aiohttp.ClientSession() as http:
        yield Api(http, ui_stack.api)


@pytest.fixture(scope="session")
def chromium_path() -> str:
    """Debian's Chromium; its absence fails the UI tests with the fix instead of skipping them."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium is missing at {CHROMIUM}: the browser tests need it. Install it with "
                    "`sudo apt-get install -y chromium` (or set SEQFLOW_CHROMIUM to its path).")  # fmt: skip
    return CHROMIUM


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def browser(chromium_path: str) -> AsyncIterator[Browser]:
    async with async_playwright() as pw:
        chromium = await pw.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        yield chromium
        await chromium.close()


@pytest_asyncio.fixture(loop_scope="module")
async def pages(request: pytest.FixtureRequest, browser: Browser) -> AsyncIterator[list[Page]]:
    """Pages a test opens (via `signed_in(..., keep=pages)`); screenshotted if the test fails, then closed."""
    opened: list[Page] = []
    yield opened
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        SHOTS.mkdir(exist_ok=True)
        for i, page in enumerate(opened):
            name = re.sub(r"[^A-Za-z0-9_.-]", "_", request.node.name)
            await page.screenshot(path=str(SHOTS / f"{name}-{i}.png"), full_page=True)
    for page in opened:
        await page.context.close()
