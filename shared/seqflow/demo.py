"""`seqflow demo`: the whole system on this machine, one sequence of 200 contacts, end to end.

Starts the embedded stack (broker, PostgreSQL, SMTP and SMS stubs, the four services as separate
processes), then — only through the HTTP API — creates a user, a template (email → call → SMS), a
rollup of 200 contacts, activates a sequence, works the call tasks as a person would, shows progress
and prints the overview. Ctrl-C (or the end) stops everything.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp

from seqflow.settings import Settings
from seqflow.stack import Stack

CONTACTS = 200
USER = {"id": "alice", "name": "Alice Example", "email": "alice@agency.example",
        "permissions": ["sequences:activate", "tasks:mine"]}  # fmt: skip
TEMPLATE = {
    "name": "Demo outreach", "owner": "alice",
    "branches": [{"key": "main", "steps": [
        {"key": "intro", "type": "auto_email",
         "email": {"from_alias": "alice@agency.example", "subject": "Hi {{first_name}}",
                   "body": "Hello {{first_name}}, are you open to a chat? https://agency.example/jobs"}},
        {"key": "call", "type": "call", "priority": "high", "instructions": "Ask about notice period",
         "script": "Hi {{first_name}}, this is {{user.name}}",
         "conditions": [{"when": "Connected", "then": {"next": True}},
                        {"when": "Left voicemail", "then": {"next": True}}]},
        {"key": "bump", "type": "auto_sms", "sms": {"body": "Hi {{first_name}}, {{user.name}} here."}}]}],
}  # fmt: skip


class Api:
    def __init__(self, http: aiohttp.ClientSession, base: str, token: str) -> None:
        self.http, self.base, self.token = http, base, token

    async def call(self, method: str, path: str, body: Any = None, ok: tuple[int, ...] = (200, 201, 202)) -> Any:
        headers = {"Authorization": f"Bearer {self.token}"}
        async with self.http.request(method, self.base + path, json=body, headers=headers) as r:
            data = await r.json(content_type=None)
            if r.status not in ok:
                raise RuntimeError(f"{method} {path} → {r.status}: {data}")
            return data


def contacts() -> list[dict[str, Any]]:
    return [{"id": f"demo-{i:03d}", "first_name": f"Person{i}", "last_name": "Demo",
             "email": f"person{i}@candidates.example", "phone": f"+1555{i:07d}"} for i in range(CONTACTS)]  # fmt: skip


async def setup(admin: Api, alice: Api) -> str:
    alice.token = (await admin.call("POST", "/users", USER))["token"]  # server-generated, shown once
    template = await alice.call("POST", "/templates", TEMPLATE)
    rollup = await alice.call("POST", "/rollups", {"name": "Demo candidates"})
    await alice.call("POST", f"/rollups/{rollup['id']}/members", {"contacts": contacts()})
    today = datetime.now(UTC).date().isoformat()
    seq = await alice.call("POST", "/sequences", {
        "name": f"Demo {datetime.now(UTC):%Y-%m-%d %H:%M:%S}", "template_id": template["id"],
        "rollup_id": rollup["id"], "begin": today, "timezone": "UTC", "primary_user": "alice",
        "rate_limits": {"email": {"count": 100, "per": "PT15S"}, "sms": {"count": 100, "per": "PT15S"}}})  # fmt: skip
    return str(seq["id"])


async def work_tasks(alice: Api, sequence_id: str) -> int:
    """Mark every open call task, alternating the two outcomes; returns how many were marked."""
    listing = await alice.call("GET", f"/tasks?sequence={sequence_id}")
    marked = 0
    for task in listing.get("tasks", []):
        outcome = "Connected" if marked % 2 == 0 else "Left voicemail"
        await alice.call("POST", f"/tasks/{task['id']}/mark", {"outcome": outcome}, ok=(200, 409))
        marked += 1
    return marked


def overview_row(overview: Any, sequence_id: str) -> dict[str, Any]:
    rows = overview.get("sequences", overview) if isinstance(overview, dict) else overview
    return next((r for r in rows if str(r.get("id", r.get("sequence_id"))) == sequence_id), {})


async def drive(stack: Stack, limit: float = 240.0) -> dict[str, Any]:
    started = time.monotonic()
    async with aiohttp.ClientSession() as http:
        admin, alice = Api(http, stack.api, Settings.from_env().admin_token), Api(http, stack.api, "")
        sequence_id = await setup(admin, alice)
        row: dict[str, Any] = {}
        shown = ""
        while time.monotonic() - started < limit:
            await work_tasks(alice, sequence_id)
            row = overview_row(await alice.call("GET", "/overview"), sequence_id)
            line = progress(row)
            if line != shown:
                print(f"\r{line}", end="" if sys.stderr.isatty() else "\n", file=sys.stderr, flush=True)
                shown = line
            if row.get("completed", 0) >= CONTACTS and row.get("sms_sent", 0) >= CONTACTS:
                break
            await asyncio.sleep(0.5)
        print(file=sys.stderr)
        return row


def progress(row: dict[str, Any]) -> str:
    done = row.get("completed", 0)
    bar = "#" * (30 * done // CONTACTS)
    return (f"[{bar:<30}] completed {done}/{CONTACTS}  emails {row.get('emails_sent', 0)}  "
            f"sms {row.get('sms_sent', 0)}  tasks to do {row.get('tasks_todo', 0)}")  # fmt: skip


def report(row: dict[str, Any], elapsed: float) -> str:
    keys = ["state", "active", "completed", "exited", "tasks_todo", "tasks_completed", "emails_sent", "sms_sent",
            "open_pct", "click_pct", "reply_pct", "bounce_pct"]  # fmt: skip
    lines = [f"Overview of {row.get('name', 'the demo sequence')} after {elapsed:.0f}s:"]
    lines += [f"  {k:<16} {row.get(k)}" for k in keys if k in row]
    return "\n".join(lines)


def main(settings: Settings) -> int:
    workdir = Path(tempfile.mkdtemp(prefix="seqflow-demo-"))
    started = time.monotonic()
    stack = Stack(
        workdir,
        database_url=settings.database_url,
        schema_prefix=f"demo{int(time.time())}_",
        drop_schemas_on_close=True,
    )
    try:
        print(f"starting the stack (logs in {workdir}/logs) ...", file=sys.stderr)
        stack.start()
        asyncio.run(stack.wait_ready())
        print(f"API at {stack.api}; running the demo sequence ...", file=sys.stderr)
        row = asyncio.run(drive(stack))
        print(report(row, time.monotonic() - started))
        print(f"mail received by the local SMTP server: {len(stack.sent_mail())}")
        return 0 if row.get("completed", 0) >= CONTACTS else 1
    except KeyboardInterrupt:
        print("\ninterrupted; stopping ...", file=sys.stderr)
        return 130
    finally:
        stack.close()
