"""The sequence owner's screens (issue 9) in Chromium against the real services: build a two-branch template,
preview it (checked against `seqflow simulate`), activate with an alias rewrite, watch the overview, pause,
edit branches, resume, end, archive, compare and download the CSV; and what a user without
`sequences:activate` is refused. Set SEQFLOW_SCREENSHOTS=1 to refresh docs/screenshots/{preview,overview}.png.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from playwright.async_api import Browser, Locator, Page, expect
from support.api import Api, eventually, make_user
from support.ui import UI, signed_in, start_sequence

from seqflow.domain.activation import Activation
from seqflow.domain.template import Template
from seqflow.rules.preview import scenario_for
from seqflow.stack import Stack

pytestmark = UI
DOCS = Path(__file__).parents[2] / "docs" / "screenshots"
CONTACTS = [{"id": "own-1", "first_name": "Ada", "email": "ada@x.example"},
            {"id": "own-2", "first_name": "Bo", "email": "bo@x.example"},
            {"id": "own-3", "first_name": "Cy", "phone": "+15550003"}]  # fmt: skip
KIND = {"email_sent": "email", "sms_sent": "sms", "task_due": "task", "send_failed": "failed"}


def step(page: Page, n: int) -> Locator:
    return page.locator("#editor .step-edit").nth(n)


async def fill_condition(row: Locator, when: str, kind: str, target: str = "", within: str = "") -> None:
    await row.get_by_label("When").fill(when)
    await row.get_by_label("Within").fill(within)
    await row.get_by_label("Then").select_option(kind)
    await row.get_by_label("Step / branch / reason").fill(target)


async def build_two_branch_template(page: Page) -> str:
    """Through the editor: a validation error shown at its field and fixed in place; the template's id."""
    await page.goto("/ui/templates/new")
    await page.get_by_label("Template name").fill("Two branches")
    await page.get_by_label("Owner (user id)").fill("olga")
    intro = step(page, 0)
    await intro.get_by_label("From alias").fill("olga@agency.example")
    await intro.get_by_label("Email body").fill("Hello {{first_name}}")
    await page.get_by_role("button", name="Save", exact=True).click()
    subject = step(page, 0).get_by_label("Subject")
    await expect(subject).to_have_attribute("aria-invalid", "true")
    await expect(page.locator('[data-error-for="branches[0].steps[0].email.subject"]')).to_contain_text("blank")
    await subject.fill("Quick question")
    intro = step(page, 0)
    for _ in range(2):
        await intro.get_by_role("button", name="Add condition").click()
    await fill_condition(intro.locator(".cond-edit").nth(0), "replied", "goto_branch", "engaged")
    await fill_condition(intro.locator(".cond-edit").nth(1), "no_condition_met", "next", within="P2D")
    main = page.locator(".branch-edit").nth(0)
    for key in ("call", "spare"):
        await main.get_by_role("button", name="Add step").click()
        await main.locator(".step-edit").last.get_by_label("Key", exact=True).fill(key)
    await step(page, 2).get_by_role("button", name="Move step up").click()  # spare before call; then gone
    await expect(step(page, 1).get_by_label("Key", exact=True)).to_have_value("spare")
    await step(page, 1).get_by_role("button", name="Remove step").click()
    await expect(step(page, 1).get_by_label("Key", exact=True)).to_have_attribute("name", "branches[0].steps[1].key")
    await page.get_by_role("button", name="Add branch").click()
    engaged = page.locator(".branch-edit").nth(1)
    await engaged.get_by_label("Branch key").fill("engaged")
    await engaged.get_by_label("Key", exact=True).fill("book")
    await engaged.get_by_label("Type").select_option("task")
    await page.get_by_role("button", name="Save", exact=True).click()
    await expect(page.get_by_role("status")).to_have_text("Saved.")
    await expect(page.locator('g.goto[data-from="intro"][data-to="book"]')).to_have_count(1)
    return page.url.split("/ui/templates/")[1].split("?")[0]


def simulated_totals(template: dict[str, Any], form: dict[str, Any], tmp: Path) -> Counter[str]:
    """What `seqflow simulate` prints for the preview's input (activated now, 90 days ahead)."""
    act = Activation.model_validate({k: v for k, v in form.items() if k not in ("template_id", "rollup_id")})
    sc = scenario_for(Template.model_validate(template), act, CONTACTS, datetime.now(UTC))
    path = tmp / "scenario.json"
    path.write_text(sc.model_dump_json(exclude_none=True))
    out = subprocess.run([sys.executable, "-m", "seqflow", "simulate", str(path)], capture_output=True, text=True,
                         check=True, timeout=60)  # fmt: skip
    return Counter(KIND[a] for line in out.stdout.splitlines() if (a := json.loads(line)["action"]) in KIND)


async def chart_totals(page: Page) -> Counter[str]:
    segments = await page.locator("#preview rect.seg").evaluate_all(
        "els => els.map(e => [e.dataset.kind, Number(e.dataset.count)])")  # fmt: skip
    totals: Counter[str] = Counter()
    for kind, n in segments:
        totals[kind] += n
    return totals


async def test_an_owner_builds_previews_activates_and_runs_a_sequence_in_the_browser(
    ui_stack: Stack, admin: Api, browser: Browser, pages: list[Page], tmp_path: Path
) -> None:
    # The admin works the screens here: only an admin may give a template another owner (olga) and activate
    # it for a third user (alice), which is what makes the from-alias prompt appear.
    await make_user(admin, "alice")
    await make_user(admin, "olga")
    rollup = await admin.ok("POST", "/rollups", {"name": "Owner list"})
    await admin.ok("POST", f"/rollups/{rollup['id']}/members", {"contacts": CONTACTS})
    page = await signed_in(browser, ui_stack, admin.token, pages)
    tid = await build_two_branch_template(page)

    await page.get_by_role("link", name="Activate…").click()
    await page.get_by_label("Unique name").fill("Owner run")
    await page.get_by_label("Primary user").fill("alice")
    await page.get_by_label("Rollup list").select_option(rollup["id"])
    await page.get_by_label("Begin (date, or date and time)").fill(datetime.now(UTC).date().isoformat())
    await page.get_by_label("Email limit: sends").fill("1")
    await page.get_by_label("Email limit: per").fill("PT1H")
    await page.get_by_role("button", name="Preview").click()
    preview = page.locator("#preview")
    await expect(preview).to_be_visible()
    template = (await admin.ok("GET", f"/templates/{tid}"))["template"]
    form = {"name": "Owner run", "begin": datetime.now(UTC).date().isoformat(), "timezone": "UTC",
            "primary_user": "alice", "send_days": ["mon", "tue", "wed", "thu", "fri"],
            "rate_limits": {"email": {"count": 1, "per": "PT1H"}}}  # fmt: skip
    expected = simulated_totals(template, form, tmp_path)
    assert await chart_totals(page) == expected and expected["email"] == 2 and expected["failed"] == 1
    for kind in ("email", "task", "failed"):
        await expect(preview.locator(f'[data-total="{kind}"]')).to_have_text(str(expected[kind]))
    await expect(preview.locator('[data-blank="own-3"]')).to_contain_text("email")
    await expect(preview.locator('[data-held="email"]')).to_contain_text("1 email sends go later")
    if os.environ.get("SEQFLOW_SCREENSHOTS"):
        await preview.screenshot(path=str(DOCS / "preview.png"))

    await page.get_by_label("Email limit: sends").fill("")  # seen the hold-up: activate without the limit
    await page.get_by_label("Email limit: per").fill("")
    await page.get_by_label("Time zone").fill("Mars/Olympus")
    await page.get_by_role("button", name="Activate", exact=True).click()
    await expect(page.locator('[data-error-for="timezone"]')).to_contain_text("unknown IANA time zone")
    await page.get_by_label("Time zone").fill("UTC")
    await page.get_by_role("button", name="Activate", exact=True).click()
    await expect(page.get_by_role("alertdialog")).to_contain_text("intro")
    await page.get_by_role("button", name="Rewrite").click()
    await expect(page.get_by_role("status")).to_have_text("Activated.")
    seq = next(s for s in (await admin.ok("GET", "/sequences"))["sequences"] if s["name"] == "Owner run")
    assert seq["template"]["branches"][0]["steps"][0]["email"]["from_alias"] == "alice@agency.example"
    assert seq["primary_user"] == "alice"
    await watch_and_run(page, admin, seq["id"], rollup["id"])


async def watch_and_run(page: Page, admin: Api, sid: str, rid: str) -> None:
    row = page.locator(f'tr[data-sequence="{sid}"]')
    emails = row.locator('[data-figure="emails_sent"]')
    await expect(emails).to_have_text("2", timeout=30_000)
    await admin.ok("POST", f"/rollups/{rid}/members", {"contacts": [{"id": "own-4", "email": "dee@x.example"}]})
    await expect(emails).to_have_text("3", timeout=30_000)  # no reload: the page polls the figures
    if os.environ.get("SEQFLOW_SCREENSHOTS"):
        await page.screenshot(path=str(DOCS / "overview.png"))

    await row.get_by_role("switch", name="Pause Owner run").click()
    await expect(page.get_by_role("status")).to_have_text("Paused.")
    await row.locator("summary").click()
    await row.get_by_role("link", name="Edit Sequence").click()
    await page.get_by_label("Send window from").fill("18:00")
    await page.get_by_label("until").fill("09:00")
    await page.get_by_role("button", name="Save settings").click()
    await expect(page.locator('[data-error-for="send_window"]')).to_contain_text("must be before stop")
    await page.get_by_label("Send window from").fill("08:00")
    await page.get_by_label("until").fill("18:00")
    await page.get_by_role("button", name="Save settings").click()
    await expect(page.get_by_role("status")).to_have_text("Settings saved.")
    assert (await admin.ok("GET", f"/sequences/{sid}"))["activation"]["send_window"] == {"start": "08:00",
                                                                                          "stop": "18:00"}  # fmt: skip
    await row.locator("summary").click()
    await row.get_by_role("link", name="Edit Branches").click()
    await step(page, 1).get_by_label("Priority").select_option("high")
    await page.get_by_role("button", name="Save branches").click()
    await expect(page.get_by_role("status")).to_have_text("Branches saved.")
    assert (await admin.ok("GET", f"/sequences/{sid}"))["template"]["branches"][0]["steps"][1]["priority"] == "high"
    await row.get_by_role("switch", name="Resume Owner run").click()
    await expect(page.get_by_role("status")).to_have_text("Resumed.")

    await row.locator("summary").click()
    await row.get_by_role("link", name="End Sequence…").click()
    await expect(page.get_by_role("alertdialog")).to_contain_text("This cannot be undone")
    await page.get_by_role("button", name="End sequence").click()
    await expect(row.locator('[data-figure="state"]')).to_have_text("ended")
    await row.locator("summary").click()
    await row.get_by_role("button", name="Archive").click()
    await expect(page.get_by_role("status")).to_have_text("Archived.")
    await expect(row).to_have_count(0)
    await page.get_by_role("link", name="Show archived").click()
    await expect(row.locator('[data-figure="state"]')).to_have_text("archived")
    await row.locator("summary").click()
    await row.get_by_role("button", name="Use as Template").click()
    await expect(page.get_by_label("Template name")).to_have_value("Two branches (from Owner run)")
    await expect(step(page, 1).get_by_label("Priority")).to_have_value("high")  # the edited copy, not the original


async def test_two_sequences_compare_side_by_side_and_download_as_csv(
    ui_stack: Stack, admin: Api, browser: Browser, pages: list[Page], tmp_path: Path
) -> None:
    carl = await make_user(admin, "carl")
    mail = {"key": "hello", "type": "auto_email", "email": {"from_alias": "carl@agency.example", "subject": "Hi",
                                                            "body": "Hello"}}  # fmt: skip
    for name in ("first", "second"):
        tpl = {"name": name, "owner": "carl", "branches": [{"key": "main", "steps": [mail]}]}
        await start_sequence(carl, "carl", tpl, [{"id": f"cmp-{name}", "email": f"{name}@x.example"}])
    seqs = (await carl.ok("GET", "/sequences"))["sequences"]
    await eventually(lambda: carl.ok("GET", "/overview"), lambda d: all(s["emails_sent"] == 1 for s in d["sequences"]),
                     "both emails sent")  # fmt: skip
    page = await signed_in(browser, ui_stack, carl.token, pages)
    await page.goto("/ui/compare")
    for s in seqs:
        await page.get_by_label(s["name"]).check()
    await page.get_by_role("button", name="Compare").click()
    for s in seqs:
        await expect(page.locator(f'td[data-sequence="{s["id"]}"][data-key="emails_sent"]')).to_have_text("1")
    await expect(page.locator("svg.funnel")).to_have_count(2)
    await expect(page.locator("svg.bars")).to_have_count(2)
    async with page.expect_download() as info:
        await page.get_by_role("link", name="Download CSV").click()
    path = tmp_path / "compare.csv"
    await (await info.value).save_as(path)
    with path.open(newline="") as fh:
        table = list(csv.DictReader(fh))
    assert sorted((t["name"], t["emails_sent"]) for t in table) == sorted((s["name"], "1") for s in seqs)


async def test_a_user_without_activate_sees_no_activate_button_and_is_refused_if_they_post_anyway(
    ui_stack: Stack, admin: Api, browser: Browser, pages: list[Page]
) -> None:
    olive = await make_user(admin, "olive")
    tpl = await olive.ok("POST", "/templates", {"name": "Olive's", "owner": "olive", "branches": [
        {"key": "main", "steps": [{"key": "call", "type": "call"}]}]})  # fmt: skip
    tim = await make_user(admin, "tim", ("tasks:mine",))
    page = await signed_in(browser, ui_stack, tim.token, pages)
    await page.goto("/ui/templates")
    await expect(page.get_by_role("link", name="Activate")).to_have_count(0)
    csrf = await page.locator('input[name="csrf"]').first.input_value()
    refused = await page.request.post(f"/ui/templates/{tpl['id']}/activate", headers={"Origin": ui_stack.api},
                                      form={"csrf": csrf, "action": "activate", "name": "Tim's", "begin": "2026-12-01",
                                            "timezone": "UTC", "primary_user": "tim"})  # fmt: skip
    assert refused.status == 403
    assert not [s for s in (await admin.ok("GET", "/sequences"))["sequences"] if s["name"] == "Tim's"]


async def test_a_rollup_list_is_filled_by_hand_and_by_csv_and_a_member_is_removed_as_its_button_says(
    ui_stack: Stack, admin: Api, browser: Browser, pages: list[Page]
) -> None:
    rita = await make_user(admin, "rita")
    page = await signed_in(browser, ui_stack, rita.token, pages)
    await page.goto("/ui/rollups")
    await page.get_by_label("New list").fill("Rita's list")
    await page.get_by_role("button", name="Create list").click()
    await expect(page.locator(".notice")).to_have_text("Rollup list created.")
    rid = page.url.split("/ui/rollups/")[1].split("?")[0]
    await page.get_by_label("Id", exact=True).fill("rl-1")
    await page.get_by_label("Email").fill("one@x.example")
    await page.get_by_role("button", name="Add to list").click()
    await expect(page.locator('tr[data-contact="rl-1"]')).to_contain_text("one@x.example")

    csv_text = b"id,first_name,email,team\nrl-2,Two,two@x.example,red\n,Nobody,no@x.example,blue\nrl-3,Three,,red\n"
    await page.locator("#csv-import input[type=file]").set_input_files(
        files=[{"name": "people.csv", "mimeType": "text/csv", "buffer": csv_text}])  # fmt: skip
    await page.get_by_role("button", name="Import").click()
    await expect(page.locator("#import-status")).to_have_text("3 of 3 rows read, 2 contacts added. Done.")
    assert await page.locator("#import-progress").evaluate("p => [p.value, p.max]") == [3, 3]
    await expect(page.get_by_role("list", name="Rows not imported")).to_have_text("Row 2 (id): Field required")

    tpl = await rita.ok("POST", "/templates", {"name": "Rita's", "owner": "rita", "branches": [
        {"key": "main", "steps": [{"key": "call", "type": "call"}]}]})  # fmt: skip
    await rita.ok("POST", "/sequences", {"name": "Rita run", "template_id": tpl["id"], "rollup_id": rid,
                                         "begin": datetime.now(UTC).date().isoformat(), "timezone": "UTC",
                                         "primary_user": "rita"})  # fmt: skip
    def all_on_call(d: Any) -> bool:
        return sum(m["step"] == "call" for m in d["members"]) == 3

    members = await eventually(lambda: rita.ok("GET", f"/rollups/{rid}/members"), all_on_call, "3 members on call")
    assert {m["contact_id"] for m in members["members"]} == {"rl-1", "rl-2", "rl-3"}
    await page.reload()
    row = page.locator('tr[data-contact="rl-2"]')
    await expect(row).to_contain_text("Rita run")
    await row.get_by_role("button", name="Remove — pauses its enrollment in Rita run").click()
    await expect(page.locator(".notice")).to_have_text("Member removed.")
    await expect(row.locator(".badge")).to_have_text("removed")
