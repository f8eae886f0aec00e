"""tasks and rollup-sync SIGKILLed while work is in flight lose and double nothing after a restart."""

from __future__ import annotations

from typing import Any

import aiohttp
from support.api import Api, eventually, make_user
from support.observe import ledger, watching

from seqflow.stack import Stack

N = 40
TEMPLATE: dict[str, Any] = {
    "name": "Restart", "owner": "alice", "branches": [{"key": "main", "steps": [
        {"key": "intro", "type": "auto_email",
         "email": {"from_alias": "alice@agency.example", "subject": "Hi {{first_name}}", "body": "Hello"}}]}],
}  # fmt: skip
ACTIVATION: dict[str, Any] = {"name": "Restart Q4", "begin": "2026-12-01", "timezone": "America/New_York",
                              "primary_user": "alice"}  # fmt: skip
CONTACTS = [{"id": f"c{i:02d}", "first_name": f"N{i:02d}", "email": f"n{i:02d}@x.example"} for i in range(N)]


async def overview(http: aiohttp.ClientSession, stack: Stack) -> dict[str, Any]:
    status, body = await Api(http, stack.api).request("GET", "/overview")
    return body["sequences"][0] if status == 200 and body["sequences"] else {}


async def test_rollup_sync_and_tasks_killed_mid_work_apply_and_count_everything_once_after_restart(
    stack: Stack,
) -> None:
    """One stack for both kills (a stack start costs most of this test): rollup-sync while it applies the
    members, then tasks while the sends report."""
    prefix = stack.schema_prefix
    async with watching(stack) as (http, conn, _sends):
        alice = await make_user(Api(http, stack.api), "alice")
        template = await alice.ok("POST", "/templates", TEMPLATE)
        rollup = await alice.ok("POST", "/rollups", {"name": "Restart people"})
        await alice.ok("POST", f"/rollups/{rollup['id']}/members", {"contacts": CONTACTS})
        stack.kill("rollup-sync")  # most likely mid-batch: some commands applied, their events maybe not acked
        stack.restart("rollup-sync")
        await stack.wait_ready()

        members = f"SELECT count(*) FROM {prefix}rollup_sync.members WHERE rollup_id = $1"
        await eventually(lambda: conn.fetchval(members, rollup["id"]), lambda n: n == N, "every member applied")
        copy = f"SELECT contact_id FROM {prefix}scheduler.members WHERE present"
        rows = await eventually(lambda: conn.fetch(copy), lambda rows: len(rows) >= N, "every member announced")
        assert sorted(r["contact_id"] for r in rows) == [c["id"] for c in CONTACTS]

        await alice.ok("POST", "/sequences", {**ACTIVATION, "template_id": template["id"], "rollup_id": rollup["id"]})
        await eventually(lambda: ledger(conn, prefix), lambda rows: len(rows) > 0, "the first sends")
        stack.kill("tasks")  # results and enrollment changes keep coming while it is down
        await eventually(lambda: ledger(conn, prefix),
                         lambda rows: len(rows) == N and all(r["status"] == "sent" for r in rows), "every send made")
        stack.restart("tasks")
        await stack.wait_ready()

        want = {"emails_sent": N, "completed": N, "active": 0}
        await eventually(lambda: overview(http, stack), lambda o: {k: o.get(k) for k in want} == want,
                         "the overview counts each send and completion once", 30)  # fmt: skip
        assert len(stack.sent_mail()) == N
